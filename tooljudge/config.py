"""One config mechanism: dataclasses whose fields carry their help and choices, one did-you-mean check for
unknown keys, and command lines generated from the same dataclasses.

Why one: recipes (YAML sections), the rounds recipe and every CLI used to check keys and hold defaults each on
its own, and CLI defaults drifted from the dataclasses they fill. Here a field is declared once, with
``setting(default, "help", choices=...)``; a CLI option is the same field (``like(Config, "name")`` copies the
default, help and choices of another dataclass's field), so the two cannot disagree. The parser is transformers'
``HfArgumentParser`` (what TRL's scripts use); this module adds the did-you-mean on unknown flags and the
checks of YAML mappings. Bottom layer: imports nothing of tooljudge.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

MISSING = dataclasses.MISSING


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the key (and the closest known one)."""


def setting(default: Any = MISSING, help: str = "", *, choices: Iterable[Any] | None = None,
            default_factory: Any = MISSING, aliases: list[str] | None = None, metavar: str | None = None) -> Any:
    """A dataclass field with its help (and allowed values): what ``--help`` shows and what YAML is checked
    against. ``aliases`` are extra CLI spellings (``["--from"]``)."""
    metadata: dict[str, Any] = {"help": help}
    if metavar:
        metadata["metavar"] = metavar
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if aliases:
        metadata["aliases"] = list(aliases)
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def like(cls: type, name: str, *, help: str | None = None, aliases: list[str] | None = None) -> Any:
    """A field with the default, help and choices of ``cls.name``: a CLI option that fills that config can
    never show another default."""
    source = {f.name: f for f in dataclasses.fields(cls)}[name]
    metadata = dict(source.metadata)
    if help is not None:
        metadata["help"] = help
    if aliases:
        metadata["aliases"] = list(aliases)
    if source.default_factory is not MISSING:
        return dataclasses.field(default_factory=source.default_factory, metadata=metadata)
    return dataclasses.field(default=source.default, metadata=metadata)


def param(func: Any, name: str, help: str, **kw: Any) -> Any:
    """A field whose default is the default of ``func``'s parameter ``name``: a CLI option that fills a
    function's argument can never show another default."""
    import inspect

    return setting(inspect.signature(func).parameters[name].default, help, **kw)


def help_of(cls: type, name: str) -> str:
    return {f.name: f for f in dataclasses.fields(cls)}[name].metadata.get("help", "")


# ------------------------------------------------------------------------------------------ unknown keys


def unknown_key(key: str, section: str, known: Iterable[str]) -> ConfigError:
    """The one did-you-mean: ``unknown key 'lora.rnak' in lora (did you mean 'r'?)``."""
    known = sorted({str(k) for k in known})
    leaf = key.split(".")[-1]
    if not any(k.startswith("-") for k in known):  # recipe keys; CLI flags are compared with their dashes
        leaf = leaf.lstrip("-")
    hint = did_you_mean(leaf, known) or f" (known: {', '.join(known)})"
    return ConfigError(f"unknown key {key!r} in {section}{hint}")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or ``""``: the one suggestion rule for unknown
    config keys, CLI flags and registry names."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(raw: Mapping[str, Any], known: Iterable[str], section: str, prefix: str = "") -> None:
    """Raise ``unknown_key`` for the first key of ``raw`` not in ``known`` (named ``prefix + key``)."""
    known = list(known)
    for key in raw:
        if key not in known:
            raise unknown_key(f"{prefix}{key}", section, known)


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


# ------------------------------------------------------------------------------------------ mappings -> dataclasses

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _accepts(tp: Any, value: Any) -> bool:
    """Whether ``value`` (from YAML) fits the annotation ``tp``; containers are checked one level deep."""
    if tp is Any or tp is object:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_accepts(arg, value) for arg in typing.get_args(tp))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return isinstance(value, list | tuple) and (not args or all(_accepts(args[0], v) for v in value))
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _type_name(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("NoneType", "None") if not isinstance(tp, type) else tp.__name__


def coerce_number(value: Any, tp: Any) -> Any:
    """PyYAML reads ``1e-5`` as a string (YAML 1.1): a numeric string becomes a number unless the field takes
    strings."""
    if isinstance(value, str) and _NUMBER.match(value) and not _accepts(tp, value):
        number = float(value)
        return int(number) if number.is_integer() and _accepts(tp, int(number)) and not _accepts(tp, 0.5) else number
    return value


def check_value(cls: type, name: str, value: Any, where: str) -> Any:
    """``value`` for ``cls.name``, coerced from a numeric string if needed; a wrong type or a value outside
    the field's choices raises ``ConfigError`` naming ``where`` (e.g. ``lora.r``)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    tp = typing.get_type_hints(cls)[name]
    value = coerce_number(value, tp)
    if not _accepts(tp, value):
        raise ConfigError(f"{where}: {value!r} is a {type(value).__name__}, expected {_type_name(tp)}")
    choices = f.metadata.get("choices")
    if choices is not None and value is not None and value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {'|'.join(str(c) for c in choices)}")
    return value


def from_mapping(cls: type, raw: Any, section: str, *, build: Mapping[str, Any] | None = None) -> Any:
    """``cls`` from a YAML mapping: every key known (did-you-mean otherwise), every value of its field's type
    and choices. ``build`` maps a field name to a function ``(value, where) -> value`` for fields that hold
    nested structures (e.g. lists of sources)."""
    if raw is None:
        return cls()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{section} must be a mapping, got {type(raw).__name__}")
    check_keys(raw, field_names(cls), section, prefix=f"{section}.")
    build = build or {}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        where = f"{section}.{key}"
        if key in build:
            kwargs[key] = build[key](value, where)
        elif dataclasses.is_dataclass(hints[key]):
            kwargs[key] = from_mapping(hints[key], value, where)
        else:
            kwargs[key] = check_value(cls, key, value, where)
    return cls(**kwargs)


def describe(cls: type, prefix: str = "", width: int = 110) -> str:
    """One line per field: ``--prefix.name  help (default: ...; one of ...)``, nested dataclass sections
    flattened; for usage texts of CLIs that take dotted overrides rather than generated options. A field
    without help (e.g. ``source_path``, set by the loader) is not a setting and is left out."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            lines.append(describe(hints[f.name], f"{prefix}{f.name}.", width))
            continue
        if not f.init or "help" not in f.metadata:
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        extra = [] if default is MISSING else [f"default: {default!r}"]
        if f.metadata.get("choices"):
            extra.append("one of " + "|".join(map(str, f.metadata["choices"])))
        text = f.metadata.get("help", "") + (f" ({'; '.join(extra)})" if extra else "")
        lines.append(f"  --{prefix}{f.name}".ljust(34) + " " + text.strip())
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ command lines


def _hf_parser_class() -> type:
    from transformers import HfArgumentParser  # imported when a CLI starts, not when a config is read

    class Parser(HfArgumentParser):
        """``HfArgumentParser`` whose unknown flags get the one did-you-mean."""

        def parse_args(self, args=None, namespace=None):
            args = sys.argv[1:] if args is None else list(args)
            known = [o for o in self._option_string_actions if o.startswith("--")]
            for token in args:  # before argparse, whose "required" error would hide the typo
                flag = token.split("=", 1)[0]
                if flag.startswith("--") and flag != "--" and not any(o.startswith(flag) for o in known):
                    self.error(str(unknown_key(flag, f"the options of {self.prog}", known)))
            ns, extras = self.parse_known_args(args, namespace)
            if extras:
                self.error(f"unrecognized arguments: {' '.join(extras)}")
            return ns

    return Parser


class _RawFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, each option's default after its help (unless required or None)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default in (None, [], argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action)


def cli_parser(*classes: type, description: str | None = None, prog: str | None = None,
               raw_description: bool = True) -> argparse.ArgumentParser:
    """An argument parser whose options are the fields of ``classes`` (with their help, choices and
    defaults; ``--name`` and ``--name-with-dashes`` both work). Add positionals to it as to any parser."""
    kw: dict[str, Any] = {"description": description, "prog": prog}
    kw["formatter_class"] = _RawFormatter if raw_description else argparse.ArgumentDefaultsHelpFormatter
    return _hf_parser_class()(list(classes), **kw)


def parse_cli(parser: argparse.ArgumentParser, cls: type, argv: list[str] | None = None) -> tuple[Any, argparse.Namespace]:
    """Parse ``argv``; return (``cls`` filled from the options, the whole namespace for positionals)."""
    ns = parser.parse_args(argv)
    return pick(cls, ns), ns


def pick(cls: type, source: Any, names: Iterable[str] | None = None, **values: Any) -> Any:
    """``cls`` from the same-named attributes of ``source`` (a namespace or another dataclass; only ``names``
    when given) plus ``values``."""
    names = field_names(cls) if names is None else list(names)
    kwargs = {name: getattr(source, name) for name in names if hasattr(source, name)}
    kwargs.update(values)
    return cls(**kwargs)


def parse_with_recipe(cls: type, argv: list[str] | None = None, description: str | None = None) -> Any:
    """``cls`` from ``--recipe FILE.yaml`` (its keys checked against the fields, did-you-mean on a typo) and the
    flags given, the flags winning. Why one helper: the benchmark CLIs that take a recipe all read it this way."""
    from pathlib import Path

    import yaml

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = cli_parser(cls, description=description)
    parser.add_argument("--recipe", default=None, help=f"YAML file of {cls.__name__} fields (flags win)")
    first, _ = parser.parse_known_args(argv)
    preset = argparse.Namespace()
    if first.recipe:
        raw = yaml.safe_load(Path(first.recipe).read_text(encoding="utf-8")) or {}
        check_keys(raw, field_names(cls), first.recipe)
        preset = argparse.Namespace(**raw)  # argparse fills only the attributes a namespace lacks
    return pick(cls, parser.parse_args(argv, namespace=preset))

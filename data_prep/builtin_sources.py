"""Built-in recipe sources (``source: builtin:NAME``) as records in ``BUILTIN_SOURCE_REGISTRY``.

Why records: a recipe names a built-in source and passes it options; the options a source accepts are the
fields of its config dataclasses, and the same set is what ``data_mix`` builds with and what the preflight
checks a recipe against. A record holds both, so a new built-in source is one ``register_builtin_source`` call.
Config classes are returned by a function because the synthesis modules are slow to import (0.8 s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tooljudge.registry import Registry

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class BuiltinSource:
    """``configs()``: the option dataclasses (options are their fields, each option goes to the config that has
    it); ``build(*configs)``: (canonical conversations, report) from one instance of each."""

    name: str
    configs: Callable[[], tuple[type, ...]]
    build: Callable[..., tuple[list[dict], Any]]
    doc: str = ""


BUILTIN_SOURCE_REGISTRY: Registry[BuiltinSource] = Registry("built-in source")


def register_builtin_source(source: BuiltinSource, replace: bool = False) -> BuiltinSource:
    return BUILTIN_SOURCE_REGISTRY.register(source, replace=replace)


def option_keys(name: str) -> set[str]:
    """Option keys ``builtin:NAME`` accepts: the fields of its config dataclasses."""
    return {f.name for cls in BUILTIN_SOURCE_REGISTRY.get(name).configs() for f in dataclasses.fields(cls)}


def build_rows(name: str, options: dict[str, Any]) -> tuple[list[dict], Any]:
    """Conversations of ``builtin:NAME`` with ``options`` split over its configs (unknown keys are the caller's
    check: ``option_keys``)."""
    source = BUILTIN_SOURCE_REGISTRY.get(name)
    configs = []
    for cls in source.configs():
        keys = {f.name for f in dataclasses.fields(cls)}
        configs.append(cls(**{k: v for k, v in options.items() if k in keys}))
    return source.build(*configs)


def _synthetic_configs() -> tuple[type, ...]:
    from tooljudge.data_prep.synthetic import SynthConfig

    return (SynthConfig,)


def _synthetic(synth) -> tuple[list[dict], Any]:
    from tooljudge.data_prep.synthetic import synthesize

    return synthesize(synth)


def _world_configs() -> tuple[type, ...]:
    from tooljudge.data_prep.synthetic import SynthConfig
    from tooljudge.data_prep.tool_world_rows import WorldConfig

    return (SynthConfig, WorldConfig)


def _world(synth, world) -> tuple[list[dict], Any]:
    from tooljudge.data_prep.tool_world_rows import synthesize_world

    return synthesize_world(synth, world)


register_builtin_source(BuiltinSource(
    "synthetic", _synthetic_configs, _synthetic,
    "executed synthetic tool-use conversations over the 31 built-in tools (SynthConfig: n, seed, mix, ...)"))
register_builtin_source(BuiltinSource(
    "tool_world", _world_configs, _world,
    "the same categories over the generated tools and simulated world, train side of the tool split "
    "(SynthConfig + WorldConfig: tool_seed, mask_fraction, ...)"))

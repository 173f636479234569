"""Recipes: one YAML file = one run, plus ``--key value`` overrides from the command line.

Why a schema of our own around TRL's configs: a recipe also names the model, the data mixture, the mask policy,
LoRA/QLoRA and the eval hook, which TRL's ``SFTConfig``/``DPOConfig`` do not hold. Every key is checked: a typo
in a YAML file or on the command line is an error that names the key (and the closest known one), never a
silently ignored setting. The ``training`` section is passed through to TRL's config class, checked against its
dataclass fields, so new TRL fields work without edits here.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tooljudge.config import ConfigError, check_value, describe, from_mapping, setting, unknown_key

KINDS = ("sft", "dpo")


class RecipeError(ConfigError):
    """A recipe or an override that cannot be used; the message names the key."""


@dataclass
class ModelSection:
    """Which weights to start from and how to load them."""

    name_or_path: str = setting("", "model folder or hub id to start from")
    dtype: str = setting("auto", "weights dtype", choices=("auto", "float32", "bfloat16", "float16"))
    attn_implementation: str | None = setting(None, "sdpa | eager | flash_attention_2 | ... (None: transformers' "
                                              "choice)")
    trust_remote_code: bool = setting(False, "run the model repository's own code")
    revision: str | None = setting(None, "hub revision")
    chat_template: str | None = setting(
        None, "the chat template to train with: None keeps the tokenizer's own; 'trl:<name>' is TRL's "
        "trl/chat_templates/<name>.jinja; anything else is a path to a .jinja file. It is saved byte-identical.")
    init_from: str | None = setting(None, "DPO: start from this SFT output (a PEFT adapter folder or a full "
                                    "model folder)")
    init_adapter_mode: str = setting(
        "continue", "for an adapter in init_from: 'continue' trains that adapter further (TRL keeps a frozen copy "
        "of it as the reference); 'merge' merges it into the base first (checked by logits), then applies `lora` "
        "anew", choices=("continue", "merge"))


@dataclass
class DataSource:
    """One entry of the data mixture.

    ``weight`` multiplies the source's row count: 1.0 uses every row once, 0.5 a seeded half, 2.0 every row
    twice. ``source`` is a path (JSONL / Parquet / a saved ``datasets`` folder), ``builtin:synthetic`` (the 31
    built-in tools) or ``builtin:tool_world`` (the generated tools, train side of their split).
    """

    source: str = setting("", "a path (JSONL / Parquet / a saved datasets folder) or builtin:<name>")
    format: str = setting("auto", "auto | openai | sharegpt | glaive | xlam | hermes (SFT); preference (DPO)")
    weight: float = setting(1.0, "multiplies the source's row count (0.5: a seeded half; 2.0: every row twice)")
    options: dict[str, Any] = setting(default_factory=dict, help="passed to a built-in generator")
    optional: bool = setting(False, "a file that may be absent: the run trains without it and says so at start "
                             "(e.g. your own data next to builtin:synthetic). A present file must still parse.")


@dataclass
class DataSection:
    """The mixture and the mask/truncation policy of data_prep."""

    family: str = setting("auto", "chat-template family (auto: from the tokenizer)")
    sources: list[DataSource] = setting(default_factory=list, help="the training mixture")
    eval_sources: list[DataSource] = setting(default_factory=list, help="held-out rows for TRL's eval loss")
    max_length: int | None = setting(None, "longest prepared row; None takes training.max_length")
    truncation: str = setting(
        "drop_turns", "longer rows: drop_turns drops the earliest exchanges (system prompt and tool schemas are "
        "never cut), drop_row refuses the row (then counted under on_bad_row)", choices=("drop_turns", "drop_row"))
    boundary: str = setting("error", "a trained span not on a token boundary: error refuses the row, split "
                            "tokenises the pieces apart", choices=("error", "split"))
    special_text: str = setting(
        "text", "SFT rows: control-token text inside content (a user writing <|eot_id|>): text encodes it as plain "
        "text as the vendors' encoders do (counted); reject drops the row (reason special_text)",
        choices=("text", "reject"))
    parallel_calls: str = setting(
        "split", "SFT rows, families that cannot write several calls in one turn: split gives each call its own "
        "turn and result (counted); reject drops the row (parallel_calls_unsupported)", choices=("split", "reject"))
    reference_quirks: str = setting(
        "follow", "SFT rows the vendor's reference renders in a way our mask definition alone would refuse (docs/"
        "data_prep.md): follow matches the reference (counted); reject drops the row with its reason",
        choices=("follow", "reject"))
    on_bad_row: str = setting("skip", "skip: drop rows data_prep rejects (counted by reason and reported); error: "
                              "stop at the first one", choices=("skip", "error"))
    rejected_span: str = setting(
        "full", "DPO only: how much of each rejected answer the loss sees. full: all of it. to_first_difference: "
        "its tokens up to and including the first one that differs from the chosen answer (the wrong decision), "
        "so the loss does not also push down what follows it (docs/train.md)")
    chosen_span: str = setting(
        "full", "DPO only: how much of each chosen answer the loss sees. full: all of it. to_first_difference: "
        "its tokens up to and including the first one that differs from the rejected answer, so the margin (and "
        "the NLL term of loss_type sft) rests on the decision where the answers part, not on the rest of the "
        "chosen answer (docs/train.md)")
    shared_prefix: str = setting(
        "answer", "DPO only: where the tokens both answers of a pair begin with go (after any cut). answer: in both "
        "answers. prompt: moved into the prompt, so the NLL term of loss_type sft no longer trains them (for pairs "
        "where both answers call, the call itself); the sigmoid margin is the same either way (docs/train.md)",
        choices=("answer", "prompt"))
    prompt_once: bool = setting(
        False, "DPO only: run each pair's prompt through the model once, both answers attending to it in one packed "
        "row with a block mask, instead of once per answer as TRL does: the same log-probs up to float rounding, "
        "about half the compute where prompts are long next to answers (sdpa or eager attention; docs/train.md)")
    seed: int = setting(0, "seed of the mixture's sampling and shuffling")


@dataclass
class LoraSection:
    """peft LoRA; ``quantization: 4bit`` makes it QLoRA (bitsandbytes, GPU only)."""

    enabled: bool = setting(False, "train a LoRA adapter instead of every weight")
    r: int = setting(16, "LoRA rank")
    alpha: int = setting(32, "LoRA alpha (scale = alpha / r)")
    dropout: float = setting(0.05, "LoRA dropout")
    target_modules: list[str] | str = setting("all-linear", "modules that get adapters (peft's names)")
    modules_to_save: list[str] | None = setting(None, "modules trained in full and saved with the adapter")
    quantization: str | None = setting(None, "None | 4bit | 8bit (QLoRA; bitsandbytes, GPU only)",
                                       choices=("4bit", "8bit"))
    bnb_4bit_quant_type: str = setting("nf4", "bitsandbytes 4-bit type")
    bnb_4bit_compute_dtype: str = setting("bfloat16", "bitsandbytes compute dtype")
    bnb_4bit_use_double_quant: bool = setting(True, "bitsandbytes nested quantisation")


@dataclass
class EvalSection:
    """The eval hook (``tooljudge.eval.hook.EvalHookCallback``): which eval sets, how often."""

    enabled: bool = setting(False, "evaluate while training")
    sets: list[str] = setting(default_factory=list, help="eval sets (tooljudge.eval.hook.EvalHookConfig.sets)")
    every_n_steps: int | None = setting(None, "evaluate every N steps (None: only at the end of training)")
    at_end: bool = setting(True, "evaluate when training ends")
    max_examples: int | None = setting(None, "cap per eval set")
    max_new_tokens: int = setting(256, "new tokens per answer")
    options: dict[str, Any] = setting(default_factory=dict, help="other EvalHookConfig fields")


@dataclass
class RecipeConfig:
    """A whole run. ``training`` holds TRL ``SFTConfig``/``DPOConfig`` fields (checked against the class)."""

    kind: str = "sft"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    training: dict[str, Any] = field(default_factory=dict)
    lora: LoraSection = field(default_factory=LoraSection)
    eval: EvalSection = field(default_factory=EvalSection)
    callbacks: list[str] = field(default_factory=list)  # extra TrainerCallbacks as "module:Class"
    source_path: str | None = None  # the recipe file (set by load_recipe, not by the user)

    @property
    def output_dir(self) -> Path:
        return Path(self.training["output_dir"])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS: dict[str, type] = {
    "model": ModelSection,
    "data": DataSection,
    "lora": LoraSection,
    "eval": EvalSection,
}
TOP_LEVEL = ("kind", "model", "data", "training", "lora", "eval", "callbacks")


def trl_config_class(kind: str):
    """TRL's config dataclass for ``kind`` (imported lazily: TRL is slow to import)."""
    if kind == "sft":
        from trl import SFTConfig

        return SFTConfig
    if kind == "dpo":
        from trl import DPOConfig

        return DPOConfig
    raise RecipeError(f"kind: {kind!r} is not one of {KINDS}")


def _unknown(key: str, where: str, known: list[str]) -> RecipeError:
    return RecipeError(str(unknown_key(key, where, known)))


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce_number(value: Any, type_text: str) -> Any:
    """PyYAML reads ``1e-5`` as a string (YAML 1.1); turn numeric strings into numbers unless the field is a
    plain string field."""
    if isinstance(value, str) and _NUMBER.match(value) and not type_text.strip().startswith("str"):
        number = float(value)
        return int(number) if number.is_integer() and "int" in type_text and "float" not in type_text else number
    return value


def _type_text(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _build_section(cls: type, raw: Any, where: str) -> Any:
    """A section from YAML through ``tooljudge.config.from_mapping``: keys known, values of their type."""
    build = {"sources": _build_sources, "eval_sources": _build_sources} if cls is DataSection else None
    try:
        return from_mapping(cls, raw, where, build=build)
    except RecipeError:
        raise
    except ConfigError as err:
        raise RecipeError(str(err)) from None


def _build_sources(raw: Any, where: str) -> list[DataSource]:
    if raw is not None and not isinstance(raw, list):
        raise RecipeError(f"{where} must be a list of sources, got {type(raw).__name__}")
    return [_build_source(item, f"{where}[{i}]") for i, item in enumerate(raw or [])]


def _build_source(raw: Any, where: str) -> DataSource:
    if isinstance(raw, str):
        raw = {"source": raw}
    source = _build_section(DataSource, raw, where)
    if not source.source:
        raise RecipeError(f"{where}.source is required")
    if not (isinstance(source.weight, int | float) and source.weight > 0):
        raise RecipeError(f"{where}.weight must be a number > 0, got {source.weight!r}")
    return source


def _check_training(kind: str, training: dict[str, Any]) -> dict[str, Any]:
    cls = trl_config_class(kind)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    out = {}
    for key, value in training.items():
        if key not in fields:
            raise _unknown(f"training.{key}", f"training ({cls.__name__} fields)", list(fields))
        out[key] = _coerce_number(value, _type_text(fields[key]))
    return out


def recipe_from_dict(raw: dict[str, Any], source_path: str | None = None) -> RecipeConfig:
    """Build and check a recipe from a plain dict (what the YAML file holds)."""
    if not isinstance(raw, dict):
        raise RecipeError("a recipe must be a mapping of sections")
    for key in raw:
        if key not in TOP_LEVEL:
            raise _unknown(key, "the recipe's top level", list(TOP_LEVEL))
    kind = raw.get("kind", "sft")
    if kind not in KINDS:
        raise RecipeError(f"kind: {kind!r} is not one of {KINDS}")
    sections = {name: _build_section(cls, raw.get(name), name) for name, cls in SECTIONS.items()}
    training = _check_training(kind, raw.get("training") or {})
    callbacks = raw.get("callbacks") or []
    config = RecipeConfig(kind=kind, training=training, callbacks=list(callbacks), source_path=source_path,
                          **sections)
    _validate(config)
    return config


def _validate(config: RecipeConfig) -> None:
    if not config.model.name_or_path and not config.model.init_from:
        raise RecipeError("model.name_or_path is required (or model.init_from for DPO)")
    if not config.data.sources:
        raise RecipeError("data.sources must list at least one source")
    if "output_dir" not in config.training:
        raise RecipeError("training.output_dir is required (checkpoints, the resolved recipe and versions go there)")
    for name, cls in SECTIONS.items():  # also for a RecipeConfig built in Python, not from YAML
        for f in dataclasses.fields(cls):
            try:
                check_value(cls, f.name, getattr(getattr(config, name), f.name), f"{name}.{f.name}")
            except ConfigError as err:
                raise RecipeError(str(err)) from None
    trl_max = config.training.get("max_length")
    if config.data.max_length and trl_max and config.data.max_length > trl_max:
        raise RecipeError(f"data.max_length {config.data.max_length} > training.max_length {trl_max}: TRL would cut "
                          "the prepared rows again, past their masks; raise training.max_length instead (data.max_length "
                          "follows it when unset)")
    from tooljudge.data_prep.data_mix import CHOSEN_SPANS, REJECTED_SPANS

    if config.data.rejected_span not in REJECTED_SPANS:
        raise RecipeError(f"data.rejected_span: {config.data.rejected_span!r} is not {'|'.join(REJECTED_SPANS)}")
    if config.data.rejected_span != "full" and config.kind != "dpo":
        raise RecipeError("data.rejected_span is a DPO setting (it cuts rejected answers); this recipe is "
                          f"kind: {config.kind}")
    if config.data.chosen_span not in CHOSEN_SPANS:
        raise RecipeError(f"data.chosen_span: {config.data.chosen_span!r} is not {'|'.join(CHOSEN_SPANS)}")
    if config.data.chosen_span != "full" and config.kind != "dpo":
        raise RecipeError("data.chosen_span is a DPO setting (it cuts chosen answers); this recipe is "
                          f"kind: {config.kind}")
    if config.data.shared_prefix != "answer" and config.kind != "dpo":
        raise RecipeError("data.shared_prefix is a DPO setting (it moves what a pair's answers share into the "
                          f"prompt); this recipe is kind: {config.kind}")
    if config.data.prompt_once and config.kind != "dpo":
        raise RecipeError(f"data.prompt_once is a DPO setting (it computes a pair's prompt once); this recipe is "
                          f"kind: {config.kind}")
    if config.lora.quantization and not (config.lora.enabled or config.model.init_from):
        raise RecipeError("lora.quantization needs lora.enabled: true, or model.init_from naming the adapter to "
                          "continue (QLoRA trains an adapter on a quantised base)")
    if config.training.get("assistant_only_loss"):
        raise RecipeError(
            "training.assistant_only_loss: leave it false; tooljudge feeds TRL pre-tokenised rows whose "
            "assistant_masks already select the trained tokens, for any chat template"
        )


def read_recipe_dict(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> dict[str, Any]:
    """A recipe file as a plain dict with overrides applied, not yet checked (callers that add to it, like
    ``train/rounds.py``, check the whole with ``recipe_from_dict``)."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"recipe file not found: {path}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    return apply_overrides(raw, overrides or {})


def load_recipe(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> RecipeConfig:
    """Read a recipe file and apply overrides (``["--training.learning_rate", "2e-5"]`` or a dict of
    dotted keys). Unknown keys in either raise ``RecipeError`` naming the key."""
    return recipe_from_dict(read_recipe_dict(path, overrides), source_path=str(path))


_YAML11_BOOL_WORDS = ("yes", "no", "on", "off", "y", "n")


def parse_overrides(argv: list[str]) -> dict[str, Any]:
    """``--key value`` / ``--key=value`` pairs into a dict; values are parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or len(token) == 2:
            raise RecipeError(f"expected --key value, got {token!r}")
        key = token[2:]
        if "=" in key:
            key, text = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv) or (argv[i + 1].startswith("--") and not _NUMBER.match(argv[i + 1])):
                text = "true"  # a bare flag, e.g. --lora.enabled
                i += 1
            else:
                text = argv[i + 1]
                i += 2
        out[key.replace("-", "_")] = read_value(text)
    return out


def read_value(text: str) -> Any:
    """A command-line value as YAML, except that no/yes/on/off are words (``save_strategy no``: YAML 1.1 reads them
    as booleans). ``2e-4`` stays the text YAML 1.1 reads (a string; typed fields coerce it when the recipe loads), so
    that a revision such as ``1234e56`` is never turned into a number."""
    if text == "":
        return ""
    return text if text.lower() in _YAML11_BOOL_WORDS else yaml.safe_load(text)


def _bare_key_owners(kind: str, key: str) -> list[str]:
    owners = []
    for name, cls in SECTIONS.items():
        if key in {f.name for f in dataclasses.fields(cls)}:
            owners.append(f"{name}.{key}")
    if key in {f.name for f in dataclasses.fields(trl_config_class(kind)) if f.init}:
        owners.append(f"training.{key}")
    if key in ("kind", "callbacks"):
        owners.append(key)
    return owners


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``raw`` with overrides set. A key is dotted (``training.learning_rate``) or bare
    (``learning_rate``) when exactly one section has that field; ambiguous or unknown keys raise."""
    raw = copy.deepcopy(raw)
    kind = raw.get("kind", "sft")
    if "kind" in overrides:
        kind = overrides["kind"]
    for key, value in overrides.items():
        if "." not in key:
            owners = _bare_key_owners(kind, key)
            if not owners:
                known = sorted({f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)}
                               | {f.name for f in dataclasses.fields(trl_config_class(kind))})
                raise _unknown(f"--{key}", "the command-line overrides", known)
            if len(owners) > 1:
                raise RecipeError(f"override --{key} is ambiguous: use one of {['--' + o for o in owners]}")
            key = owners[0]
        parts = key.split(".")
        section = parts[0]
        if section not in TOP_LEVEL:
            raise _unknown(f"--{key}", "the command-line overrides", list(TOP_LEVEL))
        if section == "data" and len(parts) > 2:
            raise RecipeError(f"override --{key}: edit data sources in the recipe file, not on the command line")
        target = raw
        for part in parts[:-1]:
            if target.get(part) is None:
                target[part] = {}
            target = target[part]
        target[parts[-1]] = value
    return raw


def usage(script: str, kind: str) -> str:
    """``--help`` text of ``train/sft.py`` / ``train/dpo.py``."""
    from tooljudge.train.cli import OVERRIDE_HELP

    return (f"usage: accelerate launch [--config_file accelerate_configs/X.yaml] train/{script} RECIPE.yaml "
            "[--section.key value ...] [--debug]\n"
            f"       python train/{script} RECIPE.yaml [--section.key value ...]\n\n"
            f"Runs a kind: {kind} recipe (recipes/*.yaml; docs/train.md). Sections: model, data, lora, eval, "
            f"training (TRL's {'SFTConfig' if kind == 'sft' else 'DPOConfig'} fields).\n" + OVERRIDE_HELP + "\n\n"
            "Recipe keys (besides training.*):\n"
            + "\n".join(describe(cls, f"{name}.") for name, cls in SECTIONS.items()) + "\n")


def parse_cli(argv: list[str]) -> tuple[RecipeConfig, dict[str, Any]]:
    """``RECIPE.yaml [--key value ...]`` -> (recipe, overrides). The alignment-handbook form."""
    if not argv or argv[0].startswith("-"):
        raise RecipeError("the first argument must be the recipe file (RECIPE.yaml), then --key value overrides")
    overrides = parse_overrides(argv[1:])
    return load_recipe(argv[0], overrides), overrides

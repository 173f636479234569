"""Recipes: every shipped file loads, unknown keys name themselves, overrides land where they should, the data
mixture weights count right, resume picks only complete checkpoints, LoRA/QLoRA configs are built."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tooljudge.data_prep.data_mix import apply_weight
from tooljudge.train import model_setup
from tooljudge.train.recipe import RecipeError, load_recipe, parse_overrides, recipe_from_dict
from tooljudge.train.run_files import newest_complete_checkpoint, resolve_resume

ROOT = Path(__file__).resolve().parents[1]
# Training recipes (a "kind" key); tests/test_recipes_readers.py gives every other recipe to its reader.
RECIPES = sorted(p for p in (ROOT / "recipes").glob("*.yaml") if "kind" in (yaml.safe_load(p.read_text()) or {}))


def minimal(**training):
    return {"kind": "sft", "model": {"name_or_path": "m"}, "data": {"sources": [{"source": "d.jsonl"}]},
            "training": {"output_dir": "out", **training}}


@pytest.mark.parametrize("path", RECIPES, ids=[p.name for p in RECIPES])
def test_shipped_recipes_load(path):
    config = load_recipe(path)
    assert config.kind in ("sft", "dpo")
    assert config.training["output_dir"]
    raw = yaml.safe_load(path.read_text())
    # Every training key reached TRL's config unchanged (numbers as numbers).
    for key, value in raw["training"].items():
        got = config.training[key]
        assert got == (float(value) if isinstance(value, str) and key == "learning_rate" else value), key
    assert isinstance(config.training.get("learning_rate", 0.0), float)


def test_llama31_recipe_uses_the_llama3_lr():
    config = load_recipe(ROOT / "recipes" / "llama31.yaml")
    assert config.training["learning_rate"] == pytest.approx(1e-5)
    assert config.data.family == "llama31"


@pytest.mark.parametrize("where,raw,key", [
    ("top", {**minimal(), "modle": {}}, "modle"),
    ("section", {**minimal(), "lora": {"rank": 8}}, "lora.rank"),
    ("training", minimal(learning_rat=1e-5), "training.learning_rat"),
    ("source", {**minimal(), "data": {"sources": [{"source": "x", "wieght": 2}]}}, "wieght"),
])
def test_unknown_recipe_keys_are_errors_naming_the_key(where, raw, key):
    with pytest.raises(RecipeError, match=key.replace(".", r"\.")):
        recipe_from_dict(raw)


def test_unknown_key_error_suggests_the_close_one():
    with pytest.raises(RecipeError, match="did you mean 'learning_rate'"):
        recipe_from_dict(minimal(learning_rat=1e-5))


def test_overrides_dotted_bare_flag_and_numbers(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(minimal(learning_rate="1e-5")))
    config = load_recipe(path, ["--training.learning_rate", "3e-4", "--per_device_train_batch_size=8",
                                "--lora.enabled", "--lora.r", "4", "--model.dtype", "bfloat16"])
    assert config.training["learning_rate"] == 3e-4 and isinstance(config.training["learning_rate"], float)
    assert config.training["per_device_train_batch_size"] == 8
    assert config.lora.enabled is True and config.lora.r == 4
    assert config.model.dtype == "bfloat16"
    # The file value "1e-5" (a string for PyYAML) became a float.
    assert load_recipe(path).training["learning_rate"] == 1e-5


@pytest.mark.parametrize("argv,message", [
    (["--learnin_rate", "1"], "learnin_rate"),
    (["--training.not_a_field", "1"], "training.not_a_field"),
    (["--lora.rnak", "8"], "lora.rnak"),
    (["--max_length", "64"], "ambiguous"),  # data.max_length and training.max_length
    (["positional"], "expected --key value"),
])
def test_bad_overrides_are_errors_naming_the_key(tmp_path, argv, message):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(minimal()))
    with pytest.raises(RecipeError, match=message):
        load_recipe(path, argv)


def test_parse_overrides_yaml_values():
    assert parse_overrides(["--a", "[1, 2]", "--b", "null", "--c", "-3", "--d"]) == \
        {"a": [1, 2], "b": None, "c": -3, "d": True}


@pytest.mark.parametrize("bad,message", [
    ({"lora": {"quantization": "4bit"}}, "lora.enabled"),
    ({"model": {"name_or_path": "m", "dtype": "fp8"}}, "model.dtype"),
    ({"data": {"sources": [{"source": "x", "weight": 0}]}}, "weight"),
    ({"data": {"sources": []}}, "at least one source"),
    ({"training": {"assistant_only_loss": True, "output_dir": "o"}}, "assistant_only_loss"),
])
def test_inconsistent_recipes_are_refused(bad, message):
    raw = minimal()
    raw.update(bad)
    with pytest.raises(RecipeError, match=message):
        recipe_from_dict(raw)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), weight=st.floats(0.05, 4.0), seed=st.integers(0, 10))
def test_mixture_weight_counts(n, weight, seed):
    rows = list(range(n))
    out = apply_weight(rows, weight, seed)
    whole = int(weight)
    assert len(out) == whole * n + round((weight - whole) * n)
    # Every row appears `whole` times, plus at most once more from the seeded fraction.
    for r in rows:
        assert whole <= out.count(r) <= whole + 1
    assert apply_weight(rows, weight, seed) == out  # seeded


def _checkpoint(folder: Path, complete: bool, weights: bool = True):
    folder.mkdir(parents=True)
    if weights:  # a whole safetensors file (a resume now checks the header and size, not just the name)
        import torch
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(2)}, str(folder / "model.safetensors"))
    if complete:
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": 1}))
    else:
        (folder / "trainer_state.json").write_text('{"global_st')  # killed mid-write


def test_resume_picks_newest_complete_checkpoint(tmp_path):
    _checkpoint(tmp_path / "checkpoint-2", True)
    _checkpoint(tmp_path / "checkpoint-10", True)
    _checkpoint(tmp_path / "checkpoint-12", False)  # truncated state file
    _checkpoint(tmp_path / "checkpoint-14", True, weights=False)  # killed before the weights
    (tmp_path / "checkpoint-x").mkdir()
    assert newest_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"  # 10 > 2 numerically
    assert resolve_resume(None, tmp_path) == str(tmp_path / "checkpoint-10")
    assert resolve_resume("never", tmp_path) is None
    assert resolve_resume(str(tmp_path / "checkpoint-2"), tmp_path) == str(tmp_path / "checkpoint-2")
    with pytest.raises(FileNotFoundError, match="checkpoint-12"):
        resolve_resume(str(tmp_path / "checkpoint-12"), tmp_path)
    assert resolve_resume("auto", tmp_path / "empty") is None


def test_lora_and_qlora_configs_are_constructed():
    config = recipe_from_dict({**minimal(), "lora": {"enabled": True, "r": 8, "alpha": 16, "dropout": 0.0,
                                                     "target_modules": ["q_proj", "v_proj"],
                                                     "quantization": "4bit"}})
    lora = model_setup.lora_config(config.lora)
    assert (lora.r, lora.lora_alpha, set(lora.target_modules), lora.task_type) == \
        (8, 16, {"q_proj", "v_proj"}, "CAUSAL_LM")
    quant = model_setup.quantization_config(config.lora)
    import torch

    assert quant.load_in_4bit and quant.bnb_4bit_quant_type == "nf4" and quant.bnb_4bit_use_double_quant
    assert quant.bnb_4bit_compute_dtype == torch.bfloat16
    kwargs = model_setup.model_init_kwargs(config.model, config.lora)
    assert kwargs["quantization_config"].to_dict() == quant.to_dict() and kwargs["device_map"] == {"": 0}
    assert model_setup.lora_config(recipe_from_dict(minimal()).lora) is None


def test_qlora_loading_refuses_without_gpu():
    import importlib.util

    import torch

    config = recipe_from_dict({**minimal(), "lora": {"enabled": True, "quantization": "4bit"}})
    if torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes"):
        pytest.skip("a GPU with bitsandbytes is present: 4-bit loading is exercised by the GPU benchmark")
    with pytest.raises(RuntimeError, match="bitsandbytes|CUDA GPU"):
        model_setup.check_quantization_available(config.lora)


def test_eval_hook_is_attached_from_the_recipe():
    from tooljudge.eval.hook import EvalHookCallback
    from tooljudge.train.callbacks_setup import build_callbacks

    config = recipe_from_dict({**minimal(), "eval": {"enabled": True, "sets": ["builtin"], "every_n_steps": 5,
                                                     "max_examples": 7}})
    hook, modes = build_callbacks(config, tokenizer=None)
    assert isinstance(hook, EvalHookCallback) and type(modes).__name__ == "OpenSavedWeights"
    assert (hook.config.sets, hook.config.every_n_steps, hook.config.max_examples) == (["builtin"], 5, 7)
    assert hook.config.output_dir == "out" and hook.family == "auto"
    # off unless enabled: only the checkpoint-mode callback (tests/test_file_modes.py)
    assert [type(c).__name__ for c in build_callbacks(recipe_from_dict(minimal()), tokenizer=None)] == [
        "OpenSavedWeights"]
    bad = recipe_from_dict({**minimal(), "eval": {"enabled": True, "options": {"evry_n_steps": 3}}})
    with pytest.raises(ValueError, match="evry_n_steps"):
        build_callbacks(bad, tokenizer=None)


ACCEL = {"multi_cpu": ("MULTI_GPU", True, None), "ddp": ("MULTI_GPU", False, None),
         "fsdp": ("FSDP", False, None), "fsdp_qlora": ("FSDP", False, None),
         "zero2": ("DEEPSPEED", False, 2), "zero2_offload": ("DEEPSPEED", False, 2),
         "zero3": ("DEEPSPEED", False, 3), "zero3_offload": ("DEEPSPEED", False, 3)}


@pytest.mark.parametrize("name", sorted(ACCEL))
def test_accelerate_configs_parse_with_accelerate(name):
    """Each config file is read by accelerate's own loader (the one `accelerate launch --config_file` uses)."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "accelerate_configs" / f"{name}.yaml"))
    dist, cpu, stage = ACCEL[name]
    assert str(config.distributed_type).endswith(dist) and bool(config.use_cpu) == cpu
    if stage:
        assert config.deepspeed_config["zero_stage"] == stage
        offload = "cpu" if name.endswith("_offload") else "none"
        assert config.deepspeed_config["offload_optimizer_device"] == offload
    if dist == "FSDP":
        assert config.fsdp_config["fsdp_version"] == 2


_keys = st.from_regex(r"[a-z][a-z_]{0,8}(\.[a-z][a-z_]{0,8})?", fullmatch=True)
_values = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.booleans(), st.text(alphabet="abcxyz_/", min_size=1, max_size=8))


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5), st.booleans())
def test_parse_overrides_round_trips_yaml_scalars(pairs, with_equals):
    argv = []
    for key, value in pairs.items():
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        argv += [f"--{key}={text}"] if with_equals else [f"--{key}", text]
    parsed = parse_overrides(argv)
    assert parsed == pairs


def test_cli_spellings_and_yaml_words():
    """One name for the output folder (--output_dir; the hyphenated spelling reads the same), and YAML 1.1's
    yes/no words stay words on the command line (``--training.save_strategy no``)."""
    from tooljudge.train.recipe import apply_overrides, parse_overrides

    assert parse_overrides(["--output-dir", "runs/x", "--training.save_strategy", "no"]) == {
        "output_dir": "runs/x", "training.save_strategy": "no"}
    raw = apply_overrides({"kind": "sft", "training": {"output_dir": "a"}}, {"output_dir": "runs/x"})
    assert raw["training"]["output_dir"] == "runs/x"


def test_data_max_length_above_training_max_length_is_refused(tmp_path):
    """TRL would cut prepared rows again past their masks (seen: the mask check failing mid-setup)."""
    from train_support import recipe_dict

    raw = recipe_dict("sft", "m", tmp_path / "d.jsonl", tmp_path / "o", max_length=512)
    raw["data"]["max_length"] = 1024
    with pytest.raises(RecipeError, match="data.max_length 1024 > training.max_length 512"):
        recipe_from_dict(raw)


def test_recipe_mask_policies_reach_the_sft_rows(tmp_path):
    """``data.special_text`` / ``parallel_calls`` / ``reference_quirks`` in a recipe are the policies its SFT rows
    are prepared with: the same control-token row is kept (encoded as text) by default and dropped, counted by
    reason, under ``special_text: reject``."""
    from tooljudge.data_prep.data_mix import build_datasets
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    rows = [{"messages": [{"role": "user", "content": f"say {text}"}, {"role": "assistant", "content": "ok"}]}
            for text in ("hello", "<|im_end|> then more")]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def build(**policy):
        recipe = {"kind": "sft", "model": {"name_or_path": "unused"},
                  "data": {"family": "chatml", "sources": [{"source": str(data)}], **policy},
                  "training": {"output_dir": str(tmp_path / "out"), "max_length": 256}}
        train, _, report = build_datasets(recipe_from_dict(recipe), tok)
        return len(train), report["train"][0]

    kept, _ = build()
    assert kept == 2
    kept, report = build(special_text="reject")
    assert kept == 1 and sum(report["skipped"].values()) == 1
    assert "special_text" in " ".join(report["skipped"])
    with pytest.raises(RecipeError, match="special_text"):
        recipe_from_dict({"kind": "sft", "model": {"name_or_path": "x"},
                          "data": {"special_text": "drop", "sources": [{"source": str(data)}]},
                          "training": {"output_dir": str(tmp_path / "o")}})


def test_weighted_copies_are_prepared_once_and_each_counted():
    """Weight 3 repeats each row object three times: one render+tokenisation per row, three rows out, and a bad
    row counted three times (rows after weight = kept + skipped)."""
    from tooljudge.data_prep.data_mix import SourceReport, apply_weight, prepare_sft_rows

    good, bad = {"id": "good"}, {"id": "bad"}
    calls = []

    def prepare(tok, row, family, max_length):
        calls.append(row["id"])
        if row is bad:
            raise ValueError("bad row")
        return {"input_ids": [1, 2, 3], "assistant_masks": [0, 1, 1]}

    mixed = [(0, r) for r in apply_weight([good, bad], 3.0, seed=0)]
    report = SourceReport(source="mem", weight=3.0)
    out = prepare_sft_rows(None, mixed, [report], "chatml", None, "skip", prepare=prepare)
    assert sorted(calls) == ["bad", "good"]
    assert len(out) == 3 and report.kept == 3 and sum(report.skipped.values()) == 3


@pytest.mark.parametrize("capabilities, expected", [
    ({"avx2": True}, False),                              # AVX2 only: torch emulates bf16 (30x slower, measured)
    ({"avx2": True, "avx512_bf16": True}, True),
    ({"amx_bf16": True}, True),
])
def test_bf16_auto_follows_the_cpus_native_bf16(monkeypatch, capabilities, expected):
    import torch
    from tooljudge.train.trl_seam import make_trl_config

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert make_trl_config("sft", {"bf16": "auto", "use_cpu": True}).bf16 is expected
    assert make_trl_config("dpo", {"bf16": False, "use_cpu": True}).bf16 is False  # an explicit value stays


@pytest.mark.parametrize("kind", ["sft", "dpo"])
def test_gradient_checkpointing_reaches_trl_under_its_new_name_without_a_warning(kind):
    import warnings

    from tooljudge.train.recipe import RecipeError
    from tooljudge.train.trl_seam import make_trl_config

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # transformers warns when the old name reaches it
        args = make_trl_config(kind, {"use_cpu": True, "bf16": False, "gradient_checkpointing": True,
                                      "gradient_checkpointing_kwargs": {"use_reentrant": False}})
        off = make_trl_config(kind, {"use_cpu": True, "bf16": False, "gradient_checkpointing": False})
        unset = make_trl_config(kind, {"use_cpu": True, "bf16": False})
    assert args.activation_checkpointing is True and args.gradient_checkpointing is True  # the old name mirrors
    assert args.activation_checkpointing_kwargs == {"use_reentrant": False}
    assert off.activation_checkpointing is False and off.gradient_checkpointing is False
    trl_default = {f.name: f.default for f in dataclasses.fields(type(unset))}["gradient_checkpointing"]
    assert unset.activation_checkpointing is trl_default and unset.gradient_checkpointing is trl_default  # TRL's own
    with pytest.raises(RecipeError, match="gradient_checkpointing=True and activation_checkpointing=False disagree"):
        make_trl_config(kind, {"use_cpu": True, "gradient_checkpointing": True, "activation_checkpointing": False})


def test_a_resolved_recipe_loads_again_as_a_recipe(tmp_path):
    from tooljudge.train.run_files import RESOLVED_RECIPE, write_run_files

    config = load_recipe("recipes/smollm2_demo.yaml")
    write_run_files(config, tmp_path)
    again = load_recipe(str(tmp_path / RESOLVED_RECIPE))  # a run's recipe, rerun as it ran
    assert dataclasses.replace(again, source_path=None) == dataclasses.replace(config, source_path=None)
    assert "smollm2_demo.yaml" in (tmp_path / RESOLVED_RECIPE).read_text().splitlines()[0]

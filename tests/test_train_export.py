"""Export round trips: merged shards give the adapter model's logits, a wrong merge is refused and writes
nothing, the adapter copy loads in peft, the chat template is byte-identical, stop tokens follow the family."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import train_support as ts
from tooljudge.train import export


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as train/sft.py leaves it for a LoRA run: adapter (non-zero, so the check has teeth),
    tokenizer with the qwen25 template, resolved recipe and run_info.json."""
    from peft import LoraConfig, get_peft_model
    from tooljudge.train.model_setup import install_chat_template
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = ts.tiny_model(tmp_path_factory.getbasetemp() / "models")
    out = tmp_path_factory.mktemp("run") / "sft"
    tokenizer = AutoTokenizer.from_pretrained(base)
    install_chat_template(tokenizer, ts.FAMILY, None)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False,
                                      task_type="CAUSAL_LM"))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    import hashlib

    (out / "run_info.json").write_text(json.dumps({
        "kind": "sft", "eval_metrics": {"eval_ast_accuracy": 0.5},
        "chat_template_sha256": hashlib.sha256(tokenizer.chat_template.encode()).hexdigest(),
        "versions": {"trl": "x"}}))
    (out / "recipe.resolved.yaml").write_text(f"kind: sft\ndata:\n  family: {ts.FAMILY}\n")
    # What tooljudge.eval.hook writes at the end of training (its write_results payload).
    (out / "eval_results.json").write_text(json.dumps({"metrics": {"fc/overall/ast_accuracy": 0.25}, "step": 4}))
    return out, Path(base)


def _adapter_logits(base: Path, adapter: Path, prompts):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter)
    return export._logits(model, prompts)


def test_merged_export_round_trip(run_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    adapter, base = run_dir
    out, checks = export.merge_adapter(adapter, tmp_path / "merged", dtype="float32", max_shard_size="100KB")
    assert all(c.passed for c in checks)
    assert len(list(out.glob("model-*.safetensors"))) > 1 and (out / "model.safetensors.index.json").exists()
    assert not list(tmp_path.glob("*.partial*"))
    # Independent of export's own check: a fresh load of the files vs the adapter model from peft.
    tokenizer = AutoTokenizer.from_pretrained(out)
    prompts = export.check_prompts(tokenizer, ts.FAMILY)
    merged = export._logits(AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32), prompts)
    reference = _adapter_logits(base, adapter, prompts)
    plain = export._logits(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), prompts)
    for m, r, p in zip(merged, reference, plain, strict=True):
        torch.testing.assert_close(m, r, atol=1e-4, rtol=1e-4)
        assert (r - p).abs().max() > 1e-3  # the adapter changes the model, so the check is not vacuous
    # The template is byte-identical to the trained one; generation stops on <|im_end|>.
    assert (out / "chat_template.jinja").read_bytes() == (adapter / "chat_template.jinja").read_bytes()
    gen = GenerationConfig.from_pretrained(out)
    assert gen.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    card = (out / "README.md").read_text()
    assert "eval_ast_accuracy: 0.5" in card and "fc/overall/ast_accuracy: 0.25" in card
    assert "family: qwen25" in card and "passed" in card


def test_bf16_export_within_rounding(run_dir, tmp_path):
    adapter, _ = run_dir
    out, checks = export.merge_adapter(adapter, tmp_path / "bf16", dtype="bfloat16")
    assert checks[1].name.startswith("written files (bfloat16)") and checks[1].passed
    assert checks[1].max_abs_diff > 0  # bf16 rounding is real, and within tolerance
    from safetensors import safe_open

    with safe_open(str(next(out.glob("*.safetensors"))), "pt") as handle:
        assert {handle.get_tensor(k).dtype for k in handle.keys()} == {torch.bfloat16}


def test_wrong_merge_is_refused_and_writes_nothing(run_dir, tmp_path):
    adapter, _ = run_dir

    def forgetful_merge(peft_model):  # the classic bug: return the base without folding the adapter in
        return peft_model.unload()

    with pytest.raises(export.ExportError, match="merged \\(float32\\) vs adapter"):
        export.merge_adapter(adapter, tmp_path / "bad", dtype="float32", merge=forgetful_merge)
    assert not (tmp_path / "bad").exists() and not list(tmp_path.iterdir())


def test_changed_template_is_refused(run_dir, tmp_path):
    adapter, _ = run_dir
    tampered = tmp_path / "tampered"
    import shutil

    shutil.copytree(adapter, tampered)
    (tampered / "chat_template.jinja").write_text((adapter / "chat_template.jinja").read_text() + " ")
    with pytest.raises(export.ExportError, match="chat_template.jinja differs"):
        export.export_adapter(tampered, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_adapter_export_loads_in_peft(run_dir, tmp_path):
    from transformers import AutoTokenizer

    adapter, base = run_dir
    out = export.export_adapter(adapter, tmp_path / "adapter")
    assert {p.name for p in out.glob("adapter_*")} == {"adapter_config.json", "adapter_model.safetensors"}
    assert (out / "generation_config.json").exists() and (out / "README.md").exists()
    prompts = export.check_prompts(AutoTokenizer.from_pretrained(out), ts.FAMILY)
    for a, b in zip(_adapter_logits(base, out, prompts), _adapter_logits(base, adapter, prompts), strict=True):
        assert torch.equal(a, b)


def test_llama31_generation_config_stops_on_eot_and_eom():
    """Against Meta's own token table in llama-models: <|eot_id|> and <|eom_id|> are both stops."""
    from llama_models.llama3.tokenizer import Tokenizer
    from reference_tokenizers import reference_tokenizer

    meta = Tokenizer.get_instance()
    ids, strings = export._stop_token_ids(reference_tokenizer("llama31"), "llama31")
    assert ids == [meta.special_tokens["<|eot_id|>"], meta.special_tokens["<|eom_id|>"]] and strings == []


def _run_copy(run_dir, tmp_path, **info_fields):
    """The fixture's run folder with run_info.json fields changed (e.g. the recipe's base model name)."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    info = json.loads((copy / "run_info.json").read_text())
    (copy / "run_info.json").write_text(json.dumps({**info, **info_fields}))
    return copy


def test_adapter_from_the_bundled_model_names_its_hub_id_and_resolves_here(run_dir, tmp_path):
    """The adapter trained on bundled:smollm2 names HuggingFaceTB/SmolLM2-135M-Instruct (loads anywhere with
    network), and inside tooljudge the export still resolves to the bundled checkpoint, as trained."""
    from tooljudge.train import model_setup

    adapter, _ = run_dir
    run = _run_copy(adapter, tmp_path, base_model="bundled:smollm2")
    out = export.export_adapter(run, tmp_path / "out")
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert model_setup.adapter_base_name(out) == "bundled:smollm2"
    card = (out / "README.md").read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "AutoPeftModelForCausalLM" in card
    assert "vllm serve HuggingFaceTB/SmolLM2-135M-Instruct --enable-lora --lora-modules tooljudge=./out" in card
    assert str(Path.home()) not in (out / "adapter_config.json").read_text()


def test_a_local_base_is_named_by_the_given_hub_id(run_dir, tmp_path):
    adapter, base = run_dir
    kept = export.export_adapter(adapter, tmp_path / "kept")
    assert json.loads((kept / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base)
    assert "--base_model_id ORG/NAME" in (kept / "README.md").read_text()  # the card says how to fix it
    named = export.export_adapter(adapter, tmp_path / "named", base_model_id="my-org/tiny-llama")
    assert json.loads((named / "adapter_config.json").read_text())["base_model_name_or_path"] == "my-org/tiny-llama"


def test_model_card_carries_the_eval_figures_of_the_exported_stage(run_dir, tmp_path):
    adapter, _ = run_dir
    figures = {"fc_ast_accuracy": {"value": 0.275, "ci_low": 0.16, "ci_high": 0.43, "n": 40}}
    out = export.export_adapter(adapter, tmp_path / "out", eval_figures=figures, eval_stage="r1-dpo")
    card = (out / "README.md").read_text()
    assert "## Eval figures of this model (r1-dpo)" in card and "| fc_ast_accuracy | 0.275 [0.16, 0.43] (n=40) |" in card
    assert json.loads((out / "tooljudge_export.json").read_text())["eval_figures"] == figures


def test_export_never_replaces_a_folder_it_did_not_make(run_dir, tmp_path):
    adapter, _ = run_dir
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(export.ExportError, match="was not made by train/export.py.*--overwrite"):
        export.export_adapter(adapter, mine)
    assert (mine / "notes.txt").read_text() == "keep me" and not list(tmp_path.glob("*.partial*"))
    with pytest.raises(export.ExportError, match="was not made by train/export.py"):
        export.merge_adapter(adapter, mine, dtype="float32")  # refused before any merge work
    out = export.export_adapter(adapter, tmp_path / "again")
    assert export.export_adapter(adapter, out) == out  # its own export is replaced on a rerun
    replaced = export.export_adapter(adapter, mine, overwrite=True)
    assert not (replaced / "notes.txt").exists() and (replaced / "adapter_config.json").exists()


def test_cli_output_dir_and_the_old_positional_form(run_dir, tmp_path):
    adapter, _ = run_dir
    export.main([str(adapter), "--output_dir", str(tmp_path / "a"), "--mode", "adapter"])
    export.main([str(adapter), str(tmp_path / "b"), "--mode", "adapter"])  # hidden alias of --output_dir
    assert (tmp_path / "a" / "adapter_config.json").exists() and (tmp_path / "b" / "adapter_config.json").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        export.main([str(adapter), "--output_dir", str(tmp_path / "c"), "--mode", "adapter"])
    assert exit_info.value.code == 2

"""DPO pairs: the tokens TRL scores are exactly data_prep's trained tokens of the chosen/rejected turn (checked
against ``prepare_example`` on prompt + chosen, an independent path), TRL does not re-tokenise them, bad pairs
are counted by reason, and a run with precomputed reference log-probs lowers the loss."""

from __future__ import annotations

import json

import pytest
import train_support as ts
from tooljudge.data_prep.data_mix import DataError, SourceReport, prepare_dpo_rows, tokenize_pair
from tooljudge.train.dpo import build_dpo_trainer, run_dpo
from tooljudge.train.recipe import recipe_from_dict


@pytest.fixture(scope="module")
def tokenizer():
    from tooljudge.train.model_setup import install_chat_template
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    install_chat_template(tok, ts.FAMILY, None)
    return tok


def _masking():
    from tooljudge.data_prep import masking

    return masking


def _last_trained_run(mask: list[int]) -> tuple[int, int]:
    end = max(i for i, m in enumerate(mask) if m) + 1
    start = end
    while start > 0 and mask[start - 1]:
        start -= 1
    return start, end


@pytest.mark.parametrize("i", range(3))
@pytest.mark.parametrize("maker", [ts.pref_row, ts.short_pref_row])
def test_pair_tokens_are_the_trained_span_of_prepare_example(tokenizer, maker, i):
    masking = _masking()
    row = maker(i)
    pair = tokenize_pair(tokenizer, row, ts.FAMILY, masking.render_prompt, masking.render_completion)
    for side in ("chosen", "rejected"):
        prepared = masking.prepare_example(tokenizer, {"messages": row["prompt"] + row[side],
                                                       "tools": row.get("tools", [])}, family=ts.FAMILY)
        start, end = _last_trained_run(prepared["assistant_masks"])
        assert pair["prompt_ids"] == prepared["input_ids"][:start]
        assert pair[f"{side}_ids"] == prepared["input_ids"][start:end]
    # The stop token closes each completion; nothing after it (the template's trailing newline) is scored.
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert pair["chosen_ids"][-1] == stop and pair["rejected_ids"][-1] == stop


def test_bad_pairs_are_counted_by_reason(tokenizer):
    masking = _masking()
    good = ts.short_pref_row(0)
    same = dict(good, rejected=good["chosen"])
    wrong_role = dict(good, rejected=[{"role": "user", "content": "x"}])
    two = dict(good, chosen=good["chosen"] * 2)
    report = SourceReport(source="mem", weight=1.0)
    rows = prepare_dpo_rows(tokenizer, [(0, r) for r in (good, same, wrong_role, two)], [report], ts.FAMILY,
                            None, "skip", masking.render_prompt, masking.render_completion)
    assert len(rows) == 1 and report.kept == 1 and sum(report.skipped.values()) == 3
    reasons = " ".join(report.skipped)
    assert "same tokens" in reasons and "expected 'assistant'" in reasons and "one assistant message" in reasons
    with pytest.raises(DataError, match="mixture row 1"):
        prepare_dpo_rows(tokenizer, [(0, good), (0, same)], [report], ts.FAMILY, None, "error",
                         masking.render_prompt, masking.render_completion)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ts.tiny_model(tmp_path_factory.getbasetemp() / "models")


def test_trl_scores_exactly_our_completion_tokens(tiny, tmp_path):
    trainer, _, report = ts.tiny_lora_dpo_trainer(tiny, tmp_path, [ts.pref_row(i) for i in range(3)])
    assert report["train"][0]["kept"] == 3
    rows = list(trainer.train_dataset)
    batch = trainer.data_collator(rows[:2])
    n = len(rows[:2])
    for k, row in enumerate(rows[:2]):
        for half, side in ((0, "chosen"), (1, "rejected")):
            ids = batch["input_ids"][half * n + k]
            mask = batch["completion_mask"][half * n + k].bool()
            assert ids[mask].tolist() == row[f"{side}_ids"]  # scored tokens == our completion, in order
            assert ids[: len(row["prompt_ids"])].tolist() == row["prompt_ids"]


def test_dpo_with_precomputed_reference_lowers_the_loss(tiny, tmp_path):
    data = ts.write_jsonl(tmp_path / "pref.jsonl", [ts.short_pref_row(i) for i in range(4)])
    raw = ts.recipe_dict("dpo", tiny, data, tmp_path / "out", max_steps=6, learning_rate=1e-2,
                         precompute_ref_log_probs=True)
    out = run_dpo(recipe_from_dict(raw))
    info = json.loads((out / "run_info.json").read_text())
    assert info["dpo_reference"] == "precomputed from the starting model"
    losses = [e["loss"] for e in info["log_history"] if "loss" in e]
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at the first step
    assert losses[-1] < losses[0] - 0.05, losses
    health = json.loads((out / "dpo_health.json").read_text())  # the chosen-likelihood watch ran in the trainer
    assert health["beta"] == 0.1 and len(health["steps"]) == len(losses)


def test_dpo_from_a_merged_sft_adapter_with_a_new_lora(tiny, tmp_path):
    """init_adapter_mode: merge writes the SFT model once (logits-checked) and trains a new adapter on it;
    the reference is that merged SFT model (the new adapter disabled), not the bare base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    sft = tmp_path / "sft"
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32),
                   LoraConfig(r=4, lora_alpha=8, init_lora_weights=False, task_type="CAUSAL_LM")).save_pretrained(sft)
    data = ts.write_jsonl(tmp_path / "pref.jsonl", [ts.short_pref_row(i) for i in range(2)])
    raw = ts.recipe_dict("dpo", tiny, data, tmp_path / "dpo")
    raw["model"].update(init_from=str(sft), init_adapter_mode="merge")
    raw["lora"] = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
    trainer, start, _ = build_dpo_trainer(recipe_from_dict(raw))
    merged = tmp_path / "dpo" / "init_merged"
    checks = json.loads((merged / "export_checks.json").read_text())
    assert checks[0]["passed"] and start.base_path == str(merged)
    info = json.loads((tmp_path / "dpo" / "run_info.json").read_text())
    assert info["dpo_reference"] == "policy with the LoRA adapter disabled"
    # The policy starts as the merged SFT model: with the new (zero-initialised) adapter it matches init_merged.
    ids = torch.tensor([trainer.train_dataset[0]["prompt_ids"]])
    with torch.no_grad():
        policy = trainer.model(input_ids=ids).logits
        reference = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)(input_ids=ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)(input_ids=ids).logits
    torch.testing.assert_close(policy, reference, atol=1e-5, rtol=1e-5)
    assert (reference - base).abs().max() > 1e-3

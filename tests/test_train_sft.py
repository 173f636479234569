"""SFT on a tiny model, in process: TRL's loss is exactly the NLL of data_prep's trained tokens (untrained tokens
cannot move it), the masks survive packing, a small set is overfit, and a broken label set is refused."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import train_support as ts
from tooljudge.train import trl_seam
from tooljudge.train.recipe import recipe_from_dict
from tooljudge.train.sft import build_sft_trainer, run_sft


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ts.tiny_model(tmp_path_factory.getbasetemp() / "models")


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory):
    return ts.write_jsonl(tmp_path_factory.mktemp("data") / "sft.jsonl", [ts.sft_row(i) for i in range(4)])


@pytest.mark.parametrize("tokenizer_name", ["tiny_bpe", "smollm2"])
def test_data_prep_masks_match_the_prefix_render_reference(tokenizer_name):
    """The masks these tests train on, against an independent prefix-render implementation (train_support)."""
    from tooljudge.data_prep.masking import prepare_example
    from tooljudge.train.model_setup import install_chat_template
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    tok = ts.tiny_tokenizer() if tokenizer_name == "tiny_bpe" else AutoTokenizer.from_pretrained(smollm2_checkpoint())
    install_chat_template(tok, ts.FAMILY, None)
    for i in range(4):
        for row in (ts.sft_row(i), ts.short_row(i)):
            assert prepare_example(tok, row, family=ts.FAMILY) == ts.prefix_diff_prepare(tok, row)


def _reference_nll(model, rows) -> tuple[float, int]:
    """Sum of -log p over the tokens our masks train (next-token shift), computed without TRL."""
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
            for t in range(1, ids.shape[1]):
                if row["assistant_masks"][t]:
                    total -= logp[t - 1, ids[0, t]].item()
                    count += 1
    return total, count


def _trl_loss(trainer, rows) -> float:
    batch = trainer.data_collator([{"input_ids": r["input_ids"], "labels": trl_seam.expected_labels(
        r["input_ids"], r["assistant_masks"])} for r in rows])
    trainer.model.eval()
    with torch.no_grad():
        return trainer.compute_loss(trainer.model, batch).item()


def test_loss_is_exactly_the_masked_nll_and_untrained_tokens_do_not_count(tiny, sft_data, tmp_path):
    config = recipe_from_dict(ts.recipe_dict("sft", tiny, sft_data, tmp_path / "out"))
    trainer, _, report = build_sft_trainer(config)
    assert report["mask_check"]["passed"] and report["mask_check"]["trained_tokens"] > 0
    from tooljudge.data_prep.data_mix import build_datasets

    rows = list(build_datasets(config, trainer.processing_class)[0])
    # TRL's labels are exactly input_ids under our mask, row by row.
    for theirs in trainer.train_dataset:
        match = [r for r in rows if r["input_ids"] == theirs["input_ids"]]
        assert match and theirs["labels"] == trl_seam.expected_labels(match[0]["input_ids"],
                                                                      match[0]["assistant_masks"])
    pair = rows[:2]
    ref_total, ref_count = _reference_nll(trainer.model, pair)
    assert _trl_loss(trainer, pair) == pytest.approx(ref_total / ref_count, rel=1e-5)

    # The last token (the "\n" after the final <|im_end|>) is untrained: changing it leaves the loss unchanged.
    edited = [dict(r) for r in pair]
    last = len(edited[0]["input_ids"]) - 1
    assert edited[0]["assistant_masks"][last] == 0 and edited[0]["assistant_masks"][last - 1] == 1
    edited[0]["input_ids"] = edited[0]["input_ids"][:last] + [edited[0]["input_ids"][last] + 7]
    assert _trl_loss(trainer, edited) == _trl_loss(trainer, pair)
    # Control: training that token too changes the loss, so the comparison above can fail.
    edited[0]["assistant_masks"] = edited[0]["assistant_masks"][:last] + [1]
    assert _trl_loss(trainer, edited) != pytest.approx(_trl_loss(trainer, pair), rel=1e-6)


def test_masks_survive_packing_padding_free(tiny, sft_data, tmp_path):
    """BFD packing (padding-free, position_ids restart per row): same labels multiset and the same summed
    NLL as the unpacked rows, so neither labels nor attention leak across packed rows."""
    base = ts.recipe_dict("sft", tiny, sft_data, tmp_path / "a")
    unpacked, _, _ = build_sft_trainer(recipe_from_dict(base))
    packed_cfg = ts.recipe_dict("sft", tiny, sft_data, tmp_path / "b", packing=True, packing_strategy="bfd",
                                max_length=1024)
    packed, _, report = build_sft_trainer(recipe_from_dict(packed_cfg))
    assert report["mask_check"]["packed"] and len(packed.train_dataset) < len(unpacked.train_dataset)

    def total_nll(trainer):
        total, count = 0.0, 0
        trainer.model.eval()
        for row in trainer.train_dataset:
            batch = trainer.data_collator([row])
            n = sum(1 for label in row["labels"][1:] if label != -100)
            with torch.no_grad():
                total += trainer.compute_loss(trainer.model, batch).item() * n
            count += n
        return total, count

    (a_total, a_count), (b_total, b_count) = total_nll(unpacked), total_nll(packed)
    assert a_count == b_count
    assert b_total == pytest.approx(a_total, rel=1e-5)


def test_broken_labels_are_refused(tiny, sft_data, tmp_path):
    trainer, _, _ = build_sft_trainer(recipe_from_dict(ts.recipe_dict("sft", tiny, sft_data, tmp_path / "o")))
    rows = [{"input_ids": r["input_ids"], "assistant_masks": [1 if lab != -100 else 0 for lab in r["labels"]]}
            for r in trainer.train_dataset]
    trl_seam.check_sft_labels(rows, trainer.train_dataset, packed=False)
    rows[0]["assistant_masks"][0] = 1 - rows[0]["assistant_masks"][0]
    with pytest.raises(RuntimeError, match="did not survive"):
        trl_seam.check_sft_labels(rows, trainer.train_dataset, packed=False)


def test_sft_overfits_a_small_set(tiny, tmp_path):
    data = ts.write_jsonl(tmp_path / "two.jsonl", [ts.short_row(i) for i in range(4)])
    config = recipe_from_dict(ts.recipe_dict("sft", tiny, data, tmp_path / "out", max_steps=8,
                                             learning_rate=2e-2))
    out = run_sft(config)
    import json

    info = json.loads((out / "run_info.json").read_text())
    losses = [e["loss"] for e in info["log_history"] if "loss" in e]
    assert len(losses) == 8
    assert sum(losses[-3:]) / 3 < losses[0] - 2.0, losses
    assert (out / "recipe.resolved.yaml").exists() and info["versions"]["trl"]
    assert info["data_report"]["mask_check"]["passed"]


@pytest.mark.skipif(not (torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes")),
                    reason="4-bit QLoRA needs a CUDA GPU and bitsandbytes (the config path is tested on CPU in "
                           "test_train_recipe.py)")
def test_qlora_sft_steps_on_gpu(tiny, sft_data, tmp_path):
    raw = ts.recipe_dict("sft", tiny, sft_data, tmp_path / "q", max_steps=2, use_cpu=False, bf16=True)
    raw["lora"] = {"enabled": True, "r": 4, "alpha": 8, "quantization": "4bit"}
    out = run_sft(recipe_from_dict(raw))
    assert (out / "adapter_config.json").exists()

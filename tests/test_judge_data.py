"""Judge training data: SFT rows and DPO pairs in the canonical contracts, masked exactly on the verdict, with
the judge eval's own prompt; and TRL trains on them through train/sft.py and train/dpo.py with no extra code."""

from __future__ import annotations

import pytest
import train_support as ts
from tooljudge.data_prep.data_mix import tokenize_pair
from tooljudge.data_prep.judge_tasks import generate_extractive, generate_prontoqa
from tooljudge.data_prep.masking import prepare_example, render_completion, render_prompt
from tooljudge.data_prep.schema import validate_conversation
from tooljudge.eval import judge_data as jdata
from tooljudge.eval import judges as jd
from tooljudge.eval.judge_protocols import chat_renderer, qa_transcripts
from transformers import AutoTokenizer

from tooljudge.models import smollm2_checkpoint


def debate_transcripts(n=4, seed=0):
    """Hand-built one-round debate transcripts (no model needed)."""
    out = []
    for r in generate_extractive(n, seed=seed):
        t = dict(r, protocol="debate", assignment=[0, 1], transcript_id=f"{r['id']}:debate:01", stats={})
        t["turns"] = [{"speaker": "d0", "side": s, "round": 1,
                       "text": f"It is {r['answers'][s]}: <v_quote>{r['answers'][s]}</v_quote>"} for s in (0, 1)]
        out.append(t)
    return out


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(smollm2_checkpoint())


def test_sft_rows_both_orders_correct_label_and_valid(tok):
    ts_ = debate_transcripts(4) + qa_transcripts(generate_prontoqa(4, seed=1))
    rows, report = jdata.judge_sft_rows(ts_)
    assert report.rows == len(rows) == 16
    labels = [r["messages"][-1]["content"] for r in rows]
    assert labels.count("A") == labels.count("B") == 8  # both orders: no position prior to learn
    for t, (r0, r1) in zip(ts_, zip(rows[::2], rows[1::2], strict=True), strict=True):
        shown0 = r0["messages"][-2]["content"]
        correct = t["answers"][t["correct"]]
        assert f"({r0['messages'][-1]['content']}) {correct}" in shown0
        assert f"({r1['messages'][-1]['content']}) {correct}" in r1["messages"][-2]["content"]
        assert r0["messages"][-1]["content"] != r1["messages"][-1]["content"]
        assert validate_conversation({k: v for k, v in r0.items() if k != "meta"}) == []


def test_sft_mask_is_exactly_the_verdict_and_prompt_is_the_eval_prompt(tok):
    rows, _ = jdata.judge_sft_rows(debate_transcripts(2))
    render = chat_renderer(tok, family="chatml")
    for row in rows:
        prep = prepare_example(tok, row, family="chatml")
        ids, mask = prep["input_ids"], prep["assistant_masks"]
        first = mask.index(1)
        assert tok.decode(ids[first:]).rstrip("\n") == row["messages"][-1]["content"] + "<|im_end|>"
        assert sum(mask) == len(ids) - first or tok.decode(ids[first + sum(mask):]).strip() == ""
        # the untrained prefix is, token for token, the prompt the judge eval renders
        assert tok.decode(ids[:first]) == render(row["messages"][:-1])


def test_dpo_pairs_tokenise_through_the_training_pipeline(tok):
    pairs, report = jdata.judge_dpo_pairs(debate_transcripts(3))
    assert report.rows == 6
    for p in pairs:
        assert {p["chosen"][0]["content"], p["rejected"][0]["content"]} == {"A", "B"}
        out = tokenize_pair(tok, p, "chatml", render_prompt, render_completion)
        assert tok.decode(out["chosen_ids"]).startswith(p["chosen"][0]["content"] + "<|im_end|>")
        assert tok.decode(out["prompt_ids"]) == chat_renderer(tok, "chatml")(p["prompt"])
    t = debate_transcripts(1)[0]
    assert pairs[0]["chosen"][0]["content"] == jd.correct_label(t, 0)
    assert pairs[1]["chosen"][0]["content"] == jd.correct_label(t, 1)


def test_cot_pairs_from_samples_with_flipped_fallback():
    t = debate_transcripts(1)[0]
    c0, c1 = jd.correct_label(t, 0), jd.correct_label(t, 1)
    w0 = "B" if c0 == "A" else "A"
    samples = {
        (t["transcript_id"], 0): ["no verdict here", f"Quote checks out. Final answer: ({c0})",
                                  f"Looks odd. Final answer: ({w0})"],
        (t["transcript_id"], 1): [f"Only one view. Final answer: ({c1})"],
    }
    pairs, report = jdata.judge_cot_dpo_pairs([t], samples)
    assert report.rows == 2 and report.flipped_cot_pairs == 1
    assert pairs[0]["chosen"][0]["content"] == f"Quote checks out.\nFinal answer: ({c0})"
    assert pairs[0]["rejected"][0]["content"] == f"Looks odd.\nFinal answer: ({w0})"
    assert pairs[1]["rejected"][0]["content"].startswith("Only one view.\nFinal answer: (")
    assert jd.parse_verdict(pairs[1]["rejected"][0]["content"]) != c1
    sft, rep = jdata.judge_sft_rows([t], cot=True, reasonings={k: v[-1] for k, v in samples.items()})
    assert rep.rows == 1 and rep.skipped == {"no_correct_reasoning": 1}  # order 0's last sample is wrong
    # a reasoning that is missing for a stated reason is counted by that reason; one ending wrong is not
    key1 = (t["transcript_id"], 1)
    _, rep = jdata.judge_sft_rows([t], cot=True, reasonings={k: v[-1] for k, v in samples.items() if k != key1},
                                  missing_reasons={key1: "no_verified_quote"})
    assert rep.rows == 0 and rep.skipped == {"no_correct_reasoning": 1, "no_rationale:no_verified_quote": 1}
    assert jd.other_label("A") == "B" and jd.other_label("B") == "A"
    _, rep = jdata.judge_cot_dpo_pairs([t], {})
    assert rep.skipped == {"no_samples": 2}


@pytest.mark.slow  # ~55 s on a loaded 2-core CPU: a real SFT step and a real DPO step
def test_judge_sft_and_dpo_train_through_the_recipes(tmp_path):
    """train/sft.py and train/dpo.py's builders take the judge JSONL as an ordinary data source."""
    from tooljudge.train.dpo import build_dpo_trainer
    from tooljudge.train.recipe import recipe_from_dict
    from tooljudge.train.sft import build_sft_trainer

    model = ts.tiny_model(tmp_path / "models")
    transcripts = debate_transcripts(2)
    sft_path = jdata.write_jsonl(jdata.judge_sft_rows(transcripts)[0], tmp_path / "judge_sft.jsonl", keep_meta=False)
    dpo_path = jdata.write_jsonl(jdata.judge_dpo_pairs(transcripts)[0], tmp_path / "judge_dpo.jsonl", keep_meta=False)
    for kind, path, build in (("sft", sft_path, build_sft_trainer), ("dpo", dpo_path, build_dpo_trainer)):
        raw = ts.recipe_dict(kind, model, path, tmp_path / f"out_{kind}", max_steps=1, max_length=1024)
        trainer, _, report = build(recipe_from_dict(raw))
        assert report["train"][0]["kept"] == 4 and not report["train"][0]["skipped"], report
        result = trainer.train()
        assert result.training_loss == result.training_loss  # finite, a real step ran

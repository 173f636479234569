"""Judge training data from transcripts: SFT rows and DPO preference pairs.

Why: Kenton et al. (2024) suggest fine-tuning the judge on debate judging. The rows use the toolkit's own
contracts, so ``train/sft.py`` and ``train/dpo.py`` train a judge with no extra code:

- SFT: canonical conversation ``{"messages": judge prompt + assistant verdict, "tools": []}`` for every
  transcript in *both* answer orders (so the verdict label is A and B equally often: no position prior is
  learned).
- DPO: TRL's conversational preference row ``{"prompt", "chosen", "rejected", "tools": []}``: the correct
  label vs the wrong one; with chain of thought, a reasoning that ends in the right verdict vs one that ends
  in the wrong verdict. Reasonings come from a model's own CoT samples (grouped by the verdict they reach);
  when every sample reached the same verdict the missing side is that reasoning with its verdict flipped,
  and the count of such pairs is reported.

The prompt is built by ``tooljudge.eval.judges.judge_messages``, the same function the judge eval uses, and
the non-CoT target is the bare label, the exact next token the eval reads with ``label_probs``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tooljudge.data_prep.jsonl import write_jsonl as _write_jsonl
from tooljudge.eval.judges import (
    correct_label,
    judge_messages,
    other_label,
    parse_verdict,
    verdict_text,
)


@dataclass
class JudgeDataReport:
    """Rows written and rows not written, by reason."""

    rows: int = 0
    skipped: Counter = field(default_factory=Counter)
    flipped_cot_pairs: int = 0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "skipped": dict(self.skipped), "flipped_cot_pairs": self.flipped_cot_pairs}


def blind_view(transcript: dict) -> dict:
    """The transcript with its turns removed: the judge prompt keeps the protocol's system prompt, the question
    and the answers, and loses exactly the transcript block (and the quote note that only comes with it). The
    blind control of a trained judge is trained on these rows: what it learns, it learns without the debate."""
    return {**transcript, "turns": []}


def judge_sft_rows(transcripts: Iterable[dict], cot: bool = False,
                   reasonings: dict[tuple[str, int], str] | None = None,
                   blind: bool = False,
                   missing_reasons: dict[tuple[str, int], str] | None = None) -> tuple[list[dict], JudgeDataReport]:
    """Transcript -> correct verdict, both answer orders. With ``cot`` the target is a reasoning (from
    ``reasonings[(transcript_id, order)]``, which must end in the correct verdict) + 'Final answer: (X)';
    judgements without a correct reasoning are skipped and counted once: as ``no_rationale:<reason>`` where
    ``missing_reasons`` says why the reasoning is missing, else as ``no_correct_reasoning``. ``blind``: prompts
    without the transcript (``blind_view``), the control that tells learning to read the transcript from
    learning the question."""
    rows, report = [], JudgeDataReport()
    for t in transcripts:
        for order in (0, 1):
            label = correct_label(t, order)
            reasoning = ""
            if cot:
                key = (t["transcript_id"], order)
                reasoning = (reasonings or {}).get(key, "")
                if not reasoning or parse_verdict(reasoning) not in (None, label):
                    why = (missing_reasons or {}).get(key) if not reasoning else None
                    report.skipped[f"no_rationale:{why}" if why else "no_correct_reasoning"] += 1
                    continue
                reasoning = _strip_final(reasoning)
            msgs = judge_messages(blind_view(t) if blind else t, order, cot)
            msgs.append({"role": "assistant", "content": verdict_text(label, cot, reasoning)})
            rows.append({"messages": msgs, "tools": [], "meta": _meta(t, order, blind)})
    report.rows = len(rows)
    return rows, report


def judge_dpo_pairs(transcripts: Iterable[dict], blind: bool = False) -> tuple[list[dict], JudgeDataReport]:
    """Correct label (chosen) vs wrong label (rejected) for each transcript in both orders (``blind``: prompts
    without the transcript, as in ``judge_sft_rows``)."""
    rows, report = [], JudgeDataReport()
    for t in transcripts:
        for order in (0, 1):
            label = correct_label(t, order)
            rows.append({"prompt": judge_messages(blind_view(t) if blind else t, order, False),
                         "chosen": [{"role": "assistant", "content": verdict_text(label, False)}],
                         "rejected": [{"role": "assistant", "content": verdict_text(other_label(label), False)}],
                         "tools": [], "meta": _meta(t, order, blind)})
    report.rows = len(rows)
    return rows, report


def judge_cot_dpo_pairs(transcripts: Sequence[dict], samples: dict[tuple[str, int], list[str]]
                        ) -> tuple[list[dict], JudgeDataReport]:
    """CoT pairs from sampled judge reasonings ``samples[(transcript_id, order)]``: chosen = a sample whose
    verdict is correct, rejected = one whose verdict is wrong. If all samples agree, the missing side is the
    same reasoning with its verdict flipped (counted in ``flipped_cot_pairs``); unparsable samples are
    ignored and keys with none usable are counted as skipped."""
    rows, report = [], JudgeDataReport()
    for t in transcripts:
        for order in (0, 1):
            label = correct_label(t, order)
            texts = samples.get((t["transcript_id"], order), [])
            good = [s for s in texts if parse_verdict(s) == label]
            bad = [s for s in texts if parse_verdict(s) == other_label(label)]
            if not good and not bad:
                report.skipped["no_parsable_sample" if texts else "no_samples"] += 1
                continue
            if good and bad:
                chosen, rejected = _strip_final(good[0]), _strip_final(bad[0])
            else:
                chosen = rejected = _strip_final((good or bad)[0])
                report.flipped_cot_pairs += 1
            rows.append({"prompt": judge_messages(t, order, True),
                         "chosen": [{"role": "assistant", "content": verdict_text(label, True, chosen)}],
                         "rejected": [{"role": "assistant", "content": verdict_text(other_label(label), True, rejected)}],
                         "tools": [], "meta": _meta(t, order)})
    report.rows = len(rows)
    return rows, report


def sample_judge_reasonings(judge, transcripts: Sequence[dict], n: int = 4, max_new_tokens: int = 200,
                            temperature: float = 0.8, seed: int = 0) -> dict[tuple[str, int], list[str]]:
    """CoT samples from a judge ``Agent`` for both orders of every transcript (input of the CoT pairs)."""
    keys = [(t, o) for t in transcripts for o in (0, 1)]
    prompts = [judge.render(judge_messages(t, o, True)) for t, o in keys]
    out: dict[tuple[str, int], list[str]] = {(t["transcript_id"], o): [] for t, o in keys}
    for k in range(n):
        texts = judge.backend.generate(prompts, max_new_tokens=max_new_tokens, temperature=temperature,
                                       seed=seed + k)
        for (t, o), text in zip(keys, texts, strict=True):
            out[(t["transcript_id"], o)].append(text)
    return out


def _strip_final(reasoning: str) -> str:
    import re

    m = re.search(r"final\s+answer", reasoning, re.I)
    return (reasoning[: m.start()] if m else reasoning).strip()


def _meta(t: dict, order: int, blind: bool = False) -> dict:
    meta = {"id": t["id"], "task": t["task"], "protocol": t["protocol"], "order": order,
            "transcript_id": t["transcript_id"]}
    if blind:
        meta["blind"] = True
    return meta


def write_jsonl(rows: Iterable[dict], path: str | Path, keep_meta: bool = True) -> Path:
    """Judge rows as JSON Lines through the one atomic writer; ``keep_meta=False`` drops each row's ``meta``."""
    if not keep_meta:
        rows = ({k: v for k, v in r.items() if k != "meta"} for r in rows)
    return _write_jsonl(rows, path)

"""BFCL multi-turn eval: drive each conversation through the family's chat template, run the calls on BFCL's API
classes, score with BFCL's state and response checks. Also scores saved transcripts offline.

    python eval/bfcl_multi_turn.py --family chatml --transcripts mt_examples.jsonl --output_dir DIR

How a conversation runs (BFCL's ``inference_multi_turn_FC``): for each user turn the model is prompted with the
whole conversation so far and the tools; while its output parses (family parser) to at least one call, the calls
are executed (``bfcl_mt_executor``: methods called as data, never ``eval``), their results appended as tool
messages, and the model is prompted again; the turn ends at an output without calls. After more than
``max_steps`` (BFCL: 20) call steps in one turn the conversation is force-terminated (and fails). In miss_func,
the held-out functions join the tools at their turn, whose user message is BFCL's "I have updated some more
functions you can choose from. What about now?".

All conversations advance together: each round generates one step for every unfinished conversation in one
batched ``backend.generate`` call.

Saved per example (``mt_examples.jsonl``): BFCL's ``result`` shape (raw output per turn per step), the calls and
their results per step, and the verdict; ``mt_metrics.json``: accuracy per category and overall with Wilson 95%
CIs, error types, steps and wall time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tooljudge.eval.bfcl_mt_checker import (
    INFERENCE_ERROR,
    check_transcript,
    decode_step,
    is_long_context,
    json_safe,
)
from tooljudge.eval.bfcl_mt_data import MT_CATEGORIES, load_multi_turn, set_categories, tools_for
from tooljudge.eval.bfcl_mt_executor import ApiEnvironment
from tooljudge.eval.fc_metrics import proportion

from tooljudge.config import cli_parser, setting

MAXIMUM_STEP_LIMIT = 20  # bfcl_eval.constants.default_prompts.MAXIMUM_STEP_LIMIT
ADDED_FUNCTIONS_PROMPT = "I have updated some more functions you can choose from. What about now?"  # BFCL's FC text
EXAMPLES_NAME = "mt_examples.jsonl"
METRICS_NAME = "mt_metrics.json"


@dataclass
class MultiTurnConfig:
    """What to run and how to generate."""

    categories: list[str] = field(default_factory=lambda: ["multi_turn_base"])  # BFCL multi-turn categories
    max_examples: int | None = None  # cap per category (seeded, stratified subsample); None = all 200
    max_new_tokens: int = 256  # per model step
    temperature: float = 0.0  # 0 = greedy
    seed: int = 0  # generation seed and subsample seed
    max_steps: int = MAXIMUM_STEP_LIMIT  # call steps allowed per turn before the conversation is force-terminated
    bfcl_dir: str | None = None  # a folder overriding the installed bfcl-eval data


class Conversation:
    """One entry's conversation as a state machine: ``prompt()`` for the next step, ``feed(output)`` with the
    model's text. ``result`` is BFCL's shape (raw outputs per turn per step)."""

    def __init__(self, entry: dict, tokenizer: Any, family: Any, family_name: str, max_steps: int):
        self.entry = entry
        self.tokenizer = tokenizer
        self.family = family
        self.family_name = family_name
        self.max_steps = max_steps
        self.env = ApiEnvironment(entry["involved_classes"], entry.get("initial_config", {}), is_long_context(entry))
        self.functions = [dict(f) for f in entry["function"]]
        self.messages: list[dict] = []
        self.result: list[list[str]] = []
        self.steps: list[list[dict]] = []  # per turn per step: calls and their results
        self.turn = -1
        self.step = 0
        self.call_count = 0
        self.done = False
        self.force_quit = False
        self.inference_error: str | None = None
        self._start_turn()

    def _start_turn(self) -> None:
        self.turn += 1
        self.step = 0
        if self.turn >= len(self.entry["question"]):
            self.done = True
            return
        turn_messages = list(self.entry["question"][self.turn])
        held_out = (self.entry.get("missed_function") or {}).get(str(self.turn))
        if held_out is not None:
            self.functions.extend(held_out)
            turn_messages = [{"role": "user", "content": ADDED_FUNCTIONS_PROMPT}]
        self.messages.extend(turn_messages)
        self.result.append([])
        self.steps.append([])

    def prompt(self) -> str:
        from tooljudge.data_prep.masking import render_prompt

        return render_prompt(self.tokenizer, self.messages, tools_for(self.functions), family=self.family)

    def fail(self, error: str) -> None:
        """The conversation cannot go on (e.g. it no longer renders): scored as BFCL's inference error."""
        self.inference_error = error
        self.done = True

    def feed(self, output: str) -> None:
        """Record one model step: run its calls and stay in the turn, or end the turn when it made none."""
        from tooljudge.core.tool_parsers import parse_tool_calls

        self.result[-1].append(output)
        calls = decode_step(output, self.family_name)
        parsed = parse_tool_calls(output, self.family_name)
        if not calls:
            text = parsed.content if parsed.failure is None else output.strip()
            self.messages.append({"role": "assistant", "content": text})
            self.steps[-1].append({"calls": [], "results": [], "failure": parsed.failure})
            self._start_turn()
            return
        results = self.env.execute(calls)
        tool_calls = []
        for call in calls:
            self.call_count += 1
            tool_calls.append({"id": f"call{self.call_count:05d}", "type": "function",
                               "function": {"name": call.name, "arguments": call.kwargs}})
        self.messages.append({"role": "assistant", "content": parsed.content, "tool_calls": tool_calls})
        for tc, res in zip(tool_calls, results, strict=True):
            self.messages.append({"role": "tool", "tool_call_id": tc["id"], "name": tc["function"]["name"],
                                  "content": res})
        self.steps[-1].append({"calls": json.loads(json.dumps([c.to_dict() for c in calls], default=repr)),
                               "results": results})
        self.step += 1
        if self.step > self.max_steps:
            self.force_quit = True
            self.done = True

    def transcript(self) -> dict:
        out = {"id": self.entry["id"], "category": self.entry["category"], "result": self.result,
               "steps": self.steps, "force_quit": self.force_quit}
        if self.inference_error:
            out["inference_error"] = self.inference_error
        return out


def run_conversations(backend, tokenizer, entries: list[dict], family: Any = "auto", config: MultiTurnConfig | None = None,
                      progress: bool = False) -> tuple[list[dict], str]:
    """Transcripts of every entry (batched over conversations) and the family name used to parse."""
    from tooljudge.eval.fc_eval import resolve_family_name
    from tqdm.auto import tqdm

    config = config or MultiTurnConfig()
    fam, fam_name = resolve_family_name(family, tokenizer)
    convs = [Conversation(e, tokenizer, fam, fam_name, config.max_steps) for e in entries]
    bar = tqdm(total=sum(len(e["question"]) for e in entries), desc="multi-turn turns", disable=not progress)
    while True:
        active, prompts = [], []
        for c in convs:
            if c.done:
                continue
            try:
                prompts.append(c.prompt())
            except Exception as e:  # noqa: BLE001 - reported per conversation, never dropped
                c.fail(f"render_error: {type(e).__name__}: {e}"[:500])
                continue
            active.append(c)
        if not active:
            break
        outputs = backend.generate(prompts, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                   stop=list(fam.stop_tokens), seed=config.seed)
        for c, out in zip(active, outputs, strict=True):
            before = c.turn
            c.feed(out)
            bar.update(min(c.turn, len(c.entry["question"])) - before)
    bar.close()
    return [c.transcript() for c in convs], fam_name


def score_transcripts(entries: list[dict], transcripts: list[dict], family: str) -> list[dict]:
    """One record per entry: the transcript plus BFCL's verdict (re-executed from the raw outputs)."""
    by_id = {t["id"]: t for t in transcripts}
    records = []
    for e in entries:
        t = by_id[e["id"]]
        if t.get("inference_error"):
            verdict = {"valid": False, "error_type": INFERENCE_ERROR, "error_message": t["inference_error"],
                       "details": {}}
        else:
            verdict = json_safe(check_transcript(e, t["result"], family))
        n_steps = sum(len(turn) for turn in t["result"])
        records.append({**t, "category": e["category"], "correct": verdict["valid"], "error_type": verdict["error_type"],
                        "reason": verdict["error_message"], "details": verdict["details"], "family": family,
                        "turns": len(e["question"]), "turns_run": len(t["result"]), "model_steps": n_steps})
    return records


def compute_mt_metrics(records: list[dict]) -> dict:
    """Accuracy (Wilson 95% CI) per category and overall, error types, steps, force-terminations."""
    def group(rs: list[dict]) -> dict:
        return {"n": len(rs), "accuracy": proportion(sum(r["correct"] for r in rs), len(rs)),
                "error_types": dict(Counter(r["error_type"] for r in rs if r["error_type"])),
                "force_terminated": sum(bool(r.get("force_quit")) for r in rs),
                "mean_model_steps": (sum(r["model_steps"] for r in rs) / len(rs)) if rs else None}

    cats: dict[str, list[dict]] = {}
    for r in records:
        cats.setdefault(r["category"], []).append(r)
    per_cat = {c: group(rs) for c, rs in sorted(cats.items())}
    accs = [m["accuracy"]["value"] for m in per_cat.values() if m["accuracy"]]
    return {"overall": group(records), "categories": per_cat,
            "macro_accuracy": sum(accs) / len(accs) if accs else None,
            "ci_method": "wilson (scipy.stats.binomtest.proportion_ci), 95%"}


def format_mt_table(metrics: dict) -> str:
    lines = [f"{'multi-turn set':<28}{'n':>5}  {'accuracy [95% CI]':>22}  {'forced':>6}  error types"]
    for name, m in {**metrics["categories"], "overall": metrics["overall"]}.items():
        a = m["accuracy"]
        cell = "-" if a is None else f"{100 * a['value']:5.1f} [{100 * a['ci_low']:4.1f},{100 * a['ci_high']:5.1f}]"
        errs = ", ".join(f"{k.split(':', 1)[-1]}={v}" for k, v in sorted(m["error_types"].items()))
        lines.append(f"{name:<28}{m['n']:>5}  {cell:>22}  {m['force_terminated']:>6}  {errs}")
    return "\n".join(lines)


def flat_mt_metrics(metrics: dict, prefix: str = "mt") -> dict[str, float]:
    """``{"mt/multi_turn_base/accuracy": 0.1, ...}`` for the trainer's reporters."""
    flat = {f"{prefix}/{g}/accuracy": float(m["accuracy"]["value"])
            for g, m in {**metrics["categories"], "overall": metrics["overall"]}.items() if m["accuracy"]}
    if metrics.get("macro_accuracy") is not None:
        flat[f"{prefix}/macro_accuracy"] = float(metrics["macro_accuracy"])
    return flat


def evaluate_multi_turn(backend, tokenizer, family: Any = "auto", config: MultiTurnConfig | None = None,
                        entries: list[dict] | None = None, progress: bool = False) -> dict:
    """Run and score: ``{"metrics", "records", "table", "family", "config", "wall_seconds"}``."""
    config = config or MultiTurnConfig()
    if entries is None:
        entries = load_multi_turn(config.categories, config.max_examples, config.seed, config.bfcl_dir)
    start = time.perf_counter()
    transcripts, fam_name = run_conversations(backend, tokenizer, entries, family, config, progress)
    wall = time.perf_counter() - start
    records = score_transcripts(entries, transcripts, fam_name)
    metrics = compute_mt_metrics(records)
    metrics["wall_seconds"] = wall
    return {"metrics": metrics, "records": records, "table": format_mt_table(metrics), "family": fam_name,
            "config": asdict(config), "wall_seconds": wall}


def multi_turn_categories(sets: list[str]) -> list[str]:
    """Categories named by eval-set names (``bfcl_multi_turn``, ``bfcl_multi_turn_<kind>``), in order, unique."""
    cats: list[str] = []
    for s in sets:
        for c in set_categories(s) or ():
            if c not in cats:
                cats.append(c)
    return cats


def multi_turn_config_from(hook_config: Any) -> MultiTurnConfig | None:
    """The multi-turn part of an eval-hook config (its ``sets``, caps and generation settings); None when no set
    is multi-turn."""
    cats = multi_turn_categories(list(getattr(hook_config, "sets", []) or []))
    if not cats:
        return None
    return MultiTurnConfig(categories=cats, max_examples=hook_config.max_examples,
                           max_new_tokens=hook_config.max_new_tokens, temperature=hook_config.temperature,
                           seed=hook_config.seed, bfcl_dir=getattr(hook_config, "bfcl_dir", None))


def is_multi_turn_set(name: str) -> bool:
    return set_categories(name) is not None


def save_multi_turn(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """``mt_metrics.json`` (metrics, config, family) and ``mt_examples.jsonl`` (every transcript and verdict)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / METRICS_NAME, "examples": out / EXAMPLES_NAME}
    from tooljudge.data_prep.jsonl import json_text, write_jsonl

    summary = {k: v for k, v in result.items() if k != "records"}
    paths["metrics"].write_text(json_text(summary, indent=2, default=str, allow_nan=True), encoding="utf-8")
    write_jsonl(result["records"], paths["examples"], allow_nan=True)
    return paths


def read_transcripts(path: str | Path) -> list[dict]:
    """``{"id", "result": [[raw output per step] per turn]}`` rows (our ``mt_examples.jsonl``, or outputs made
    elsewhere in the family's format, in BFCL's ``result`` shape); a bad or duplicate row is an error naming the
    line."""
    from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows

    rows, seen = [], set()
    for lineno, row in iter_rows(path, OUTPUT_LIMITS):
        if not isinstance(row, dict) or "id" not in row or "result" not in row:
            raise ValueError(f"{path}:{lineno}: need {{'id', 'result': [[output, ...], ...]}}")
        if row["id"] in seen:
            raise ValueError(f"{path}:{lineno}: duplicate id {row['id']!r}")
        seen.add(row["id"])
        rows.append(row)
    return rows


def score_saved(transcripts_path: str | Path, family: str, output_dir: str | Path | None = None,
                bfcl_dir: str | None = None) -> dict:
    """Score saved transcripts again (new parser, new checker, or outputs made elsewhere). Entries are found by id
    in every multi-turn category; ids not found are an error."""
    from tooljudge.core.tool_parsers import family_name

    family_name(family)
    transcripts = read_transcripts(transcripts_path)
    cats = sorted({t["id"].rsplit("_", 1)[0] for t in transcripts})
    unknown = [c for c in cats if c not in MT_CATEGORIES]
    if unknown:
        raise ValueError(f"{transcripts_path}: ids of unknown categories {unknown}; expected {MT_CATEGORIES}")
    entries_by_id = {e["id"]: e for e in load_multi_turn(cats, bfcl_dir=bfcl_dir)}
    missing = [t["id"] for t in transcripts if t["id"] not in entries_by_id]
    if missing:
        raise ValueError(f"{transcripts_path}: {len(missing)} ids not in BFCL's data (first: {missing[0]!r})")
    for t in transcripts:
        t.setdefault("category", entries_by_id[t["id"]]["category"])
    entries = [entries_by_id[t["id"]] for t in transcripts]
    records = score_transcripts(entries, transcripts, family)
    metrics = compute_mt_metrics(records)
    result = {"metrics": metrics, "records": records, "table": format_mt_table(metrics), "family": family,
              "config": {"transcripts": str(transcripts_path)}}
    if output_dir is not None:
        result["paths"] = {k: str(v) for k, v in save_multi_turn(result, output_dir).items()}
    return result


@dataclass(kw_only=True)
class MultiTurnScoreArgs:
    """The options of this CLI."""

    family: str = setting(help="output format the transcripts were generated in (parser)")
    transcripts: str = setting(help="JSONL rows {id, result: [[raw output per step] per turn]}")
    output_dir: str = setting(help="where the metrics and per-conversation verdicts go")
    bfcl_dir: str | None = setting(None, "folder overriding the installed bfcl-eval data")


def build_parser():
    return cli_parser(MultiTurnScoreArgs, description=__doc__)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    out = score_saved(args.transcripts, args.family, args.output_dir, args.bfcl_dir)
    print(out["table"])
    print("written: " + ", ".join(out["paths"].values()))


if __name__ == "__main__":
    main()

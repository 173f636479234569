"""DPO variants side by side from one SFT model and one set of on-policy samples, run in parallel.

Sized for one GPU lease (a few minutes): the base model's eval runs beside the SFT; one rounds run (the
"sampling run") trains SFT, evaluates it, samples the SFT model on training prompts and trains its own DPO on
every pair it kept; as soon as its pairs exist, each other variant gets a copy of the SFT stage and a subset of
those pairs (by the call/reply decision they teach, optionally balanced) and trains and evaluates its DPO
with its own settings, all at once. Every variant is then scored against the same SFT model on the same
held-out rows (exact McNemar), so the variants differ only in their DPO pairs and settings.

Report all variants, not the best one: picking the best of several after the fact inflates its p-value.
The sweep file names the variant that the shipped recipe is (``shipped``), chosen before the run.

    python benchmarks/dpo_sweep.py benchmarks/dpo_sweep_gpu.yaml [--deadline SECONDS] [--output-dir DIR]
        [--set key=value ...]      # dotted rounds-recipe keys for every run, e.g. --set eval.max_examples=10
    python benchmarks/dpo_sweep.py --summarize RUN_DIR SWEEP.yaml   # the summary again, from a finished run
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")


@dataclass
class Variant:
    """One DPO run: which of the sampled pairs it trains on and how it differs from the recipe's DPO."""

    name: str
    keep_decisions: list[str] | None = None  # preference_pairs.DECISIONS; None keeps every decision
    decision_balance: float | None = None  # preference_pairs.balance_call_decision ratio; None: no balance
    dpo: dict[str, Any] = field(default_factory=dict)  # dotted keys merged into the recipe's dpo_overrides
    note: str = ""


@dataclass
class SweepConfig:
    recipe: str  # the rounds recipe every run starts from
    output_dir: str
    sampling: dict[str, Any]  # dotted rounds-recipe keys for the sampling run (which pairs sampling keeps)
    primary: Variant  # the DPO the sampling run trains on all the pairs it kept
    variants: list[Variant]
    shipped: str = ""  # the variant the shipped recipe is, named before the run
    # rounds runs at once (the sampling run included; the base eval runs beside them). On an H100 two of them
    # in DPO (16 pairs a step, SmolLM2's 49k-token vocabulary) held 31 and 36 GiB: 5 at once ran out of memory
    max_parallel: int = 2
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted rounds-recipe keys for every run


def load_sweep(path: str | Path, extra: dict[str, Any] | None = None) -> SweepConfig:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    variants = [Variant(name=name, **(spec or {})) for name, spec in (raw.pop("variants") or {}).items()]
    primary_name, primary_spec = next(iter(raw.pop("primary").items()))
    cfg = SweepConfig(variants=variants, primary=Variant(name=primary_name, **(primary_spec or {})), **raw)
    cfg.overrides = {**cfg.overrides, **(extra or {})}
    names = [cfg.primary.name] + [v.name for v in cfg.variants]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: variant names repeat: {names}")
    if cfg.shipped and cfg.shipped not in names:
        raise ValueError(f"{path}: shipped names {cfg.shipped!r}, not one of {names}")
    return cfg


def rounds_recipe(cfg: SweepConfig, variant: Variant, output_dir: Path, sampling: bool) -> dict[str, Any]:
    """The rounds recipe one run of the sweep runs, as a dict (written next to its results)."""
    from tooljudge.train.rounds import apply_dotted

    dotted = {**cfg.overrides, **(cfg.sampling if sampling else {})}
    if not sampling:  # what a recipe would have to say to make this variant's pairs itself
        dotted.update({"on_policy.keep_decisions": variant.keep_decisions,
                       "on_policy.decision_balance": variant.decision_balance})
    dotted.update({f"dpo_overrides.{key}": value for key, value in variant.dpo.items()})
    dotted.update({"output_dir": str(output_dir), "export.enabled": False,
                   "baseline": False})  # the base model is evaluated once, beside the SFT (eval_base)
    return apply_dotted(yaml.safe_load((REPO / cfg.recipe).read_text(encoding="utf-8")), dotted)


def variant_pairs(pairs: list[dict], variant: Variant, family: str, seed: int) -> tuple[list[dict], dict]:
    """The variant's subset of the sampled pairs, with the decision each kept pair teaches counted. The
    decision is ``call_decision`` with the family's parser, as ``on_policy_pairs`` decides it."""
    from tooljudge.data_prep.preference_pairs import balanced_indices, call_decision, keep_decisions_indices

    decisions = [call_decision(p, family) for p in pairs]
    idx = keep_decisions_indices(decisions, variant.keep_decisions)
    if variant.decision_balance is not None:
        idx = [idx[i] for i in balanced_indices([decisions[i] for i in idx], variant.decision_balance, seed)]
    kept = [pairs[i] for i in idx]
    return kept, {"pairs": len(kept), "of_sampled": len(pairs), "by_decision": dict(Counter(decisions[i] for i in idx)),
                  "keep_decisions": variant.keep_decisions, "decision_balance": variant.decision_balance}


def prepare_variant(primary_dir: Path, variant_dir: Path, variant: Variant, family: str, seed: int) -> dict:
    """A variant's run folder: the sampling run's finished SFT stage and its eval (copied: the rounds runner
    reuses finished stages) and the variant's pairs, under an on-policy report the runner reuses instead of
    sampling again."""
    from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows

    r1, v1 = primary_dir / "round_1", variant_dir / "round_1"
    v1.mkdir(parents=True, exist_ok=True)
    for stage in ("sft", "eval_sft"):
        shutil.copytree(r1 / stage, v1 / stage, dirs_exist_ok=True)
    report = json.loads((r1 / "on_policy_report.json").read_text(encoding="utf-8"))
    pairs = [row for _, row in iter_rows(Path(report["pairs_file"]), OUTPUT_LIMITS)] if report.get("pairs_file") else []
    kept, counts = variant_pairs(pairs, variant, family, seed)
    path = variant_dir / "data" / "on_policy_round_1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in kept), encoding="utf-8")
    derived = {**report, "pairs_file": str(path) if kept else None, "pairs": len(kept), "by_decision": counts["by_decision"],
               "derived_from": report.get("pairs_file"), "variant_filter": counts,
               "note": "pairs are a subset of the sampling run's (benchmarks/dpo_sweep.py); by_kind and skipped "
                       "describe the sampling run"}
    (v1 / "on_policy_report.json").write_text(json.dumps(derived, indent=2), encoding="utf-8")
    return counts


def eval_base(rounds_yaml: Path, out_dir: Path) -> None:
    """The base model's eval with the rounds recipe's eval settings (what ``baseline: true`` runs)."""
    from tooljudge.train.model_setup import resolve_model_path
    from tooljudge.train.rounds import eval_setup, evaluate_stage, load_rounds_recipe

    sft, eval_cfg, _ = eval_setup(load_rounds_recipe(rounds_yaml), out_dir.parent / "data")
    evaluate_stage(Path(resolve_model_path(sft.model.name_or_path)), out_dir, eval_cfg, sft.data.family)


def _examples(eval_dir: Path) -> list[dict]:
    from tooljudge.data_prep.jsonl import OUTPUT_LIMITS, iter_rows

    return [row for _, row in iter_rows(eval_dir / "fc_examples.jsonl", OUTPUT_LIMITS)]


def describe_stage(eval_dir: Path, before_dir: Path | None) -> dict[str, Any]:
    """Accuracy with its Wilson CI, rows right per category, and the paired comparison with ``before_dir``."""
    from tooljudge.eval.fc_metrics import wilson_ci
    from tooljudge.eval.paired_stats import correct_by_id, paired_comparison

    rows = _examples(eval_dir)
    right = sum(bool(r["correct"]) for r in rows)
    low, high = wilson_ci(right, len(rows))
    out: dict[str, Any] = {"n": len(rows), "correct": right, "accuracy": right / len(rows), "ci": [low, high],
                           "by_category": {c: sum(1 for r in rows if r["category"] == c and r["correct"])
                                           for c in CATEGORIES},
                           "calls_made": sum(1 for r in rows if r["made_call"])}  # the checker's verdict
    if before_dir is not None:
        c = paired_comparison(correct_by_id(_examples(before_dir)), correct_by_id(rows))
        out["vs_before"] = {"diff": c.diff, "ci": [c.ci_low, c.ci_high], "won": c.wins, "lost": c.losses,
                            "p": c.p_value}
    return out


def not_trained_reason(out: Path, name: str, exit_code: int | None) -> str:
    """Why a variant has no DPO eval: no pairs, a failed or stopped run (its log names the error), or not run."""
    report_path = out / name / "round_1" / "on_policy_report.json"
    if report_path.exists() and not json.loads(report_path.read_text(encoding="utf-8")).get("pairs"):
        return "no pairs"
    if exit_code is not None and exit_code < 0:
        return f"stopped at the deadline (signal {-exit_code})"
    if exit_code:
        return f"failed (exit {exit_code}; logs/{name}.log)"
    return "not run"


def summarize(out: Path, names: list[str], shipped: str, exit_codes: dict[str, int | None] | None = None
              ) -> dict[str, Any]:
    """Base, SFT and every variant's DPO that finished, each against the stage before it on the same rows."""
    base, first = out / "base" / "eval", out / names[0] / "round_1" / "eval_sft"
    summary: dict[str, Any] = {"shipped": shipped, "stages": {}}
    if (base / "fc_examples.jsonl").exists():
        summary["stages"]["base"] = describe_stage(base, None)
    if (first / "fc_examples.jsonl").exists():
        summary["stages"]["sft"] = describe_stage(first, base if "base" in summary["stages"] else None)
    for name in names:
        eval_dir = out / name / "round_1" / "eval_dpo"
        if not (eval_dir / "fc_examples.jsonl").exists():
            reason = not_trained_reason(out, name, (exit_codes or {}).get(name))
            summary["stages"][f"dpo:{name}"] = {"finished": False, "reason": reason}
            continue
        stage = describe_stage(eval_dir, first)
        report = json.loads((out / name / "round_1" / "on_policy_report.json").read_text(encoding="utf-8"))
        stage["pairs"] = {"pairs": report.get("pairs"), "by_decision": report.get("by_decision")}
        summary["stages"][f"dpo:{name}"] = stage
    return summary


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = ["| stage | pairs (call>reply / reply>call / same) | AST accuracy | vs the stage before | "
             + " | ".join(CATEGORIES) + " |", "|" + "---|" * (4 + len(CATEGORIES))]
    for name, s in summary["stages"].items():
        if not s.get("finished", True):
            lines.append(f"| {name} | not trained: {s.get('reason', 'not run')} |" + " |" * (2 + len(CATEGORIES)))
            continue
        label = f"{name} (shipped)" if name == f"dpo:{summary['shipped']}" else name
        d = (s.get("pairs") or {}).get("by_decision") or {}
        pairs = (f"{s['pairs']['pairs']} ({d.get('call_over_reply', 0)} / {d.get('reply_over_call', 0)} / "
                 f"{d.get('same_decision', 0)})") if "pairs" in s else ""
        vs = s.get("vs_before")
        vs_text = (f"{vs['diff']:+.3f} [{vs['ci'][0]:+.2f}, {vs['ci'][1]:+.2f}], {vs['won']} won / {vs['lost']} lost, "
                   f"p = {vs['p']:.2g}") if vs else ""
        cats = " | ".join(str(s["by_category"][c]) for c in CATEGORIES)
        lines.append(f"| {label} | {pairs} | {s['accuracy']:.3f} [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}] (n={s['n']}) | "
                     f"{vs_text} | {cats} |")
    return "\n".join(lines)


def plot_summary(summary: dict[str, Any], path: Path) -> Path:
    """AST accuracy with its 95% CI per stage (left) and rows right per eval category (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = {k: v for k, v in summary["stages"].items() if v.get("finished", True)}
    names = list(stages)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    acc = [stages[n]["accuracy"] for n in names]
    err = [[stages[n]["accuracy"] - stages[n]["ci"][0] for n in names],
           [stages[n]["ci"][1] - stages[n]["accuracy"] for n in names]]
    left.bar(range(len(names)), acc, yerr=err, capsize=4, color="#4c72b0")
    left.set_xticks(range(len(names)), names, rotation=20, ha="right")
    left.set_ylabel("function-call AST accuracy (95% CI)")
    left.set_ylim(0, 1)
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        right.bar([c + i * width for c in range(len(CATEGORIES))], [stages[n]["by_category"][c] for c in CATEGORIES],
                  width=width, label=n)
    right.set_xticks([c + 0.4 - width / 2 for c in range(len(CATEGORIES))], CATEGORIES, rotation=20, ha="right")
    right.set_ylabel("rows right")
    if names:  # no finished stage: no bars, and an empty legend only warns
        right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _launch(cmd: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _readable_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def run_sweep(cfg: SweepConfig, deadline_s: float | None = None, poll_s: float = 2.0) -> dict[str, Any]:
    """Start the base eval and the sampling run, start each variant once the pairs exist, wait (killing what
    is still running at ``deadline_s``), and write ``sweep_summary.{json,md}``."""
    from tooljudge.train.model_setup import resolve_model_path
    from tooljudge.train.recipe import load_recipe
    from tooljudge.train.rounds import load_rounds_recipe

    started = time.time()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    recipes = {}
    for variant, sampling in [(cfg.primary, True)] + [(v, False) for v in cfg.variants]:
        path = out / f"{variant.name}.rounds.yaml"
        path.write_text(yaml.safe_dump(rounds_recipe(cfg, variant, out / variant.name, sampling), sort_keys=False))
        load_rounds_recipe(path)  # each recipe checked before anything runs
        recipes[variant.name] = path
    primary_cfg = load_rounds_recipe(recipes[cfg.primary.name])
    sft = load_recipe(primary_cfg.sft, primary_cfg.sft_overrides)
    resolve_model_path(sft.model.name_or_path)  # the bundled model is converted once, before the runs share it
    py = sys.executable
    procs = {"base": _launch([py, __file__, "--eval-base", str(recipes[cfg.primary.name]), str(out / "base" / "eval")],
                             out / "logs" / "base.log"),
             cfg.primary.name: _launch([py, "train/rounds.py", str(recipes[cfg.primary.name])],
                                       out / "logs" / f"{cfg.primary.name}.log")}
    report = out / cfg.primary.name / "round_1" / "on_policy_report.json"
    waiting, queued = list(cfg.variants), []
    while True:
        if waiting and _readable_json(report):  # written after the pairs file: the pairs are complete
            for v in waiting:
                counts = prepare_variant(out / cfg.primary.name, out / v.name, v, sft.data.family, seed=1001)
                print(f"[sweep] {v.name}: {counts['pairs']} pairs {counts['by_decision']}", flush=True)
                if counts["pairs"]:  # with nothing to train on it is reported as such, not run
                    queued.append(v)
            waiting = []
        training = [n for n, p in procs.items() if n != "base" and p.poll() is None]
        while queued and len(training) < cfg.max_parallel:
            v = queued.pop(0)
            procs[v.name] = _launch([py, "train/rounds.py", str(recipes[v.name])], out / "logs" / f"{v.name}.log")
            training.append(v.name)
        running = [n for n, p in procs.items() if p.poll() is None]
        if not running and not queued:
            break
        if deadline_s is not None and time.time() - started > deadline_s:
            print(f"[sweep] deadline {deadline_s:.0f}s: stopping {running}", flush=True)
            for n in running:
                procs[n].kill()
                procs[n].wait()
            break
        time.sleep(poll_s)
    codes = {n: p.poll() for n, p in procs.items()}
    summary = summarize(out, [cfg.primary.name] + [v.name for v in cfg.variants], cfg.shipped, codes)
    summary.update({"exit_codes": codes, "seconds": round(time.time() - started, 1)})
    (out / "sweep_summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (out / "sweep_summary.md").write_text(summary_markdown(summary) + "\n", encoding="utf-8")
    plot_summary(summary, out / "sweep_summary.png")
    return summary


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--eval-base"]:
        eval_base(Path(argv[1]), Path(argv[2]))
        return
    if argv[:1] == ["--summarize"]:  # again, from a finished sweep folder (its exit codes kept)
        out, sweep = Path(argv[1]), load_sweep(argv[2])
        old = json.loads((out / "sweep_summary.json").read_text(encoding="utf-8"))
        summary = summarize(out, [sweep.primary.name] + [v.name for v in sweep.variants], sweep.shipped,
                            old.get("exit_codes"))
        summary.update({k: old[k] for k in ("exit_codes", "seconds") if k in old})
        (out / "sweep_summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        (out / "sweep_summary.md").write_text(summary_markdown(summary) + "\n", encoding="utf-8")
        plot_summary(summary, out / "sweep_summary.png")
        print(summary_markdown(summary))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep", help="sweep YAML (benchmarks/dpo_sweep_gpu.yaml)")
    p.add_argument("--output-dir", default=None, help="instead of the sweep file's output_dir")
    p.add_argument("--deadline", type=float, default=None, help="stop runs still going after this many seconds")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a dotted rounds-recipe key for every run, value in YAML (e.g. eval.max_examples=10)")
    args = p.parse_args(argv)
    extra = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = load_sweep(args.sweep, extra)
    cfg.output_dir = args.output_dir or cfg.output_dir
    summary = run_sweep(cfg, deadline_s=args.deadline)
    print(summary_markdown(summary))
    print(f"[sweep] exit codes {summary['exit_codes']}, {summary['seconds']:.0f}s")


if __name__ == "__main__":
    main()

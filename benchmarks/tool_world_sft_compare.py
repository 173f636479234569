"""SFT on the 31 built-in tools against SFT on the generated tool world, same recipe and steps, each model scored
on the unseen-tool eval set and BFCL non-live simple / multiple / irrelevance, paired per set (issue 23, item 5).

    python benchmarks/tool_world_sft_compare.py prepare --out runs/tool_world_compare --rows 2000
    python benchmarks/tool_world_sft_compare.py commands --out runs/tool_world_compare --steps 125   # prints them
    python benchmarks/tool_world_sft_compare.py run --out runs/tool_world_compare --steps 125       # runs them
    python benchmarks/tool_world_sft_compare.py compare --out runs/tool_world_compare               # paired tests

``prepare`` writes ``builtin.jsonl`` (31-tool rows), ``world.jsonl`` (generated-tool rows, train side of the tool
split, optionally masked), ``unseen_tools.jsonl`` (eval side: tools no training row shows) and one SFT recipe per
arm (the base recipe with only the data source and output folder changed). ``compare`` pairs the two arms' verdicts
row by row per eval set (exact McNemar, ``tooljudge.eval.paired_stats``) and writes ``comparison.{json,md}``.
The training and eval commands are the project's own CLIs (``train/sft.py``, ``eval/run.py``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ARMS = ("builtin", "world")
EVAL_SETS = ("unseen_tools", "bfcl_simple", "bfcl_multiple", "bfcl_irrelevance")


def _write_jsonl(rows: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def prepare(out: Path, rows: int, seed: int, eval_rows: int, mask_fraction: float, recipe: str,
            split_unit: str = "tool") -> dict:
    """The two training sets (same size, seed and category mix), the unseen-tool eval set and the arm recipes."""
    from tooljudge.data_prep.synthetic import SynthConfig, synthesize
    from tooljudge.data_prep.tool_world_rows import WorldConfig, build_world_eval_set, synthesize_world

    out.mkdir(parents=True, exist_ok=True)
    world = WorldConfig(mask_fraction=mask_fraction, tool_split_unit=split_unit)
    built, built_report = synthesize(SynthConfig(n=rows, seed=seed))
    gen, gen_report = synthesize_world(SynthConfig(n=rows, seed=seed), world)
    _write_jsonl(built, out / "builtin.jsonl")
    _write_jsonl(gen, out / "world.jsonl")
    _write_jsonl(build_world_eval_set(n=eval_rows, seed=1234, world=world), out / "unseen_tools.jsonl")
    base = yaml.safe_load(Path(recipe).read_text(encoding="utf-8"))
    for arm in ARMS:
        arm_recipe = json.loads(json.dumps(base))
        arm_recipe["data"]["sources"] = [{"source": str((out / f"{arm}.jsonl").resolve()), "weight": 1.0}]
        arm_recipe["training"]["output_dir"] = str((out / arm / "sft").resolve())
        (out / arm).mkdir(exist_ok=True)
        (out / arm / "recipe.yaml").write_text(yaml.safe_dump(arm_recipe, sort_keys=False), encoding="utf-8")
    info = {"rows": rows, "seed": seed, "eval_rows": eval_rows, "mask_fraction": mask_fraction, "recipe": recipe,
            "split_unit": split_unit,
            "builtin_report": built_report.to_dict(), "world_report": gen_report.to_dict()}
    (out / "prepare.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def commands(out: Path, steps: int, max_examples: int | None, python: str = sys.executable,
             max_new_tokens: int | None = None) -> list[list[str]]:
    """Per arm: SFT for ``steps`` steps, then the eval of its final model on every set."""
    sets = ",".join(str((out / "unseen_tools.jsonl").resolve()) if s == "unseen_tools" else s for s in EVAL_SETS)
    cmds = []
    for arm in ARMS:
        cmds.append([python, "train/sft.py", str(out / arm / "recipe.yaml"), "--training.max_steps", str(steps)])
        cmd = [python, "eval/run.py", "--model", str(out / arm / "sft"), "--sets", sets, "--family", "qwen25",
               "--output_dir", str(out / arm / "eval")]
        if max_examples:
            cmd += ["--max_examples", str(max_examples)]
        if max_new_tokens:
            cmd += ["--max_new_tokens", str(max_new_tokens)]
        cmds.append(cmd)
    return cmds


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _set_of(record: dict) -> str:
    """The eval set of a verdict: with several sets, ``eval/run.py`` prefixes each id with ``SET_NAME/``; a
    one-set run (the base model's, on the unseen-tool set only) has no prefix, and ``compare`` adds it."""
    rid = str(record["id"])
    prefix = rid.rsplit("/", 1)[0] if "/" in rid else ""
    if prefix.endswith("unseen_tools.jsonl"):
        return "unseen_tools"
    return prefix or str(record.get("category", "other"))


def _bare_id(record: dict) -> str:
    """The row id without the ``SET_NAME/`` prefix (a one-set run, like the base model's, has none)."""
    return str(record["id"]).rsplit("/", 1)[-1]


def _accuracy(records: list[dict]) -> dict:
    """Correct / n with its 95% Wilson CI."""
    from tooljudge.eval.fc_metrics import wilson_ci

    k, n = sum(bool(r["correct"]) for r in records), len(records)
    low, high = wilson_ci(k, n) if n else (float("nan"), float("nan"))
    return {"correct": k, "n": n, "accuracy": k / n if n else None, "ci_low": low, "ci_high": high}


def _paired(before: list[dict], after: list[dict]):
    from tooljudge.eval.paired_stats import correct_by_id, paired_comparison

    return paired_comparison(*(correct_by_id({**r, "id": _bare_id(r)} for r in recs) for recs in (before, after)))


def compare(out: Path) -> dict:
    """Per arm and set: accuracy with its Wilson CI; per set and overall: the paired comparison world vs builtin
    (exact McNemar); irrelevance recall (share of irrelevance rows with no call) per arm. When
    ``OUT/base/eval/fc_examples.jsonl`` exists (the untrained model on the unseen-tool set), its accuracy and its
    paired comparison with each arm on those sets are added."""
    from tooljudge.eval.paired_stats import format_comparison

    arms = list(ARMS) + (["base"] if (out / "base" / "eval" / "fc_examples.jsonl").exists() else [])
    by_arm = {arm: _records(out / arm / "eval" / "fc_examples.jsonl") for arm in arms}
    if "base" in by_arm:  # the base model ran the unseen-tool set alone: its ids carry no set prefix
        by_arm["base"] = [r if "/" in str(r["id"]) else {**r, "id": f"unseen_tools.jsonl/{r['id']}"}
                          for r in by_arm["base"]]
    sets = sorted({_set_of(r) for r in by_arm["builtin"]})
    result: dict = {"accuracy": {}, "world_vs_builtin": {}, "irrelevance_recall": {}, "unseen_tools_by_category": {}}
    lines = ["| set | n | builtin (95% CI) | world (95% CI) | world - builtin (95% CI) | won / lost | p (McNemar) |",
             "|---|---|---|---|---|---|---|"]
    for group in sets + ["all"]:
        in_group = {arm: [r for r in recs if group == "all" or _set_of(r) == group] for arm, recs in by_arm.items()}
        acc = {arm: _accuracy(in_group[arm]) for arm in arms if in_group[arm]}
        result["accuracy"][group] = acc
        c = _paired(in_group["builtin"], in_group["world"])
        result["world_vs_builtin"][group] = c.as_dict()
        cell = {arm: f"{a['accuracy']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]" for arm, a in acc.items()}
        lines.append(f"| {group} | {c.n} | {cell['builtin']} | {cell['world']} | {c.diff:+.3f} "
                     f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}] | {c.wins} / {c.losses} | {c.p_value:.3g} |")
        print(f"{group}: world vs builtin {format_comparison(c)}")
        if "base" in acc and group != "all":
            for arm in ARMS:
                cb = _paired(in_group["base"], in_group[arm])
                result.setdefault(f"{arm}_vs_base", {})[group] = cb.as_dict()
                print(f"{group}: {arm} vs base {format_comparison(cb)}")
    for arm in arms:
        for group in sets:
            irr = [r for r in by_arm[arm] if _set_of(r) == group and r.get("category") == "irrelevance"]
            if irr:
                result["irrelevance_recall"].setdefault(arm, {})[group] = _accuracy(irr)
        unseen = [r for r in by_arm[arm] if _set_of(r) == "unseen_tools"]
        for cat in sorted({str(r.get("category")) for r in unseen}):
            result["unseen_tools_by_category"].setdefault(arm, {})[cat] = _accuracy(
                [r for r in unseen if str(r.get("category")) == cat])
    lines += ["", "| irrelevance recall | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for group in sets:
        cells = [result["irrelevance_recall"].get(arm, {}).get(group) for arm in arms]
        if any(cells):
            lines.append(f"| {group} | " + " | ".join(
                f"{c['accuracy']:.3f} ({c['correct']}/{c['n']})" if c else "not run" for c in cells) + " |")
    (out / "comparison.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out / "comparison.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("prepare", "commands", "run", "compare"))
    p.add_argument("--out", required=True, help="folder for the data, both arms' runs and the comparison")
    p.add_argument("--rows", type=int, default=2000, help="training rows per arm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-rows", type=int, default=400, help="rows of the unseen-tool eval set")
    p.add_argument("--mask-fraction", type=float, default=0.0, help="share of world rows with masked names")
    p.add_argument("--tool-split-unit", choices=("tool", "domain"), default="tool",
                   help="unseen whole tools (default) or whole domains in the eval set")
    p.add_argument("--recipe", default="recipes/smollm2_effect_sft.yaml", help="the SFT recipe both arms share")
    p.add_argument("--steps", type=int, default=125, help="SFT steps for both arms")
    p.add_argument("--max-examples", type=int, default=None, help="cap per eval set (stratified, seeded)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="generation cap per eval row (eval default: 256)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.action in ("prepare", "run"):
        info = prepare(out, args.rows, args.seed, args.eval_rows, args.mask_fraction, args.recipe,
                       args.tool_split_unit)
        print(f"prepared {info['rows']} rows per arm and {info['eval_rows']} unseen-tool eval rows in {out}")
    if args.action in ("commands", "run"):
        for cmd in commands(out, args.steps, args.max_examples, max_new_tokens=args.max_new_tokens):
            print(shlex.join(cmd), flush=True)
            if args.action == "run":
                subprocess.run(cmd, check=True)
    if args.action in ("compare", "run"):
        compare(out)


if __name__ == "__main__":
    main()

"""Measure the generated tool world: tools and domains, rows per minute, filter rates, distinct tools the rows
offer and call, the unseen-tool eval set, and overlap with BFCL's function docs (issue 23).

    python benchmarks/tool_world.py --n 5000 --output benchmarks/results/NAME/tool_world.json
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import re
import time
from collections import Counter
from pathlib import Path

from tooljudge.data_prep.synthetic import SynthConfig
from tooljudge.data_prep.tool_world_rows import (
    ToolSplit,
    WorldConfig,
    build_world_eval_set,
    coverage,
    synthesize_world,
    world_setup,
)


def bfcl_function_docs() -> list[dict]:
    """Every function doc of the installed BFCL v4 entry files (``function`` lists)."""
    docs = []
    for path in sorted((importlib.resources.files("bfcl_eval") / "data").iterdir(), key=lambda p: p.name):
        if path.name.startswith("BFCL_v4_") and path.name.endswith(".json"):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break
                if isinstance(entry, dict):
                    docs.extend(f for f in entry.get("function") or [] if isinstance(f, dict))
    return docs


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def bfcl_overlap(catalog) -> dict:
    """Exact and normalised name matches, tool-description matches, and (for scale) how many generated names
    would match if the domain prefix were dropped."""
    docs = bfcl_function_docs()
    names = {_norm(d["name"]) for d in docs}
    descriptions = {" ".join(str(d.get("description", "")).lower().split()) for d in docs}
    ours = catalog.tools.values()
    return {
        "bfcl_function_docs": len(docs),
        "bfcl_distinct_names": len(names),
        "name_matches": sorted(t.name for t in ours if _norm(t.name) in names),
        "description_matches": sorted(t.name for t in ours if " ".join(
            t.spec["function"]["description"].lower().split()) in descriptions),
        "name_matches_without_domain_prefix": sorted(t.name for t in ours if t.name.split("_", 1)[1] in names),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-n", type=int, default=400)
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)
    world = WorldConfig()
    start = time.perf_counter()
    setup = world_setup(world)
    build_s = time.perf_counter() - start
    catalog, _ = setup
    split = ToolSplit(world.tool_eval_fraction, world.tool_split_salt)
    rows, report = synthesize_world(SynthConfig(n=args.n, seed=args.seed, progress=True), world, setup=setup)
    cov = coverage(rows, catalog)
    start = time.perf_counter()
    evals = build_world_eval_set(n=args.eval_n, setup=setup)
    eval_s = time.perf_counter() - start
    eval_tools = {t["function"]["name"] for r in evals for t in r["tools"]}
    out = {
        "tools": len(catalog), "domains": len(catalog.domains),
        "tools_by_action": dict(Counter(t.action for t in catalog.tools.values())),
        "train_side_tools": sum(split.side(n) == "train" for n in catalog.tools),
        "catalog_and_world_build_s": round(build_s, 2),
        "rows": report.to_dict(),
        "rows_offer_distinct_tools": len(cov.offered), "rows_call_distinct_tools": len(cov.called),
        "rows_domains": len(cov.domains),
        "eval_rows": len(evals), "eval_build_s": round(eval_s, 2), "eval_distinct_tools": len(eval_tools),
        "eval_tools_seen_in_rows": len(eval_tools & cov.offered),
        "bfcl": bfcl_overlap(catalog),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(report.format())
    print(json.dumps({k: v for k, v in out.items() if k not in ("rows", "tools_by_action")}, indent=1))


if __name__ == "__main__":
    main()

"""CPU time and peak memory of the tool-call parsers on hostile outputs, growing in size, against the parsers as
they were before issue 17 (read from git), to show the scan is linear now and was quadratic before.

    python benchmarks/parser_bounds.py [--before 497943f] [--json OUT.json]

Cases: the issue's three (``<function=a>`` x k and ``<tool_call>{`` x k took 18 s at 96 KB; ``[f(a=`` and
k ``-`` raised MemoryError) and a few neighbours, each at 12k, 24k, 48k and 96k characters, on the family whose
parser they hit. Time: ``time.process_time`` (best of 3 now; one run before, in a child stopped after
``--limit`` seconds: the old quadratic runs take seconds, the old fence regex far longer). Memory:
``tracemalloc`` peak in a separate run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
import tracemalloc
import types
from pathlib import Path

from tooljudge.core.tool_parsers import parse_tool_calls

ROOT = Path(__file__).resolve().parents[1]
SIZES = (12_000, 24_000, 48_000, 96_000)
CASES = {  # name -> (family, head, unit, tail)
    "function_tag_repeated": ("llama31", "", "<function=a>", ""),
    "tool_call_open_brace_repeated": ("hermes", "", "<tool_call>{", ""),
    "python_unary_minus": ("llama31", "[f(a=", "-", ""),
    "fence_then_spaces": ("hermes", "<tool_call>```", " ", "x"),
    "end_tokens_repeated": ("hermes", "x", "</s>", ""),
    "json_deep_list": ("hermes", "<tool_call>", "[", ""),
}


def old_parser(rev: str):
    """``parse_tool_calls`` of tooljudge/core/tool_parsers.py at ``rev``, loaded from git without touching the tree."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:tooljudge/core/tool_parsers.py"], capture_output=True,
                         text=True, check=True).stdout
    module = types.ModuleType("tool_parsers_before")
    sys.modules[module.__name__] = module
    exec(compile(src, f"{rev}:tooljudge/core/tool_parsers.py", "exec"), module.__dict__)
    return module.parse_tool_calls


def measure(parse, text: str, family: str, repeats: int) -> dict:
    best, outcome = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        try:
            outcome = parse(text, family).failure or "ok"
        except BaseException as e:  # noqa: BLE001 - the old parsers raised; that is the finding
            outcome = f"raised {type(e).__name__}"
        best = min(best, time.process_time() - start)
    tracemalloc.start()
    try:
        parse(text, family)
    except BaseException:  # noqa: BLE001
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"cpu_s": round(best, 4), "peak_mb": round(peak / 1e6, 2), "outcome": outcome}


def measure_limited(parse, text: str, family: str, limit_s: float) -> dict:
    """``measure`` in a forked child stopped after ``limit_s`` (a backtracking regex cannot be interrupted)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(measure(parse, text, family, 1)))
    child.start()
    child.join(limit_s)
    if child.is_alive():
        child.kill()
        child.join()
        return {"cpu_s": None, "peak_mb": None, "outcome": f"stopped after {limit_s:.0f} s"}
    return queue.get()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="497943f", help="git revision of the parsers before the fix")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--limit", type=float, default=120.0, help="seconds before a run of the old parsers is stopped")
    args = ap.parse_args(argv)
    before = old_parser(args.before)
    rows = []
    print(f"{'case':32s} {'chars':>7s}  {'now s':>7s} {'now MB':>7s} {'now':12s}  {'before s':>8s} {'before MB':>9s} before")
    for name, (family, head, unit, tail) in CASES.items():
        for size in SIZES:
            text = head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail
            now = measure(parse_tool_calls, text, family, 3)
            then = measure_limited(before, text, family, args.limit)
            rows.append({"case": name, "family": family, "chars": len(text), "now": now, "before": then})
            print(f"{name:32s} {len(text):7d}  {now['cpu_s']:7.3f} {now['peak_mb']:7.2f} {now['outcome']:12s}  "
                  f"{_num(then['cpu_s'], 8, 3)} {_num(then['peak_mb'], 9, 2)} {then['outcome']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"before": args.before, "rows": rows}, indent=1))


def _num(value: float | None, width: int, digits: int) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else "-".rjust(width)


if __name__ == "__main__":
    main()

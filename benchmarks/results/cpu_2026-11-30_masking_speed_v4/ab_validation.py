"""Validation before/after in one process: the paths take turns on chunks of the same corpus rows (alternating
order), each figure the median over chunks of (path time / raw time on that chunk), as benchmarks/data_prep.py.

before = prepare_example with the data_prep/schema.py of commit BEFORE swapped in for check_conversation (the
module file is read with `git show BEFORE:data_prep/schema.py` into a temp file and imported under another name);
after = the checkout's schema. Also checks that both give the same ids/masks on every kept row and the same
InvalidRow message on every refused row.
Run from the repo root: OMP_NUM_THREADS=1 python benchmarks/results/cpu_2026-11-30_masking_speed_v4/ab_validation.py
BEFORE N CHUNK [families...]"""

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path[:0] = ["tests", "benchmarks"]
from reference_tokenizers import reference_tokenizer  # noqa: E402
from tooljudge.data_prep import schema  # noqa: E402
from tooljudge.data_prep.masking import MaskConfig, prepare_example, prepare_example_info  # noqa: E402

import data_prep as bdp  # noqa: E402

before_commit, n, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
families = sys.argv[4:] or list(bdp.FAMILIES)
src = subprocess.run(["git", "show", f"{before_commit}:data_prep/schema.py"], capture_output=True, text=True,
                     check=True).stdout
path = os.path.join(tempfile.mkdtemp(), "schema_before.py")
open(path, "w").write(src)
spec = importlib.util.spec_from_file_location("schema_before", path)
old = importlib.util.module_from_spec(spec)
sys.modules["schema_before"] = old
spec.loader.exec_module(old)
new_check = schema.check_conversation


def with_schema(check, fn):
    schema.check_conversation = check  # masking.validate_row imports it from the module at each call
    try:
        return fn()
    finally:
        schema.check_conversation = new_check


print(f"# before={before_commit} after=checkout n={n} chunk={chunk} load={os.getloadavg()}")
print("| family | rows kept | raw ms/row | validate=False | ours before | ours after | after/before | "
      "validation before | validation after | same outputs | same errors | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")


def bench(name: str) -> None:
    tok = reference_tokenizer(bdp.FAMILIES[name][0])
    rows = bdp.corpus_rows(name, n, 0)
    kept, texts, same_err, refused = [], [], 0, 0
    for r in rows:
        outs = []
        for check in (new_check, old.check_conversation):
            try:
                outs.append(("ok", with_schema(check, lambda r=r: prepare_example_info(tok, r, family=name))))
            except Exception as exc:  # noqa: BLE001
                outs.append(("err", f"{type(exc).__name__}: {exc}"))
        if outs[0][0] == "err":
            refused += 1
            same_err += outs[0] == outs[1]
            continue
        assert outs[1][0] == "ok" and outs[0][1].as_dict() == outs[1][1].as_dict() \
            and outs[0][1].text == outs[1][1].text, name
        kept.append(r)
        texts.append(outs[0][1].text)
    paths = {
        "raw": lambda i: tok(texts[i], add_special_tokens=False),
        "noval": lambda i: prepare_example(tok, kept[i], family=name, config=MaskConfig(validate=False)),
        "before": lambda i: with_schema(old.check_conversation, lambda: prepare_example(tok, kept[i], family=name)),
        "after": lambda i: prepare_example(tok, kept[i], family=name),
    }
    order, chunks, loads = list(paths), [], []
    for c, lo in enumerate(range(0, len(kept), chunk)):
        idx = range(lo, min(lo + chunk, len(kept)))
        times = {}
        for p in order if c % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            for i in idx:
                paths[p](i)
            times[p] = time.perf_counter() - t0
        chunks.append(times)
        loads.append(os.getloadavg()[0])

    def med(f):
        return statistics.median(f(t) for t in chunks)

    raw_ms = 1e3 * sum(t["raw"] for t in chunks) / len(kept)
    print(f"| {name} | {len(kept)} | {raw_ms:.2f} | {med(lambda t: t['noval'] / t['raw']):.2f}x "
          f"| {med(lambda t: t['before'] / t['raw']):.2f}x | **{med(lambda t: t['after'] / t['raw']):.2f}x** "
          f"| {med(lambda t: t['after'] / t['before']):.2f}x "
          f"| {med(lambda t: (t['before'] - t['noval']) / t['raw']):.2f}x "
          f"| {med(lambda t: (t['after'] - t['noval']) / t['raw']):.2f}x "
          f"| {len(kept)}/{len(kept)} | {same_err}/{refused} | {min(loads):.1f}-{max(loads):.1f} |", flush=True)


for name in families:
    bench(name)


def validation_only(name: str, rounds: int = 10) -> None:
    """The validation alone (masking.validate_row), before and after, beside raw: every round runs the three
    paths over all rows in alternating order; figures are medians over rounds of (path time / raw time)."""
    from tooljudge.data_prep.masking import validate_row

    tok = reference_tokenizer(bdp.FAMILIES[name][0])
    rows, texts = [], []
    for r in bdp.corpus_rows(name, n, 0):
        try:
            texts.append(prepare_example_info(tok, r, family=name).text)
            rows.append(r)
        except Exception:  # noqa: BLE001, S112 - refused rows are left out of every path
            continue
    for r in rows:  # warm the validator caches for both
        assert with_schema(old.check_conversation, lambda r=r: validate_row(r)) == validate_row(r)
    paths = {
        "raw": lambda: [tok(t, add_special_tokens=False) for t in texts],
        "before": lambda: with_schema(old.check_conversation, lambda: [validate_row(r) for r in rows]),
        "after": lambda: [validate_row(r) for r in rows],
    }
    times = []
    for k in range(rounds):
        t = {}
        for p in list(paths) if k % 2 == 0 else list(paths)[::-1]:
            t0 = time.perf_counter()
            paths[p]()
            t[p] = time.perf_counter() - t0
        times.append(t)

    def med(f):
        return statistics.median(f(t) for t in times)

    print(f"| {name} | {len(rows)} | {med(lambda t: t['before'] / t['raw']):.3f}x | "
          f"**{med(lambda t: t['after'] / t['raw']):.3f}x** | {med(lambda t: t['after'] / t['before']):.2f}x | "
          f"{1e3 * med(lambda t: t['before']) / len(rows):.3f} | {1e3 * med(lambda t: t['after']) / len(rows):.3f} "
          f"| {os.getloadavg()[0]:.1f} |", flush=True)


print("\n## validation alone (masking.validate_row), medians over 10 alternating rounds over all rows")
print("| family | rows | before / raw | after / raw | after/before | before ms/row | after ms/row | load |")
print("|---|---|---|---|---|---|---|---|")
for name in families:
    validation_only(name)

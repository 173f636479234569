"""Masking cost per family, side by side on the same rows: raw tokenisation vs tooljudge vs TRL's marker path.

    python benchmarks/data_prep.py --n 1000 --num_proc 1 2 --json out.json | tee out.txt

For every family (with its reference tokenizer), over the same conversations from
``tests/mask_corpus.py`` (multi-turn tool conversations: calls, results, 1-3 rounds; parallel calls
where the family writes them), the paths take turns on chunks of ``--chunk`` conversations, in alternating order
(A B C D, then D C B A, ...), so load from other processes on the shared machine hits all of them alike. Each
ratio is the median over chunks of (path seconds / ``raw`` seconds) on that chunk; the 1-minute load average is
sampled after every chunk (median, min-max):

- ``raw``: ``tokenizer(text, add_special_tokens=False)`` on the already rendered training text (no render, no
  mask): the floor any SFT path pays;
- ``ours``: ``prepare_example`` (validation, render, per-turn prefix checks, one tokenisation, mask);
- ``render+tok``: one render of the whole conversation plus one backend encode (ids; offsets left in Rust), no
  validation and no prefix check: what a check-free render-then-mask path costs on the same template (our floor
  without the proof);
- ``ours-noval``: the same with ``MaskConfig(validate=False)``: masking without the semantic validation (TRL's
  path validates nothing);
- ``ref``: ``prepare_example`` inside ``masking.reference_path()`` (every speed-up off: transformers' sandboxed
  environment, no per-conversation memo, the row normalised again after validation, offsets as a Python list):
  the same algorithm without the issue-21 shortcuts; ``ref==ours`` counts identical ids and masks;
- ``before``: ``prepare_example`` with the speed-ups added after commit 74c1e6c off (``BEFORE_OFF``): the code
  measured in ``cpu_2026-11-30_masking_speed_v2``, on the same rows in the same run (``ours/before``);
- ``trl``: ``apply_chat_template(..., return_assistant_tokens_mask=True)`` with TRL's ``{% generation %}``
  template where TRL ships one for the family (``qwen2_5_training.jinja`` for ``qwen25``,
  ``llama3_training.jinja`` for ``llama31``), else n/a. ``trl tok`` is TRL's tokens per row: TRL's Llama 3
  template writes neither the tools nor the calls, so its llama31 row is shorter text, not the same work.

Rows a family refuses (e.g. text beside calls where the format cannot write it) are left out of every path. Then
``prepare_rows`` (``datasets.map``) on ``--scaling_family`` with each ``--num_proc``, the settings alternating for
``--scaling_reps`` rounds (median conv/s each), with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-only helpers: reference encoders, corpus

# the speed-ups added after commit 74c1e6c (cpu_2026-11-30_masking_speed_v2): off, they give the code measured there
BEFORE_OFF = ("prefix_conversion", "encoding")
# family -> (reference tokenizer, corpus options, TRL training template or None)
FAMILIES = {
    "qwen25": ("smollm2", dict(parallel=True, text_with_calls=True), "qwen2_5_training.jinja"),
    "chatml": ("qwen2", None, None),  # plain chat: the tokenizer's own template has no tools
    "llama31": ("llama31", dict(parallel=False, text_with_calls=False), "llama3_training.jinja"),
    "llama31_meta": ("llama31", dict(parallel=True, text_with_calls=True), None),
    "mistral_v3": ("mistral_v3", dict(parallel=True, text_with_calls=False), None),
    "glm4": ("glm4", dict(parallel=True, text_with_calls=True), None),
    "qwen2_fncall": ("qwen2", dict(parallel=True, text_with_calls=True), None),
}


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _plain_rows(rows: list[dict]) -> list[dict]:
    """The corpus rows as plain chat (users and assistant text only) for the tool-less ``chatml`` family."""
    out = []
    for r in rows:
        msgs = [m for m in r["messages"] if m["role"] in ("system", "user")
                or (m["role"] == "assistant" and not m.get("tool_calls"))]
        clean = []
        for m in msgs:  # drop a user turn left without its answer
            if clean and clean[-1]["role"] == m["role"] == "user":
                clean[-1] = m
            else:
                clean.append(m)
        if clean and clean[-1]["role"] == "user":
            clean.pop()
        out.append({"messages": clean, "tools": []})
    return out


def corpus_rows(name: str, n: int, seed: int) -> list[dict]:
    from mask_corpus import CorpusOptions, make_corpus

    opts = FAMILIES[name][1]
    rows = make_corpus(n, CorpusOptions(**(opts or {})), seed=seed)
    return _plain_rows(rows) if opts is None else rows


def _median_ratio(chunks: list[dict], path: str) -> float:
    return statistics.median(c[path] / c["raw"] for c in chunks)


def bench_family(name: str, n: int, seed: int, chunk: int) -> dict:
    import trl
    from reference_tokenizers import reference_tokenizer
    from tooljudge.data_prep.families import _hf_messages, get_family
    from tooljudge.data_prep.masking import MaskConfig, prepare_example, prepare_example_info, reference_path

    tok_name, _, trl_file = FAMILIES[name]
    tok = reference_tokenizer(tok_name)
    family = get_family(name, tokenizer=tok)
    backend = tok.backend_tokenizer
    rows = corpus_rows(name, n, seed)
    kept, texts, fast_out = [], [], []
    for r in rows:
        try:
            info = prepare_example_info(tok, r, family=name)
        except Exception:  # noqa: BLE001 - refused rows are counted and left out of every path
            continue
        kept.append(r)
        texts.append(info.text)
        fast_out.append(info.as_dict())
    hf_rows = [(_hf_messages(r["messages"]), r["tools"] or None) for r in kept]
    from tooljudge.data_prep.masking import canonical_row

    canon = [canonical_row(r) for r in kept]

    def render_tok(i):
        msgs, tools = canon[i]
        return backend.encode(family.render(tok, msgs, tools), add_special_tokens=False).ids

    def ref(i):
        with reference_path():
            return prepare_example(tok, kept[i], family=name)

    def before(i):
        with reference_path(*BEFORE_OFF):
            return prepare_example(tok, kept[i], family=name)

    paths = {
        "raw": lambda i: tok(texts[i], add_special_tokens=False),
        "ours": lambda i: prepare_example(tok, kept[i], family=name),
        "render+tok": render_tok,
        "ours-noval": lambda i: prepare_example(tok, kept[i], family=name, config=MaskConfig(validate=False)),
        "ref": ref,
        "before": before,
    }
    if trl_file:
        trl_tpl = (Path(trl.__file__).parent / "chat_templates" / trl_file).read_text()
        paths["trl"] = lambda i: tok.apply_chat_template(
            hf_rows[i][0], tools=hf_rows[i][1], chat_template=trl_tpl, tokenize=True, return_dict=True,
            return_assistant_tokens_mask=True)
    chunks: list[dict] = []
    loads: list[float] = []
    load_before = _load()
    ref_same = before_same = trl_tokens = 0
    order = list(paths)
    for c, lo in enumerate(range(0, len(kept), chunk)):
        idx = range(lo, min(lo + chunk, len(kept)))
        times = {}
        for pname in (order if c % 2 == 0 else order[::-1]):
            fn = paths[pname]
            t0 = time.perf_counter()
            outs = [fn(i) for i in idx]
            times[pname] = time.perf_counter() - t0
            if pname == "ref":
                ref_same += sum(o == fast_out[lo + j] for j, o in enumerate(outs))
            if pname == "before":
                before_same += sum(o == fast_out[lo + j] for j, o in enumerate(outs))
            if pname == "trl":
                trl_tokens += sum(len(o["input_ids"]) for o in outs)
        chunks.append(times)
        loads.append(os.getloadavg()[0])
    n_tokens = sum(len(o["input_ids"]) for o in fast_out)
    n_turns = sum(sum(m["role"] == "assistant" for m in r["messages"]) for r in kept)
    ratios = {p: _median_ratio(chunks, p) for p in paths if p != "raw"}
    ratios["ours/before"] = statistics.median(c["ours"] / c["before"] for c in chunks)
    if "trl" in paths:
        ratios["ours/trl"] = statistics.median(c["ours"] / c["trl"] for c in chunks)
    raw_s = sum(c["raw"] for c in chunks)
    return {"family": name, "tokenizer": tok_name, "rows": len(kept), "refused": n - len(kept),
            "tokens_per_row": n_tokens / max(1, len(kept)), "assistant_turns_per_row": n_turns / max(1, len(kept)),
            "trl_tokens_per_row": trl_tokens / max(1, len(kept)) if trl_file else None,
            "raw_ms_per_row": 1e3 * raw_s / max(1, len(kept)), "median_ratio": ratios,
            "chunk_seconds": chunks, "ref_identical": ref_same, "before_identical": before_same, "load_before": load_before, "load_after": _load(),
            "load_1min_median": statistics.median(loads), "load_1min_range": [min(loads), max(loads)]}


def scaling(name: str, n: int, seed: int, procs: list[int], reps: int) -> dict:
    """``prepare_rows`` conv/s with each ``num_proc``, the settings alternating over ``reps`` rounds."""
    from datasets.utils.logging import disable_progress_bar
    from reference_tokenizers import reference_tokenizer
    from tooljudge.data_prep.mask_dataset import PrepareConfig, prepare_rows

    disable_progress_bar()
    tok = reference_tokenizer(FAMILIES[name][0])
    rows = corpus_rows(name, n, seed)
    runs: dict[int, list[dict]] = {p: [] for p in procs}
    for rep in range(reps):
        for p in (procs if rep % 2 == 0 else procs[::-1]):
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            _, report = prepare_rows(tok, rows, PrepareConfig(family=name, num_proc=p), progress=False)
            dt = time.perf_counter() - t0
            runs[p].append({"conv_per_s": n / dt, "kept": report.kept, "load_1min": load})
    return {p: {"median_conv_per_s": statistics.median(r["conv_per_s"] for r in rs), "runs": rs}
            for p, rs in runs.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="conversations per family")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    p.add_argument("--num_proc", type=int, nargs="*", default=[1, 2], help="prepare_rows scaling; empty to skip")
    p.add_argument("--scaling_family", default="qwen25", choices=list(FAMILIES))
    p.add_argument("--scaling_n", type=int, default=1000, help="conversations per prepare_rows run")
    p.add_argument("--scaling_reps", type=int, default=4, help="rounds of the num_proc settings (alternating)")
    p.add_argument("--chunk", type=int, default=50, help="conversations per interleaved chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args(argv)
    from tqdm import tqdm

    print(f"CPU threads visible: {os.cpu_count()}; load (1/5/15 min) at start: {_load()}")
    results = [bench_family(f, a.n, a.seed, a.chunk) for f in tqdm(a.families, desc="families")]
    print("median over chunks of (path time / raw tokenisation time) on the same chunk; load = 1-min load average "
          "sampled per chunk, median [min-max]")
    print(f"{'family':13s} {'tokenizer':10s} {'rows':>5s} {'tok/row':>7s} {'turns':>5s} {'raw ms/row':>10s} "
          f"{'ours/raw':>8s} {'r+t/raw':>8s} {'noval/raw':>9s} {'ref/raw':>8s} {'trl/raw':>8s} {'ours/trl':>8s} {'trl tok':>7s} "
          f"{'ref==ours':>11s} {'before':>7s} {'ours/before':>11s}  load")
    for r in results:
        m = r["median_ratio"]
        na = "     n/a"
        trl = f"{m['trl']:7.2f}x" if "trl" in m else na
        vs_trl = f"{m['ours/trl']:7.2f}x" if "trl" in m else na
        trl_tok = f"{r['trl_tokens_per_row']:7.0f}" if "trl" in m else "    n/a"
        print(f"{r['family']:13s} {r['tokenizer']:10s} {r['rows']:5d} {r['tokens_per_row']:7.0f} "
              f"{r['assistant_turns_per_row']:5.2f} {r['raw_ms_per_row']:10.2f} {m['ours']:7.2f}x "
              f"{m['render+tok']:7.2f}x {m['ours-noval']:8.2f}x {m['ref']:7.2f}x {trl} {vs_trl} {trl_tok} {r['ref_identical']:5d}/{r['rows']:<5d} "
              f"{m['before']:6.2f}x {m['ours/before']:10.2f}x"
              f" {r['load_1min_median']:.1f} [{r['load_1min_range'][0]:.1f}-{r['load_1min_range'][1]:.1f}]")
    scale = {}
    if a.num_proc:
        scale = scaling(a.scaling_family, a.scaling_n, a.seed, a.num_proc, a.scaling_reps)
        base = scale[a.num_proc[0]]["median_conv_per_s"]
        for n_proc, s in scale.items():
            loads = [r["load_1min"] for r in s["runs"]]
            each = ", ".join(f"{r['conv_per_s']:.0f}" for r in s["runs"])
            print(f"prepare_rows {a.scaling_family} num_proc={n_proc}: median {s['median_conv_per_s']:.1f} conv/s over "
                  f"{len(s['runs'])} runs ({s['median_conv_per_s'] / base:.2f}x num_proc={a.num_proc[0]}; runs "
                  f"{each}; kept {s['runs'][0]['kept']}/"
                  f"{a.scaling_n}; load {min(loads):.1f}-{max(loads):.1f})")
    print(f"load (1/5/15 min) at end: {_load()}")
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "chunk": a.chunk, "families": results, "num_proc": scale},
                                           indent=1))


if __name__ == "__main__":
    main()

"""Masking cost per family, side by side on the same rows: raw tokenisation vs tooljudge vs TRL's marker path.

    python benchmarks/data_prep.py --n 2000 --num_proc 1 2 | tee out.txt

For every family (with its reference tokenizer), over the same conversations from
``tests/mask_corpus.py`` (multi-turn tool conversations: calls, results, 1-3 rounds; parallel calls
where the family writes them), the paths take turns on chunks of ``--chunk`` conversations, so load from other
processes on the shared machine hits all of them alike:

- ``raw``: ``tokenizer(text, add_special_tokens=False)`` on the already rendered training text (no render, no
  mask): the floor any SFT path pays;
- ``tooljudge``: ``prepare_example`` (validation, render, per-turn prefix checks, one tokenisation, mask);
- ``slow``: the same with the reference render path (transformers' sandboxed environment, no ``tojson`` memo),
  i.e. what the fast environment replaces, and checks that both give identical ids and masks;
- ``trl``: ``apply_chat_template(..., return_assistant_tokens_mask=True)`` with TRL's ``{% generation %}``
  template where TRL ships one for the family (``qwen2_5_training.jinja`` for ``qwen25``,
  ``llama3_training.jinja`` for ``llama31``), else n/a. ``trl tok`` is TRL's tokens per row: TRL's Llama 3
  template writes neither the tools nor the calls, so its llama31 row is shorter text, not the same work.

Rows a family refuses (e.g. text beside calls where the format cannot write it) are left out of every path. Then
``prepare_rows`` (``datasets.map``) with each ``--num_proc`` on ``--scaling_family``. Prints times relative to
``raw`` and ``os.getloadavg()`` before and after each family.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test-only helpers: reference encoders, corpus

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


def bench_family(name: str, n: int, seed: int, chunk: int) -> dict:
    import trl
    from mask_corpus import CorpusOptions, make_corpus
    from reference_tokenizers import reference_tokenizer
    from tooljudge.data_prep import families as fam_mod
    from tooljudge.data_prep.families import _hf_messages
    from tooljudge.data_prep.masking import prepare_example, prepare_example_info

    tok_name, opts, trl_file = FAMILIES[name]
    tok = reference_tokenizer(tok_name)
    rows = make_corpus(n, CorpusOptions(**(opts or {})), seed=seed)
    if opts is None:
        rows = _plain_rows(rows)
    kept, texts, fast_out = [], [], []
    for r in rows:
        try:
            info = prepare_example_info(tok, r, family=name)
        except Exception:  # noqa: BLE001 - refused rows are counted and left out of every path
            continue
        kept.append(r)
        texts.append(info.text)
        fast_out.append(info.as_dict())
    trl_tpl = None
    if trl_file:
        trl_tpl = (Path(trl.__file__).parent / "chat_templates" / trl_file).read_text()
        hf_rows = [(_hf_messages(r["messages"]), r["tools"] or None) for r in kept]

    def slow(i):
        saved = fam_mod._bundled_compiled
        fam_mod._bundled_compiled = lambda template: None  # transformers' sandboxed compile, as before
        try:
            return prepare_example(tok, kept[i], family=name)
        finally:
            fam_mod._bundled_compiled = saved

    paths = {
        "raw": lambda i: tok(texts[i], add_special_tokens=False),
        "tooljudge": lambda i: prepare_example(tok, kept[i], family=name),
        "slow": slow,
    }
    if trl_tpl:
        paths["trl"] = lambda i: tok.apply_chat_template(
            hf_rows[i][0], tools=hf_rows[i][1], chat_template=trl_tpl, tokenize=True, return_dict=True,
            return_assistant_tokens_mask=True)
    seconds = dict.fromkeys(paths, 0.0)
    load_before = _load()
    slow_same = 0
    trl_tokens = 0
    for lo in range(0, len(kept), chunk):
        for pname, fn in paths.items():
            t0 = time.perf_counter()
            outs = [fn(i) for i in range(lo, min(lo + chunk, len(kept)))]
            seconds[pname] += time.perf_counter() - t0
            if pname == "slow":
                slow_same += sum(o == fast_out[lo + j] for j, o in enumerate(outs))
            if pname == "trl":
                trl_tokens += sum(len(o["input_ids"]) for o in outs)
    n_tokens = sum(len(o["input_ids"]) for o in fast_out)
    n_turns = sum(sum(m["role"] == "assistant" for m in r["messages"]) for r in kept)
    return {"family": name, "tokenizer": tok_name, "rows": len(kept), "refused": n - len(kept),
            "tokens_per_row": n_tokens / max(1, len(kept)), "assistant_turns_per_row": n_turns / max(1, len(kept)),
            "trl_tokens_per_row": trl_tokens / max(1, len(kept)) if trl_tpl else None,
            "seconds": seconds, "slow_identical": slow_same, "load_before": load_before, "load_after": _load()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="conversations per family")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    p.add_argument("--num_proc", type=int, nargs="*", default=[1, 2], help="prepare_rows scaling; empty to skip")
    p.add_argument("--scaling_family", default="qwen25", choices=list(FAMILIES))
    p.add_argument("--chunk", type=int, default=100, help="conversations per interleaved chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args(argv)
    from tqdm import tqdm

    print(f"CPU threads visible: {os.cpu_count()}; load (1/5/15 min) at start: {_load()}")
    results = [bench_family(f, a.n, a.seed, a.chunk) for f in tqdm(a.families, desc="families")]
    head = (f"{'family':13s} {'tokenizer':10s} {'rows':>5s} {'tok/row':>7s} {'turns':>5s} {'raw conv/s':>10s} "
            f"{'ours/raw':>8s} {'slow/raw':>8s} {'trl/raw':>7s} {'ours/trl':>8s} {'trl tok':>7s} {'slow==ours':>10s}  load before->after")
    print(head)
    for r in results:
        s = r["seconds"]
        trl = f"{s['trl'] / s['raw']:6.2f}x" if "trl" in s else "    n/a"
        vs_trl = f"{s['tooljudge'] / s['trl']:7.2f}x" if "trl" in s else "     n/a"
        trl_tok = f"{r['trl_tokens_per_row']:7.0f}" if "trl" in s else "    n/a"
        print(f"{r['family']:13s} {r['tokenizer']:10s} {r['rows']:5d} {r['tokens_per_row']:7.0f} "
              f"{r['assistant_turns_per_row']:5.2f} {r['rows'] / s['raw']:10.0f} {s['tooljudge'] / s['raw']:7.2f}x "
              f"{s['slow'] / s['raw']:7.2f}x {trl} {vs_trl} {trl_tok} {r['slow_identical']:5d}/{r['rows']:<5d} "
              f" {r['load_before']} -> {r['load_after']}")

    scaling = {}
    if a.num_proc:
        from mask_corpus import CorpusOptions, make_corpus
        from reference_tokenizers import reference_tokenizer
        from tooljudge.data_prep.mask_dataset import PrepareConfig, prepare_rows

        tok_name, opts, _ = FAMILIES[a.scaling_family]
        tok = reference_tokenizer(tok_name)
        rows = make_corpus(a.n, CorpusOptions(**(opts or {})), seed=a.seed)
        if opts is None:
            rows = _plain_rows(rows)
        for n_proc in a.num_proc:
            load = _load()
            t0 = time.perf_counter()
            _, report = prepare_rows(tok, rows, PrepareConfig(family=a.scaling_family, num_proc=n_proc),
                                     progress=False)
            dt = time.perf_counter() - t0
            scaling[n_proc] = {"conv_per_s": a.n / dt, "kept": report.kept, "load_before": load}
            base = scaling[a.num_proc[0]]["conv_per_s"]
            print(f"prepare_rows {a.scaling_family} num_proc={n_proc}: {a.n / dt:.1f} conv/s "
                  f"({a.n / dt / base:.2f}x num_proc={a.num_proc[0]}; kept {report.kept}/{a.n}; load {load} -> "
                  f"{_load()})")
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "families": results, "num_proc": scaling}, indent=2))


if __name__ == "__main__":
    main()

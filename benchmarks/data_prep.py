"""Data-prep throughput: our template-exact masks vs TRL's ``{% generation %}`` path vs plain tokenisation.

    python benchmarks/data_prep.py --n 10000 --num_proc 1 2

Conversations: ``tooljudge.data_prep.mask_corpus`` (multi-turn tool conversations: parallel calls, results, 1-3
rounds), tokenizer: the bundled SmolLM2 (ChatML BPE), template: Qwen2.5 (family ``qwen25``).
Paths, each over the same conversations, single process, taking turns on chunks of 250 conversations:
- ``raw_tokenize``: ``tokenizer(text)`` on the already rendered conversation text (no rendering, no mask);
- ``render_tokenize``: one chat-template render + tokenisation (what any SFT path pays at least);
- ``trl_generation_mask``: ``apply_chat_template(..., return_assistant_tokens_mask=True)`` with TRL's
  ``qwen2_5_training.jinja`` (needs ``{% generation %}`` markers in the template);
- ``tooljudge_prepare_example``: ``prepare_example`` (any template, no markers, prefix checks).
Then ``prepare_rows`` (``datasets.map``) with each ``--num_proc``. Prints conversations/s and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _timed(fn, items) -> float:
    t0 = time.perf_counter()
    for it in items:
        fn(it)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--num_proc", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args(argv)

    import trl
    from tooljudge.data_prep.families import _hf_messages, get_family
    from tooljudge.data_prep.mask_corpus import CorpusOptions, make_corpus
    from tooljudge.data_prep.mask_dataset import PrepareConfig, prepare_rows
    from tooljudge.data_prep.masking import prepare_example
    from tooljudge.data_prep.reference_tokenizers import reference_tokenizer
    from tqdm import tqdm

    tok = reference_tokenizer("smollm2")
    rows = make_corpus(a.n, CorpusOptions(parallel=True, text_with_calls=True), seed=a.seed)
    fam = get_family("qwen25")
    hf_rows = [(_hf_messages(r["messages"]), r["tools"]) for r in rows]
    texts = [fam.render(tok, r["messages"], r["tools"]) for r in tqdm(rows, desc="pre-rendering")]
    trl_tpl = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja").read_text()
    n_turns = sum(sum(m["role"] == "assistant" for m in r["messages"]) for r in rows)
    n_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)
    print(f"{a.n} conversations, {n_turns / a.n:.2f} assistant turns and {n_tokens / a.n:.0f} tokens each on "
          f"average; CPU threads visible: {os.cpu_count()}")

    paths = {
        "raw_tokenize": (lambda i: tok(texts[i], add_special_tokens=False)),
        "render_tokenize": (lambda i: tok(fam.render(tok, rows[i]["messages"], rows[i]["tools"]),
                                          add_special_tokens=False)),
        "trl_generation_mask": (lambda i: tok.apply_chat_template(
            hf_rows[i][0], tools=hf_rows[i][1], chat_template=trl_tpl, tokenize=True, return_dict=True,
            return_assistant_tokens_mask=True)),
        "tooljudge_prepare_example": (lambda i: prepare_example(tok, rows[i], family="qwen25")),
    }
    # The paths take turns on chunks of 250 conversations, so load from other processes on a shared machine
    # hits all of them alike.
    results: dict[str, float] = dict.fromkeys(paths, 0.0)
    for lo in tqdm(range(0, a.n, 250), desc="timing (interleaved chunks)"):
        chunk = range(lo, min(lo + 250, a.n))
        for name, fn in paths.items():
            results[name] += _timed(fn, chunk)
    rate = {k: a.n / v for k, v in results.items()}
    print(f"{'path':28s} {'conv/s':>10s} {'time vs raw':>12s}")
    for k, v in rate.items():
        print(f"{k:28s} {v:10.1f} {results[k] / results['raw_tokenize']:11.2f}x")
    ours = results["tooljudge_prepare_example"]
    print(f"ours / render+tokenize time: {ours / results['render_tokenize']:.2f}x; "
          f"ours / TRL time: {ours / results['trl_generation_mask']:.2f}x")

    scaling = {}
    for n_proc in a.num_proc:
        t0 = time.perf_counter()
        ds, report = prepare_rows(tok, rows, PrepareConfig(family="qwen25", num_proc=n_proc), progress=False)
        dt = time.perf_counter() - t0
        scaling[n_proc] = a.n / dt
        print(f"prepare_rows num_proc={n_proc}: {a.n / dt:.1f} conv/s (kept {report.kept}/{a.n})")
    if a.json:
        Path(a.json).write_text(json.dumps({"n": a.n, "seconds": results, "conv_per_s": rate,
                                            "num_proc_conv_per_s": scaling}, indent=2))


if __name__ == "__main__":
    main()

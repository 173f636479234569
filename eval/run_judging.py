"""Protocol comparison from the command line: generate or load judge tasks, run protocols x judge, write
results.json, transcripts, judgements and the accuracy plot.

    python eval/run_judging.py --judge smollm2 --task extractive --n 50 --out runs/judging
"""

from __future__ import annotations

import argparse
import json

from tooljudge.data_prep.judge_tasks import GENERATORS, LOADERS, generate_tasks, load_task
from tooljudge.eval.judge_eval import JudgeEvalConfig, evaluate_judge
from tooljudge.eval.judge_protocols import PROTOCOLS, ProtocolConfig
from tooljudge.eval.judges import JudgeConfig


def _model_path(name: str) -> str:
    if name == "smollm2":
        from tooljudge.models import smollm2_checkpoint

        return str(smollm2_checkpoint())
    return name


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judge", help="model path/hub id, or 'smollm2' for the bundled model")
    ap.add_argument("--plot-from", nargs="+", metavar="RESULTS_JSON",
                    help="only plot: one results.json per judge -> OUT/accuracy_by_judge.png (Figure 2)")
    ap.add_argument("--agent", help="consultant/debater model (default: the judge model)")
    ap.add_argument("--elo-debater", action="append", default=[], metavar="NAME=PATH[@TEMP]",
                    help="add a cross-play debater for Elo (repeat; 2+ needed)")
    ap.add_argument("--task", default="extractive", help=f"generated {sorted(GENERATORS)} or dataset {sorted(LOADERS)}")
    ap.add_argument("--source", help="dataset file / hub id for a dataset task")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--turn-style", default="simultaneous", choices=["simultaneous", "sequential"])
    ap.add_argument("--best-of-n", type=int, default=1)
    ap.add_argument("--word-limit", type=int, default=60)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--cot", action="store_true")
    ap.add_argument("--few-shot", type=int, default=0)
    ap.add_argument("--one-order", action="store_true", help="judge one random order instead of both")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                    help="transformers backend weights. bfloat16 prefill is faster on CPUs with AVX512-BF16, but "
                         "its rounded logits quantise the A/B label probabilities (measured on SmolLM2: 23 "
                         "distinct values and 8 exact ties in 112 verdicts, vs 136 distinct and 0 ties in 184 "
                         "in float32), so judge in float32")
    ap.add_argument("--towns-per-article", type=int, default=3, help="extractive generator: article length")
    ap.add_argument("--elo-rows", type=int, help="questions used for Elo cross-play (default: all)")
    ap.add_argument("--backend", default="transformers", choices=["transformers", "vllm", "openai"])
    ap.add_argument("--base-url", help="for --backend openai")
    ap.add_argument("--tokenizer", help="tokenizer (chat template) to render prompts with, when the served model "
                                        "name is not a loadable path (--backend openai)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.plot_from:
        from pathlib import Path

        from tooljudge.eval.judge_plots import plot_results_files

        print(f"wrote {plot_results_files(args.plot_from, Path(args.out) / 'accuracy_by_judge.png')}")
        return
    if not args.judge:
        ap.error("--judge is required (unless --plot-from)")

    from tooljudge.eval.judge_protocols import Agent, chat_renderer
    from transformers import AutoTokenizer

    from tooljudge.core.backends import make_backend

    def agent(path: str, name: str, temperature: float | None = None):
        path = _model_path(path)
        kw = {"batch_size": args.batch_size} if args.backend == "transformers" else {}
        if args.backend == "openai":
            kw["base_url"] = args.base_url
        if args.backend == "transformers":
            backend = make_backend(args.backend, _load(path), tokenizer=AutoTokenizer.from_pretrained(path), **kw)
        else:
            backend = make_backend(args.backend, path, **kw)
        tok = getattr(backend, "tokenizer", None) or AutoTokenizer.from_pretrained(args.tokenizer or path)
        if temperature is not None:
            backend = _Tempered(backend, temperature)
        return Agent(backend, chat_renderer(tok), name)

    loaded: dict[str, object] = {}

    def _load(path: str):
        """One copy of each model in memory, however many roles it plays."""
        if path not in loaded:
            import torch
            from transformers import AutoModelForCausalLM

            loaded[path] = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, args.dtype)).eval()
        return loaded[path]

    if args.task in GENERATORS:
        kw = {"towns_per_article": args.towns_per_article} if args.task == "extractive" else {}
        rows = generate_tasks(args.task, args.n, seed=args.seed, **kw)
    else:
        rows, report = load_task(args.task, args.source, seed=args.seed, limit=args.n)
        print(json.dumps({"load_report": report.as_dict()}, indent=1))
    judge = agent(args.judge, "judge")
    elo = {}
    for spec in args.elo_debater:
        name, _, rest = spec.partition("=")
        path, _, temp = rest.partition("@")
        elo[name] = agent(path, name, float(temp) if temp else None)
    cfg = JudgeEvalConfig(
        protocol=ProtocolConfig(rounds=args.rounds, turn_style=args.turn_style, best_of_n=args.best_of_n,
                                word_limit=args.word_limit, max_new_tokens=args.max_new_tokens, seed=args.seed,
                                show_progress=True),
        judge=JudgeConfig(cot=args.cot, few_shot=args.few_shot, both_orders=not args.one_order, seed=args.seed),
        elo_rows=args.elo_rows, seed=args.seed)
    res = evaluate_judge(judge, rows, [p for p in args.protocols.split(",") if p],
                         agent=agent(args.agent, "agent") if args.agent else None,
                         elo_debaters=elo or None, config=cfg, out_dir=args.out, judge_name=args.judge)
    for name, r in res["protocols"].items():
        c = r["normal_ci"]
        print(f"{name:18s} acc {r['accuracy']:.3f}  95% CI [{c['low']:.3f}, {c['high']:.3f}]  "
              f"n={r['n_questions']}  mean position {r['position_bias']['mean_position']['estimate']:.2f}")
    print(f"wrote {res['files']['results']} and {res['files']['plot']} in {res['seconds']} s")


class _Tempered:
    """A backend whose generations always sample at a fixed temperature (a weaker/noisier debater for Elo)."""

    def __init__(self, backend, temperature: float):
        self.backend, self.temperature = backend, temperature

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        return self.backend.generate(prompts, max_new_tokens, self.temperature, stop, seed)

    def label_probs(self, prompts, labels):
        return self.backend.label_probs(prompts, labels)


if __name__ == "__main__":
    main()

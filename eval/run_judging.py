"""Protocol comparison from the command line: generate or load judge tasks, run protocols x judge, write
results.json, transcripts, judgements and the accuracy plot.

    python eval/run_judging.py --judge smollm2 --task extractive --n 50 --out runs/judging
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tooljudge.data_prep.judge_tasks import GENERATORS, LOADERS, generate_tasks, load_task
from tooljudge.eval.judge_eval import JudgeEvalConfig, evaluate_judge
from tooljudge.eval.judge_protocol_registry import BUILTIN_PROTOCOLS
from tooljudge.eval.judge_protocols import ProtocolConfig
from tooljudge.eval.judges import JudgeConfig

from tooljudge.config import cli_parser, like, pick, setting


def _model_path(name: str) -> str:
    if name == "smollm2":
        from tooljudge.models import smollm2_checkpoint

        return str(smollm2_checkpoint())
    return name


@dataclass(kw_only=True)
class JudgingArgs:
    """The options of this CLI. Those that fill ``ProtocolConfig``, ``JudgeConfig`` and ``JudgeEvalConfig`` are
    those dataclasses' own fields (``like``): same default, same help."""

    judge: str | None = setting(None, "model path/hub id, or 'smollm2' for the bundled model")
    plot_from: list[str] | None = setting(None, "only plot: one results.json per judge -> OUT/accuracy_by_judge.png "
                                          "(Figure 2)", metavar="RESULTS_JSON")
    agent: str | None = setting(None, "consultant/debater model (default: the judge model)")
    task: str = setting("extractive", f"generated {sorted(GENERATORS)} or dataset {sorted(LOADERS)}")
    source: str | None = setting(None, "dataset file / hub id for a dataset task")
    n: int = setting(50, "questions (generated, or the dataset's first)")
    protocols: str = setting(",".join(BUILTIN_PROTOCOLS), "comma-separated protocols")
    rounds: int = like(ProtocolConfig, "rounds")
    turn_style: str = like(ProtocolConfig, "turn_style")
    best_of_n: int = like(ProtocolConfig, "best_of_n")
    word_limit: int = like(ProtocolConfig, "word_limit")
    max_new_tokens: int = like(ProtocolConfig, "max_new_tokens")
    cot: bool = like(JudgeConfig, "cot")
    few_shot: int = like(JudgeConfig, "few_shot")
    one_order: bool = setting(False, "judge one random order instead of both")
    batch_size: int = setting(16, "generation batch (transformers backend)")
    dtype: str = setting("float32", "transformers backend weights. bfloat16 prefill is faster on CPUs with "
                         "AVX512-BF16, but its rounded logits quantise the A/B label probabilities (measured on "
                         "SmolLM2: 23 distinct values and 8 exact ties in 112 verdicts, vs 136 distinct and 0 ties "
                         "in 184 in float32), so judge in float32", choices=("float32", "bfloat16"))
    towns_per_article: int = setting(3, "extractive generator: article length")
    elo_rows: int | None = like(JudgeEvalConfig, "elo_rows")
    backend: str = setting("transformers", "generation backend", choices=("transformers", "vllm", "openai"))
    base_url: str | None = setting(None, "for --backend openai")
    tokenizer: str | None = setting(None, "tokenizer (chat template) to render prompts with, when the served "
                                    "model name is not a loadable path (--backend openai)")
    seed: int = setting(0, "seed of the tasks, the protocols and the judge")
    out: str = setting(help="output folder")


def build_parser():
    ap = cli_parser(JudgingArgs, description=__doc__)
    ap.add_argument("--elo-debater", "--elo_debater", action="append", default=[], metavar="NAME=PATH[@TEMP]",
                    help="add a cross-play debater for Elo (repeat; 2+ needed)")
    return ap


def main(argv: list[str] | None = None) -> None:
    ap = build_parser()
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
        protocol=pick(ProtocolConfig, args, ("rounds", "turn_style", "best_of_n", "word_limit", "max_new_tokens",
                                              "seed"), show_progress=True),
        judge=pick(JudgeConfig, args, ("cot", "few_shot", "seed"), both_orders=not args.one_order),
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

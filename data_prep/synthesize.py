"""Generate executed, filtered synthetic tool-use conversations and print/save the filter report.

    python data_prep/synthesize.py --kind tools --n 5000 --output tools.jsonl
    python data_prep/synthesize.py --kind tools --n 200 --output tools.jsonl --backend model --model PATH
    python data_prep/synthesize.py --kind eval --n 400 --output fc_eval.jsonl      # the built-in eval set
    python data_prep/synthesize.py --kind tools --tools world --n 5000 --output world.jsonl   # 2,772 generated tools
    python data_prep/synthesize.py --kind eval --tools world --n 400 --output unseen.jsonl    # tools training never saw
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tooljudge.data_prep.synthetic import DEFAULT_MIX, SynthConfig, build_fc_eval_set, synthesize
from tooljudge.data_prep.tool_world_rows import WorldConfig, build_world_eval_set, synthesize_world


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=("tools", "eval"), default="tools",
                   help="tools: SFT conversations (train side of the split); eval: the function-call eval set")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True)
    p.add_argument("--report", help="report JSON (default: OUTPUT with .report.json)")
    p.add_argument("--backend", choices=("templated", "model"), default="templated")
    p.add_argument("--model", help="checkpoint folder for --backend model (default: the bundled SmolLM2)")
    p.add_argument("--side", choices=("train", "eval", "none"), default="train",
                   help="which side of the tool-call instance split to generate")
    p.add_argument("--eval-fraction", type=float, default=0.2)
    p.add_argument("--mix", help=f"JSON category weights (default {json.dumps(DEFAULT_MIX)})")
    p.add_argument("--batch-size", type=int, default=8, help="generation batch size for --backend model")
    p.add_argument("--rows-per-batch", type=int, default=32, help="rows rewritten per model call (--backend model)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="per request/answer (--backend model)")
    p.add_argument("--max-attempts-factor", type=int, default=20, help="stop after n * this many attempts")
    p.add_argument("--tools", choices=("builtin", "world"), default="builtin",
                   help="builtin: the 31 executed tools; world: the generated tools over the simulated world "
                        "(split by whole tools, see docs/synthetic.md)")
    p.add_argument("--tool-seed", type=int, default=0, help="--tools world: seed of the tool descriptions/params")
    p.add_argument("--world-seed", type=int, default=0, help="--tools world: seed of the simulated records")
    p.add_argument("--tool-eval-fraction", type=float, default=0.2,
                   help="--tools world: share of whole tools kept for the eval side")
    p.add_argument("--tool-split-unit", choices=("tool", "domain"), default="tool",
                   help="--tools world: hold out whole tools (default) or whole domains for the eval side")
    p.add_argument("--mask-fraction", type=float, default=0.0,
                   help="--tools world: share of kept rows whose tool and parameter names become random identifiers")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    report_path = Path(args.report) if args.report else out.with_suffix(".report.json")
    world = WorldConfig(tool_seed=args.tool_seed, world_seed=args.world_seed,
                        tool_eval_fraction=args.tool_eval_fraction, tool_split_unit=args.tool_split_unit,
                        mask_fraction=args.mask_fraction)
    if args.kind == "eval":
        rows = (build_world_eval_set(n=args.n, seed=args.seed, world=world) if args.tools == "world" else
                build_fc_eval_set(n=args.n, seed=args.seed, eval_fraction=args.eval_fraction))
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"wrote {len(rows)} eval rows to {out}")
        return
    writer = None
    if args.backend == "model":
        from tooljudge.data_prep.model_writer import ModelWriter

        from tooljudge.core.backends import TransformersBackend
        from tooljudge.models import smollm2_checkpoint

        writer = ModelWriter(TransformersBackend(args.model or str(smollm2_checkpoint()),
                                                 batch_size=args.batch_size), seed=args.seed,
                             batch_rows=args.rows_per_batch, max_new_tokens=args.max_new_tokens)
    cfg = SynthConfig(n=args.n, seed=args.seed, side=None if args.side == "none" else args.side,
                      eval_fraction=args.eval_fraction, progress=True,
                      max_attempts_factor=args.max_attempts_factor)
    if args.mix:
        cfg.mix = json.loads(args.mix)
    rows, report = synthesize_world(cfg, world, writer=writer) if args.tools == "world" else \
        synthesize(cfg, writer=writer)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    report_path.write_text(json.dumps(report.to_dict(), indent=2, default=dict))
    print(report.format())
    print(f"wrote {len(rows)} rows to {out} and the report to {report_path}")


if __name__ == "__main__":
    main()

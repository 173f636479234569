"""Generate executed, filtered synthetic tool-use conversations and print/save the filter report.

    python data_prep/synthesize.py --kind tools --n 5000 --output tools.jsonl
    python data_prep/synthesize.py --kind tools --n 200 --output tools.jsonl --backend model --model PATH
    python data_prep/synthesize.py --kind eval --n 400 --output fc_eval.jsonl      # the built-in eval set
    python data_prep/synthesize.py --kind tools --tools world --n 5000 --output world.jsonl   # 2,772 generated tools
    python data_prep/synthesize.py --kind eval --tools world --n 400 --output unseen.jsonl    # tools training never saw
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path

from tooljudge.data_prep.jsonl import write_jsonl
from tooljudge.data_prep.model_writer import ModelWriter
from tooljudge.data_prep.synthetic import DEFAULT_MIX, SynthConfig, build_fc_eval_set, synthesize
from tooljudge.data_prep.tool_world_rows import WorldConfig, build_world_eval_set, synthesize_world

from tooljudge.config import cli_parser, like, setting

EVAL_SEED = inspect.signature(build_fc_eval_set).parameters["seed"].default  # the built-in eval set's (1234)


@dataclass(kw_only=True)
class SynthesizeArgs:
    """The options; those that fill ``SynthConfig``, ``WorldConfig`` and ``ModelWriter`` are their fields."""

    kind: str = setting("tools", "tools: SFT conversations (train side of the split); eval: the function-call "
                        "eval set", choices=("tools", "eval"))
    n: int = like(SynthConfig, "n")
    seed: int | None = setting(None, f"seed (default: {SynthConfig.seed} for --kind tools, as SynthConfig; "
                               f"{EVAL_SEED} for --kind eval, the built-in eval set's)")
    output: str = setting(help="the rows, as JSON Lines")
    report: str | None = setting(None, "report JSON (default: OUTPUT with .report.json)")
    backend: str = setting("templated", "who writes requests and answers", choices=("templated", "model"))
    model: str | None = setting(None, "checkpoint folder for --backend model (default: the bundled SmolLM2)")
    side: str = setting("train", "which side of the tool-call instance split to generate",
                        choices=("train", "eval", "none"))
    eval_fraction: float = like(SynthConfig, "eval_fraction")
    mix: str | None = setting(None, f"JSON category weights (default {json.dumps(DEFAULT_MIX)})")
    batch_size: int = setting(8, "generation batch size for --backend model")
    rows_per_batch: int = like(ModelWriter, "batch_rows", help="rows rewritten per model call (--backend model)")
    max_new_tokens: int = like(ModelWriter, "max_new_tokens", help="per request/answer (--backend model)")
    max_attempts_factor: int = like(SynthConfig, "max_attempts_factor")
    tools: str = setting("builtin", "builtin: the 31 executed tools; world: the generated tools over the "
                         "simulated world (split by whole tools, see docs/synthetic.md)", choices=("builtin", "world"))
    tool_seed: int = like(WorldConfig, "tool_seed")
    world_seed: int = like(WorldConfig, "world_seed")
    tool_eval_fraction: float = like(WorldConfig, "tool_eval_fraction")
    tool_split_unit: str = like(WorldConfig, "tool_split_unit")
    mask_fraction: float = like(WorldConfig, "mask_fraction")


def build_parser():
    return cli_parser(SynthesizeArgs, description=__doc__)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    report_path = Path(args.report) if args.report else out.with_suffix(".report.json")
    seed = args.seed if args.seed is not None else (EVAL_SEED if args.kind == "eval" else SynthConfig.seed)
    world = WorldConfig(tool_seed=args.tool_seed, world_seed=args.world_seed,
                        tool_eval_fraction=args.tool_eval_fraction, tool_split_unit=args.tool_split_unit,
                        mask_fraction=args.mask_fraction)
    if args.kind == "eval":
        rows = (build_world_eval_set(n=args.n, seed=seed, world=world) if args.tools == "world" else
                build_fc_eval_set(n=args.n, seed=seed, eval_fraction=args.eval_fraction))
        write_jsonl(rows, out)
        print(f"wrote {len(rows)} eval rows to {out}")
        return
    writer = None
    if args.backend == "model":
        from tooljudge.core.backends import TransformersBackend
        from tooljudge.models import smollm2_checkpoint

        writer = ModelWriter(TransformersBackend(args.model or str(smollm2_checkpoint()),
                                                 batch_size=args.batch_size), seed=seed,
                             batch_rows=args.rows_per_batch, max_new_tokens=args.max_new_tokens)
    cfg = SynthConfig(n=args.n, seed=seed, side=None if args.side == "none" else args.side,
                      eval_fraction=args.eval_fraction, progress=True,
                      max_attempts_factor=args.max_attempts_factor)
    if args.mix:
        cfg.mix = json.loads(args.mix)
    rows, report = synthesize_world(cfg, world, writer=writer) if args.tools == "world" else \
        synthesize(cfg, writer=writer)
    write_jsonl(rows, out)
    report_path.write_text(json.dumps(report.to_dict(), indent=2, default=dict))
    print(report.format())
    print(f"wrote {len(rows)} rows to {out} and the report to {report_path}")


if __name__ == "__main__":
    main()

"""The eval hook: function-call (and judge) evals inside training, every N steps and at the end.

Why a ``TrainerCallback``: "did this round make the model better at calling tools?" is answered from the
training run itself, through the trainer's own reporters (TensorBoard, W&B: metrics go through
``Trainer.log``), with ``eval_results.json`` written beside each checkpoint so ``eval/run.py --watch`` skips
what the hook already did.

Distributed runs: only the main process generates; the others wait (a broadcast of its error or None, so a
failed eval stops every rank instead of leaving them hanging). The model the callback
receives is already unwrapped from DDP by the Trainer (``trainer.model``, PEFT wrapper kept so adapters are
active). Under DeepSpeed ZeRO-3 / FSDP the weights are sharded: by default the hook skips with a message (use
``eval/run.py --watch`` on the saved checkpoints); ``sharded="gather"`` gathers the full weights on every rank
(``deepspeed.zero.GatheredParameters`` / ``FSDP.summon_full_params``) and generates on rank 0, which needs the
whole model to fit on one device.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tooljudge.data_prep.jsonl import json_text, read_jsonl, write_jsonl
from tooljudge.eval.bfcl_multi_turn import EXAMPLES_NAME as MT_EXAMPLES_NAME
from tooljudge.eval.bfcl_multi_turn import (
    evaluate_multi_turn,
    flat_mt_metrics,
    is_multi_turn_set,
    multi_turn_config_from,
)
from tooljudge.eval.fc_eval import (
    FCEvalConfig,
    evaluate_function_calls,
    load_eval_rows,
)
from tooljudge.eval.fc_metrics import flat_metrics, format_table
from transformers import TrainerCallback

from tooljudge.config import check_keys, setting
from tooljudge.core.ast_checker import CHECKER_MODES

logger = logging.getLogger("tooljudge.eval.hook")
RESULTS_NAME = "eval_results.json"
EXAMPLES_NAME = "fc_examples.jsonl"
JUDGE_EXAMPLES_NAME = "judge_examples.jsonl"  # every judge verdict: question, order, label, right or not
JUDGE_LEAVES = {"accuracy", "low", "high", "rate", "swap_agreement"}  # judge numbers worth a log line


@dataclass
class EvalHookConfig:
    """``sets``: eval sets (``builtin``, ``bfcl``, ``bfcl_<category>``, a JSONL path; ``bfcl_multi_turn`` or
    ``bfcl_multi_turn_<base|miss_func|miss_param|long_context>``: BFCL multi-turn conversations;
    ``judge:<judge rows JSONL>`` adds the judge evals). ``every_n_steps`` None = only at the end."""

    sets: list[str] = setting(default_factory=lambda: ["builtin"], help="eval sets (see the class docstring)")
    every_n_steps: int | None = setting(None, "evaluate every N training steps (None: only at the end)")
    at_end: bool = setting(True, "evaluate when training ends")
    max_examples: int | None = setting(100, "cap per eval set (stratified, seeded); None: every example")
    max_examples_per_set: dict[str, int] = setting(
        default_factory=dict, help="caps of some sets instead of max_examples ({bfcl_simple: 40}): "
        "each key one of sets, each cap at least 1")
    max_new_tokens: int = setting(256, "new tokens per answer")
    batch_size: int = setting(8, "generation batch")
    temperature: float = setting(0.0, "sampling temperature (0: greedy)")
    seed: int = setting(0, "seed of the example cap and of sampling")
    output_dir: str | None = setting(None, "where results go (default: each checkpoint's folder)")
    bfcl_dir: str | None = setting(None, "folder with BFCL_v4_*.json (or v3) and possible_answer/; default: the "
                                   "installed bfcl-eval package")
    checker: str = setting("bfcl", "AST checker: bfcl (BFCL's own verdicts) or strict (tooljudge's refinements, "
                           "docs/eval.md)", choices=CHECKER_MODES)
    sharded: str = setting("skip", "ZeRO-3 / FSDP parameters: skip the eval or gather them",
                           choices=("skip", "gather"))
    judge_protocols: list[str] = setting(default_factory=lambda: ["qa"], help="judge protocols of the judge sets")

    @classmethod
    def from_any(cls, config: Any = None, **overrides: Any) -> EvalHookConfig:
        """From an ``EvalHookConfig``, a dict or None, plus keyword overrides; unknown keys are an error."""
        data = asdict(config) if isinstance(config, EvalHookConfig) else dict(config or {})
        data.update({k: v for k, v in overrides.items() if v is not None})
        check_keys(data, [f.name for f in fields(cls)], "EvalHookConfig")
        cfg = cls(**data)
        if cfg.sharded not in ("skip", "gather"):
            raise ValueError(f"EvalHookConfig.sharded must be 'skip' or 'gather', got {cfg.sharded!r}")
        if cfg.every_n_steps is not None and cfg.every_n_steps < 1:
            raise ValueError(f"EvalHookConfig.every_n_steps must be >= 1 or None, got {cfg.every_n_steps}")
        if not isinstance(cfg.max_examples_per_set, dict):
            raise ValueError("EvalHookConfig.max_examples_per_set must map set names to caps, got "
                             f"{type(cfg.max_examples_per_set).__name__}")
        for name, cap in cfg.max_examples_per_set.items():
            if name not in cfg.sets:
                raise ValueError(f"EvalHookConfig.max_examples_per_set names {name!r}, which is not one of the "
                                 f"sets {cfg.sets}")
            if name.startswith("judge") or is_multi_turn_set(name):  # their own caps: max_examples only
                raise ValueError(f"EvalHookConfig.max_examples_per_set caps single-turn function-call sets; "
                                 f"{name!r} takes max_examples")
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise ValueError(f"EvalHookConfig.max_examples_per_set[{name!r}] must be an integer >= 1, got {cap!r}")
        if cfg.checker not in CHECKER_MODES:
            raise ValueError(f"EvalHookConfig.checker must be one of {CHECKER_MODES}, got {cfg.checker!r}")
        return cfg

    def fc_config(self) -> FCEvalConfig:
        fc = FCEvalConfig(
            sets=[s for s in self.sets if not s.startswith("judge") and not is_multi_turn_set(s)],
            max_examples=self.max_examples,
            max_examples_per_set=dict(self.max_examples_per_set),
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            batch_size=self.batch_size,
            seed=self.seed,
            checker=self.checker,
        )
        if self.bfcl_dir:
            fc.bfcl_dir = self.bfcl_dir
        return fc


def _flatten_numbers(obj: Any, prefix: str, out: dict[str, float], depth: int = 0) -> None:
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        out[prefix] = float(obj)
    elif isinstance(obj, dict) and depth < 4:
        for k, v in obj.items():
            _flatten_numbers(v, f"{prefix}/{k}", out, depth + 1)


def evals_with_backend(backend, tokenizer, family: Any = "auto", config: Any = None) -> dict:
    """Every requested eval through any ``GenerationBackend``: ``{"metrics": flat scalars,
    "function_calls": {...}, "records": [...], "table": str, "judge": {...}}``."""
    cfg = EvalHookConfig.from_any(config)
    out: dict[str, Any] = {"metrics": {}}
    fc_cfg = cfg.fc_config()
    if fc_cfg.sets:
        rows = load_eval_rows(fc_cfg)
        result = evaluate_function_calls(backend, tokenizer, rows, family, fc_cfg)
        out["function_calls"] = result.to_dict()
        out["records"] = result.records
        out["table"] = format_table(result.metrics)
        out["metrics"].update(flat_metrics(result.metrics, "fc"))
    mt_cfg = multi_turn_config_from(cfg)  # bfcl_multi_turn[_<kind>] sets: conversations on BFCL's API classes
    if mt_cfg is not None:
        mt = evaluate_multi_turn(backend, tokenizer, family, mt_cfg)
        out["mt_records"] = mt.pop("records")
        out["multi_turn"] = mt
        out["table"] = (out.get("table", "") + "\n\n" + mt["table"]).strip()
        out["metrics"].update(flat_mt_metrics(mt["metrics"]))
    for spec in cfg.sets:
        if spec.startswith("judge"):
            res = out.setdefault("judge", {})[spec] = _run_judge(backend, tokenizer, spec, cfg)
            for protocol, recs in (res.pop("records", None) or {}).items():  # every question's verdict
                out.setdefault("judge_records", []).extend(dict(r, eval_set=spec, protocol=r.get("protocol", protocol))
                                                           for r in recs)
            nums: dict[str, float] = {}
            _flatten_numbers({k: res.get(k) for k in ("protocols", "by_task_type")}, "judge", nums)
            out["metrics"].update({k: v for k, v in nums.items() if k.rsplit("/", 1)[-1] in JUDGE_LEAVES})
    return out


def run_evals_detailed(model, tokenizer, family: Any = "auto", config: Any = None) -> dict:
    """``evals_with_backend`` on an in-memory model (batched transformers generation)."""
    from tooljudge.core.backends import TransformersBackend

    cfg = EvalHookConfig.from_any(config)
    return evals_with_backend(TransformersBackend(model, tokenizer, batch_size=cfg.batch_size), tokenizer, family, cfg)


def _run_judge(backend, tokenizer, spec: str, cfg: EvalHookConfig) -> dict:
    """``judge:<rows.jsonl>``: the judging engineer's ``evaluate_judge`` over those rows."""
    _, _, path = spec.partition(":")
    if not path:
        raise ValueError("judge eval set needs a rows file: 'judge:<path to judge rows JSONL>'")
    from tooljudge.eval.judge_eval import evaluate_judge

    rows = read_jsonl(path)
    if cfg.max_examples is not None:
        rows = rows[: cfg.max_examples]
    return evaluate_judge(backend, rows, cfg.judge_protocols, tokenizer=tokenizer, keep_records=True)


def run_evals(model, tokenizer, family: Any = "auto", config: Any = None) -> dict:
    """Flat metrics (``fc/<category|overall>/<metric>``, ``judge/...``) of every requested eval."""
    return run_evals_detailed(model, tokenizer, family, config)["metrics"]


def write_results(detailed: dict, target_dir: str | Path, step: int | None) -> Path:
    """``eval_results.json`` (+ ``fc_examples.jsonl`` with every verdict) into ``target_dir``."""
    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    payload = {k: v for k, v in detailed.items() if k not in ("records", "mt_records", "judge_records")}
    payload["step"] = step
    if "records" in detailed:
        write_jsonl(detailed["records"], target / EXAMPLES_NAME, allow_nan=True)
        payload["examples_file"] = EXAMPLES_NAME
    if "judge_records" in detailed:
        write_jsonl(detailed["judge_records"], target / JUDGE_EXAMPLES_NAME, allow_nan=True)
        payload["judge_examples_file"] = JUDGE_EXAMPLES_NAME
    if "mt_records" in detailed:
        write_jsonl(detailed["mt_records"], target / MT_EXAMPLES_NAME, allow_nan=True)
        payload["mt_examples_file"] = MT_EXAMPLES_NAME
    path = target / RESULTS_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json_text(payload, indent=2, default=str, allow_nan=True), encoding="utf-8")
    tmp.replace(path)
    return path


def _find_trainer():
    """TrainerCallback events do not receive the trainer; find the one calling us, so metrics go through
    ``Trainer.log`` (and so every reporter). None when called outside a Trainer."""
    from transformers import Trainer

    frame = inspect.currentframe()
    while frame is not None:
        obj = frame.f_locals.get("self")
        if isinstance(obj, Trainer):
            return obj
        frame = frame.f_back
    return None


def _sharding(trainer, args) -> str | None:
    try:
        from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

        if is_deepspeed_zero3_enabled():
            return "zero3"
    except ImportError:
        pass
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(args, "fsdp", None):
        return "fsdp"
    return None


def _sync_error(args, error: str | None) -> str | None:
    """Rank 0's error (or None) on every rank: a broadcast, so it is also the barrier where the other ranks wait
    while rank 0 generates, and a failed eval stops every rank instead of leaving them hanging."""
    import torch.distributed as dist

    if getattr(args, "world_size", 1) > 1 and dist.is_available() and dist.is_initialized():
        box = [error]
        dist.broadcast_object_list(box, src=0)
        return box[0]
    return error


class EvalHookCallback(TrainerCallback):
    """Run the evals every ``every_n_steps`` and/or at train end; log through the trainer; write
    ``eval_results.json`` beside the checkpoint (``checkpoint-N/``) or, at the end, in ``output_dir``."""

    def __init__(self, tokenizer: Any = None, family: Any = "auto", config: Any = None, trainer: Any = None,
                 **overrides: Any):
        self.config = EvalHookConfig.from_any(config, **overrides)
        self.tokenizer = tokenizer
        self.family = family
        self.trainer = trainer
        self.results: dict[int, dict] = {}  # main process only
        self.evaluated: set[int] = set()  # every rank: steps already handled (ranks must join the same barriers)
        self._warned = False

    # -- events
    def on_train_begin(self, args, state, control, **kwargs):
        if self.trainer is None:
            self.trainer = _find_trainer()
        if self.tokenizer is None:
            self.tokenizer = kwargs.get("processing_class") or kwargs.get("tokenizer")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        n = self.config.every_n_steps
        if n and state.global_step % n == 0 and state.global_step not in self.evaluated:
            self._evaluate(args, state, model, kwargs, control)

    def on_save(self, args, state, control, **kwargs):
        res = self.results.get(state.global_step)
        if res is not None and state.is_world_process_zero:
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                write_results(res, ckpt, state.global_step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if not self.config.at_end:
            return
        if state.global_step not in self.evaluated:
            self._evaluate(args, state, model, kwargs)
        res = self.results.get(state.global_step)
        if res is not None and state.is_world_process_zero:
            path = write_results(res, self.config.output_dir or args.output_dir, state.global_step)
            logger.info("eval results at the end of training: %s", path)

    # -- work
    def _context(self, args, model):
        """(context manager, model to generate with) for the sharding mode; None model = skip."""
        mode = _sharding(self.trainer, args)
        if mode is None:
            return contextlib.nullcontext(), model
        if self.config.sharded == "skip":
            if not self._warned:
                logger.warning(
                    "eval hook: weights are sharded (%s); skipping in-training evals. Evaluate the checkpoints "
                    "with `python eval/run.py --watch %s`, or set eval option sharded: gather (needs the full "
                    "model to fit on one device).", mode, args.output_dir)
                self._warned = True
            return contextlib.nullcontext(), None
        if mode == "zero3":
            import deepspeed

            return deepspeed.zero.GatheredParameters(list(model.parameters()), modifier_rank=None), model
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        wrapped = getattr(self.trainer, "model_wrapped", model)
        inner = wrapped.module if isinstance(wrapped, FSDP) else model
        return FSDP.summon_full_params(wrapped, writeback=False, recurse=True), inner

    def _evaluate(self, args, state, model, kwargs, control=None) -> None:
        model = model if model is not None else getattr(self.trainer, "model", None)
        while hasattr(model, "module") and not hasattr(model, "generate"):
            model = model.module
        tokenizer = self.tokenizer or kwargs.get("processing_class")
        if model is None or tokenizer is None:
            raise RuntimeError("eval hook: the trainer passed no model/tokenizer; give EvalHookCallback(tokenizer=...)")
        ctx, gen_model = self._context(args, model)
        self.evaluated.add(state.global_step)
        if gen_model is None:
            return
        detailed, error, cause = None, None, None
        with ctx:
            if state.is_world_process_zero:
                try:
                    detailed = run_evals_detailed(gen_model, tokenizer, self.family, self.config)
                except Exception as e:  # noqa: BLE001 - re-raised on every rank below
                    error, cause = f"{type(e).__name__}: {e}", e
            error = _sync_error(args, error)  # also the barrier the other ranks wait at
        if error is not None:
            raise RuntimeError(f"eval hook failed at step {state.global_step}: {error}") from cause
        if detailed is None:
            return
        step = state.global_step
        self.results[step] = detailed
        history_dir = Path(self.config.output_dir or args.output_dir) / "eval_results" / f"step-{step:06d}"
        write_results(detailed, history_dir, step)
        logger.info("eval at step %d:\n%s", step, detailed.get("table", ""))
        metrics = detailed["metrics"]
        if self.trainer is not None:
            # Trainer.log -> CallbackHandler.on_log clears control.should_log; the Trainer's own log of this
            # step (and, under DDP, the loss all-gather every rank joins) must still happen.
            should_log = self.trainer.control.should_log
            self.trainer.log(dict(metrics))
            self.trainer.control.should_log = should_log
            if control is not None:
                control.should_log = should_log
        else:
            state.log_history.append({**metrics, "step": step})

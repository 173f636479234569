"""Checkpoint jobs: evaluate one model folder, or watch a run folder and evaluate each checkpoint as it appears.

Why a watcher beside the hook: in-training evals cost training time and cannot run under sharded weights;
evaluating saved checkpoints from another process (or machine) can. Results go to ``eval_results.json``
inside each checkpoint, the same file the hook writes, so whichever ran first wins and nothing is done twice;
an interrupted watcher resumes where it stopped (a result is written atomically, only when complete).
After each checkpoint the run summary is refreshed: a table and one PNG with every metric against the step.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooljudge.eval.hook import RESULTS_NAME, EvalHookConfig, evals_with_backend, write_results

CKPT = re.compile(r"checkpoint-(\d+)$")
WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin", "adapter_model.bin",
                "model.safetensors.index.json")
PLOT_METRICS = ("ast_accuracy", "name_accuracy", "argument_accuracy", "valid_format_rate",
                "hallucinated_function_rate", "irrelevance_recall", "irrelevance_precision")


@dataclass
class JobConfig:
    """Backend and eval settings for checkpoint jobs."""

    backend: str = "transformers"  # transformers | vllm | openai
    base_url: str | None = None  # openai: the server (the checkpoint must be what it serves)
    served_model: str | None = None
    family: str = "auto"
    settle_seconds: float = 30.0  # a checkpoint without trainer_state.json must be this old to count as complete


def has_weights(path: Path) -> bool:
    return any((path / f).exists() for f in WEIGHT_FILES)


def checkpoint_ready(path: Path, settle_seconds: float) -> bool:
    """The Trainer writes ``trainer_state.json`` after the weights; without it, wait until the folder settles."""
    if not has_weights(path):
        return False
    if (path / "trainer_state.json").exists():
        return True
    newest = max((p.stat().st_mtime for p in path.iterdir()), default=0.0)
    return time.time() - newest >= settle_seconds


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` for each ``checkpoint-N``, by step; the run folder itself last when it holds a
    final model (its step read from ``trainer_state.json``, else one past the last checkpoint)."""
    run = Path(run_dir)
    found = sorted((int(m.group(1)), p) for p in run.iterdir() if p.is_dir() and (m := CKPT.match(p.name)))
    if has_weights(run):
        step = None
        state = run / "trainer_state.json"
        if state.exists():
            step = json.loads(state.read_text()).get("global_step")
        if step is None:
            step = (found[-1][0] + 1) if found else 0
        found.append((int(step), run))
    return found


def _backend_and_tokenizer(model_path: str | Path, eval_cfg: EvalHookConfig, job: JobConfig):
    from tooljudge.eval.backends import OpenAIBackend, TransformersBackend, VLLMBackend
    from transformers import AutoTokenizer

    path = Path(model_path)
    if job.backend == "transformers":
        backend = TransformersBackend(str(path), batch_size=eval_cfg.batch_size)
        return backend, backend.tokenizer
    tok_dir = path
    if not (path / "tokenizer_config.json").exists() and (path / "adapter_config.json").exists():
        tok_dir = Path(json.loads((path / "adapter_config.json").read_text())["base_model_name_or_path"])
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    if job.backend == "vllm":
        return VLLMBackend(str(path)), tokenizer
    if job.backend == "openai":
        if not job.base_url:
            raise ValueError("backend openai needs --base_url")
        return OpenAIBackend(job.base_url, job.served_model or str(path)), tokenizer
    raise ValueError(f"unknown backend {job.backend!r}")


def evaluate_model_path(model_path: str | Path, output_dir: str | Path, eval_cfg: Any = None,
                        job: JobConfig | None = None, step: int | None = None) -> dict:
    """Evaluate one checkpoint / adapter folder; writes ``eval_results.json`` + examples into ``output_dir``."""
    job = job or JobConfig()
    cfg = EvalHookConfig.from_any(eval_cfg)
    backend, tokenizer = _backend_and_tokenizer(model_path, cfg, job)
    detailed = evals_with_backend(backend, tokenizer, job.family, cfg)
    detailed["model"] = str(model_path)
    write_results(detailed, output_dir, step)
    return detailed


def load_results(run_dir: str | Path) -> list[tuple[int, dict]]:
    """Every evaluated step: the kept copies in ``eval_summary/results/`` (they survive checkpoint rotation)
    and any ``eval_results.json`` in a checkpoint (e.g. written by the hook), one per step."""
    run = Path(run_dir)
    by_step: dict[int, dict] = {}
    for step, path in list_checkpoints(run):
        f = path / RESULTS_NAME
        if f.exists():
            by_step[step] = json.loads(f.read_text())
    kept = run / "eval_summary" / "results"
    if kept.is_dir():
        for f in kept.glob("step-*.json"):
            by_step[int(f.stem.split("-", 1)[1])] = json.loads(f.read_text())
    return sorted(by_step.items())


def keep_copy(run_dir: str | Path, step: int, checkpoint: Path) -> None:
    """Copy a checkpoint's ``eval_results.json`` into the run summary (``save_total_limit`` may delete it)."""
    kept = Path(run_dir) / "eval_summary" / "results"
    kept.mkdir(parents=True, exist_ok=True)
    (kept / f"step-{step:06d}.json").write_text((checkpoint / RESULTS_NAME).read_text(), encoding="utf-8")


def summary_table(results: list[tuple[int, dict]]) -> str:
    """Markdown: one row per step, overall metrics as percentages."""
    head = "| step | " + " | ".join(PLOT_METRICS) + " |"
    lines = [head, "|" + "---|" * (len(PLOT_METRICS) + 1)]
    for step, res in results:
        m = res.get("metrics", {})
        cells = [f"{100 * m[f'fc/overall/{k}']:.1f}" if f"fc/overall/{k}" in m else "-" for k in PLOT_METRICS]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_results(results: list[tuple[int, dict]], path: str | Path) -> Path:
    """One panel per metric against the training step: overall with its 95% CI band, categories as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True)
    steps = [s for s, _ in results]
    for ax, name in zip(axes.flat, PLOT_METRICS, strict=False):
        vals, lows, highs, pts = [], [], [], []
        cats: dict[str, list[tuple[int, float]]] = {}
        for step, res in results:
            fc = (res.get("function_calls") or {}).get("metrics") or {}
            ov = (fc.get("overall") or {}).get(name)
            if ov:
                pts.append(step)
                vals.append(100 * ov["value"])
                lows.append(100 * ov["ci_low"])
                highs.append(100 * ov["ci_high"])
            for cat, cm in (fc.get("categories") or {}).items():
                if cm.get(name):
                    cats.setdefault(cat, []).append((step, 100 * cm[name]["value"]))
        if pts:
            ax.plot(pts, vals, "o-", color="black", label="overall")
            ax.fill_between(pts, lows, highs, color="grey", alpha=0.25, label="95% CI")
        for cat, series in sorted(cats.items()):
            ax.plot([s for s, _ in series], [v for _, v in series], ".--", alpha=0.7, label=cat)
        ax.set_title(name)
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes.flat[-1].axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        axes.flat[-1].legend(handles, labels, loc="center")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("% of examples")
    fig.suptitle(f"function-call metrics vs step ({len(steps)} checkpoints)")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_summary(run_dir: str | Path) -> dict[str, Path]:
    """``eval_summary/table.md`` and ``eval_summary/metrics.png`` for every evaluated checkpoint."""
    run = Path(run_dir)
    results = load_results(run)
    out = run / "eval_summary"
    out.mkdir(parents=True, exist_ok=True)
    table = out / "table.md"
    table.write_text(summary_table(results) + "\n", encoding="utf-8")
    paths = {"table": table}
    if results:
        paths["plot"] = plot_results(results, out / "metrics.png")
    return paths


def watch(run_dir: str | Path, eval_cfg: Any = None, job: JobConfig | None = None, poll_seconds: float = 60.0,
          idle_exit_seconds: float | None = 3600.0, once: bool = False, log=print) -> list[int]:
    """Evaluate each ready checkpoint without ``eval_results.json``, oldest first; refresh the summary after
    each. ``once``: one pass over what is there. Returns the steps evaluated by this call."""
    job = job or JobConfig()
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"--watch: {run} is not a folder")
    done: list[int] = []
    failed: dict[Path, str] = {}  # not retried by this watcher; the next one tries again
    last_new = time.time()
    while True:
        pending = [(s, p) for s, p in list_checkpoints(run) if not (p / RESULTS_NAME).exists() and p not in failed]
        ready = [(s, p) for s, p in pending if checkpoint_ready(p, job.settle_seconds)]
        for step, path in ready:
            log(f"[eval] step {step}: {path}")
            try:
                evaluate_model_path(path, path, eval_cfg, job, step)
            except Exception as e:  # noqa: BLE001 - e.g. a checkpoint deleted by rotation mid-eval
                failed[path] = f"{type(e).__name__}: {e}"
                log(f"[eval] step {step} FAILED ({failed[path]}); continuing with the others")
                continue
            keep_copy(run, step, path)
            done.append(step)
            last_new = time.time()
            paths = write_summary(run)
            log(f"[eval] step {step} done; summary: {', '.join(str(p) for p in paths.values())}")
        if once:
            if not done:
                write_summary(run)
            return done
        if idle_exit_seconds is not None and time.time() - last_new > idle_exit_seconds:
            log(f"[eval] no new checkpoint for {idle_exit_seconds:.0f}s; stopping")
            return done
        time.sleep(poll_seconds)

"""Checkpoint jobs: evaluate one model folder, or watch a run folder and evaluate each checkpoint as it appears.

Why a watcher beside the hook: in-training evals cost training time and cannot run under sharded weights;
evaluating saved checkpoints from another process (or machine) can. Results go to ``eval_results.json``
inside each checkpoint, the same file the hook writes, so whichever ran first wins and nothing is done twice;
an interrupted watcher resumes where it stopped (a result is written atomically, only when complete).
After each checkpoint the run summary is refreshed: a table and one PNG with every metric against the step.

A checkpoint is evaluated only when complete by the rule training's resume uses
(:mod:`tooljudge.checkpoint_files`: every weights / torch / JSON file whole), so a half-copied one waits and
is tried again on the next scan. Each evaluation is claimed with an ``eval.lock`` file created atomically
(``O_EXCL``) and refreshed while the eval runs, so two watchers on one run never evaluate the same checkpoint;
a claim whose watcher died (same host: its process is gone; any host: not refreshed for
``lock_stale_seconds``) is taken over.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooljudge.data_prep.jsonl import atomic_write_text
from tooljudge.eval.hook import EXAMPLES_NAME, RESULTS_NAME, EvalHookConfig, evals_with_backend, write_results

from tooljudge.checkpoint_files import SHARD_FOLDERS, checkpoint_problems, has_weights
from tooljudge.config import setting

CKPT = re.compile(r"checkpoint-(\d+)$")
LOCK_NAME = "eval.lock"
DONE_NAME = "DONE"  # written by train/run_setup.py after the final model
PLOT_METRICS = ("ast_accuracy", "name_accuracy", "argument_accuracy", "valid_format_rate",
                "hallucinated_function_rate", "irrelevance_recall", "irrelevance_precision")


@dataclass
class JobConfig:
    """Backend and eval settings for checkpoint jobs."""

    backend: str = setting("transformers", "generation backend", choices=("transformers", "vllm", "openai"))
    base_url: str | None = setting(None, "OpenAI-compatible server (backend openai; the checkpoint must be what "
                                   "it serves)")
    served_model: str | None = setting(None, "model name on the server (backend openai)")
    family: str = setting("auto", "chat-template family (auto: from the tokenizer)")
    settle_seconds: float = setting(30.0, "seconds a checkpoint without trainer_state.json must be idle to count "
                                    "as complete")
    lock_stale_seconds: float = setting(600.0, "seconds after which another watcher's unrefreshed eval.lock "
                                        "counts as abandoned")
    lock_refresh_seconds: float = setting(30.0, "how often a running eval refreshes its claim")
    progress: bool = setting(False, "a progress bar over generation (transformers backend)")


def waiting_reason(path: Path, settle_seconds: float) -> str | None:
    """Why ``path`` cannot be evaluated yet, or None when it can: every file complete (loadable, the resume
    rule), and the writer finished (``trainer_state.json`` or ``DONE`` present, else no change for
    ``settle_seconds``)."""
    problems = checkpoint_problems(path, require_trainer_state=False)
    if problems:
        return "incomplete: " + "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    if (path / "trainer_state.json").exists() or (path / DONE_NAME).exists():
        return None
    try:
        newest = max((p.stat().st_mtime for p in path.iterdir()), default=0.0)
    except OSError as e:
        return f"unreadable ({type(e).__name__})"
    age = time.time() - newest
    if age < settle_seconds:
        return f"no trainer_state.json and changed {age:.0f}s ago (waits {settle_seconds:.0f}s to settle)"
    return None


def checkpoint_ready(path: Path, settle_seconds: float) -> bool:
    return waiting_reason(path, settle_seconds) is None


def folder_signature(path: Path) -> tuple | None:
    """Names, sizes and mtimes of a checkpoint's own files (not the watcher's outputs): a failed eval is
    retried once this changes (a copy that was still arriving), never in a loop on the same files."""
    ours = {RESULTS_NAME, EXAMPLES_NAME, LOCK_NAME}  # and any *.jsonl: every eval writes its examples as JSONL
    try:
        files = [p for p in path.iterdir() if p.is_file()]
        for sub in (p for p in path.iterdir() if p.is_dir() and p.name.startswith(SHARD_FOLDERS)):
            files.extend(p for p in sub.rglob("*") if p.is_file())
        return tuple(sorted((str(p.relative_to(path)), st.st_size, st.st_mtime_ns) for p in files
                            if p.name not in ours and not p.name.startswith(LOCK_NAME)
                            and not p.name.endswith((".tmp", ".jsonl"))
                            for st in (p.stat(),)))
    except OSError:
        return None


class Claim:
    """This watcher's ``eval.lock`` on one checkpoint, refreshed (mtime) by a thread until released."""

    def __init__(self, lock: Path, token: str, refresh_seconds: float):
        self.lock, self.token = lock, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, args=(refresh_seconds,), daemon=True)
        self._thread.start()

    def _refresh(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                os.utime(self.lock)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        if _lock_info(self.lock).get("token") == self.token:
            self.lock.unlink(missing_ok=True)


def _lock_info(lock: Path) -> dict:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder_gone(info: dict) -> bool:
    """True only when the claim's process is known to be gone (same host, no such pid)."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    if info["pid"] == os.getpid():
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def try_claim(folder: Path, job: JobConfig) -> Claim | str:
    """Claim ``folder`` for evaluation: a ``Claim``, or a string naming who holds it. The lock file is created
    with ``O_EXCL``, so of two watchers exactly one gets it; an abandoned claim is moved aside with an atomic
    rename (one watcher wins that too) and then claimed."""
    lock = folder / LOCK_NAME
    token = uuid.uuid4().hex
    body = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": token, "since": time.time()})
    for attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = _lock_info(lock)
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue  # released meanwhile: try again
            holder = f"claimed by {info.get('host', '?')} pid {info.get('pid', '?')}, refreshed {age:.0f}s ago"
            if attempt or not (_holder_gone(info) or age > job.lock_stale_seconds):
                return holder
            aside = folder / f"{LOCK_NAME}.abandoned-{token}"
            try:
                os.rename(lock, aside)
            except FileNotFoundError:
                continue  # another watcher moved it first; race it for the new claim
            if _lock_info(aside).get("token") != info.get("token"):  # moved a claim made just now: put it back
                try:
                    os.link(aside, lock)
                except FileExistsError:
                    pass
                aside.unlink(missing_ok=True)
                return holder
            continue
        except OSError as e:
            return f"cannot create {lock.name} ({type(e).__name__}: {e})"
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        return Claim(lock, token, job.lock_refresh_seconds)
    return f"{lock.name} kept changing; not claimed this time"


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` for each ``checkpoint-N``, by step; the run folder itself last when it holds a
    final model (its step read from ``trainer_state.json``, else one past the last checkpoint)."""
    run = Path(run_dir)
    found = sorted((int(m.group(1)), p) for p in run.iterdir() if p.is_dir() and (m := CKPT.match(p.name)))
    if has_weights(run):
        step = None
        state = run / "trainer_state.json"
        try:
            step = json.loads(state.read_text()).get("global_step") if state.exists() else None
        except (OSError, ValueError, AttributeError):
            step = None  # being written: the step is settled on a later scan
        if not isinstance(step, int):
            step = (found[-1][0] + 1) if found else 0
        found.append((int(step), run))
    return found


def _backend_and_tokenizer(model_path: str | Path, eval_cfg: EvalHookConfig, job: JobConfig):
    from transformers import AutoTokenizer

    from tooljudge.core.backends import OpenAIBackend, TransformersBackend, VLLMBackend
    from tooljudge.models import is_adapter_dir

    path = Path(model_path)
    if job.backend == "transformers":
        backend = TransformersBackend(str(path), batch_size=eval_cfg.batch_size, progress=job.progress)
        return backend, backend.tokenizer
    tok_dir = path
    if not (path / "tokenizer_config.json").exists() and is_adapter_dir(path):
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
            by_step[step] = _read_results(f)
    kept = run / "eval_summary" / "results"
    if kept.is_dir():
        for f in kept.glob("step-*.json"):
            by_step[int(f.stem.split("-", 1)[1])] = _read_results(f)
    return sorted(by_step.items())


def _read_results(path: Path) -> dict:
    """One results file, or an error that names it (a hand-edited or truncated file must not surface as a bare
    JSONDecodeError from the summary)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a results file ({type(e).__name__}: {e}); move it away or delete it") from e


def keep_copy(run_dir: str | Path, step: int, checkpoint: Path) -> None:
    """Copy a checkpoint's ``eval_results.json`` into the run summary (``save_total_limit`` may delete it)."""
    kept = Path(run_dir) / "eval_summary" / "results"
    # renamed into place: another watcher's summary reads this folder at any moment and must never see half a file
    atomic_write_text(kept / f"step-{step:06d}.json", (checkpoint / RESULTS_NAME).read_text(encoding="utf-8"))


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
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")  # renamed: a reader never sees half a PNG
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return out


def write_summary(run_dir: str | Path) -> dict[str, Path]:
    """``eval_summary/table.md`` and ``eval_summary/metrics.png`` for every evaluated checkpoint."""
    run = Path(run_dir)
    results = load_results(run)
    out = run / "eval_summary"
    out.mkdir(parents=True, exist_ok=True)
    table = atomic_write_text(out / "table.md", summary_table(results) + "\n")  # two watchers may refresh it
    paths = {"table": table}
    if results:
        paths["plot"] = plot_results(results, out / "metrics.png")
    return paths


def watch(run_dir: str | Path, eval_cfg: Any = None, job: JobConfig | None = None, poll_seconds: float = 60.0,
          idle_exit_seconds: float | None = 3600.0, once: bool = False, log=print, evaluate=None) -> list[int]:
    """Evaluate each complete checkpoint without ``eval_results.json``, oldest first, claiming each (another
    watcher's claim is skipped); refresh the summary after each. An incomplete one is named and tried again
    on the next scan; one whose eval failed is tried again once its files change. ``once``: one pass over
    what is there. ``evaluate``: ``evaluate_model_path`` unless given (tests). Returns the steps this call
    evaluated."""
    job = job or JobConfig()
    evaluate = evaluate or evaluate_model_path
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"--watch: {run} is not a folder")
    done: list[int] = []
    failed: dict[Path, tuple | None] = {}  # folder -> its files when the eval failed
    said: dict[Path, str] = {}  # last reason logged per folder, so a waiting checkpoint is named once per change
    last_new = time.time()

    def note(path: Path, step: int, message: str) -> None:
        if said.get(path) != message:
            said[path] = message
            log(f"[eval] step {step}: {message}")

    while True:
        for step, path in list_checkpoints(run):
            if (path / RESULTS_NAME).exists():
                continue
            signature = folder_signature(path)
            if path in failed and failed[path] == signature:
                continue
            reason = waiting_reason(path, job.settle_seconds)
            if reason:
                note(path, step, f"waiting, {reason}")
                continue
            claim = try_claim(path, job)
            if isinstance(claim, str):
                note(path, step, f"skipped, {claim}")
                continue
            try:
                if (path / RESULTS_NAME).exists():  # another watcher finished it between the scan and the claim
                    continue
                log(f"[eval] step {step}: {path}")
                try:
                    evaluate(path, path, eval_cfg, job, step)
                except Exception as e:  # noqa: BLE001 - e.g. a checkpoint deleted by rotation mid-eval
                    changed = folder_signature(path) != signature or waiting_reason(path, job.settle_seconds)
                    what = "its files changed during the eval; retried on the next scan" if changed else \
                        "retried when its files change"
                    if not changed:
                        failed[path] = signature
                    said.pop(path, None)
                    log(f"[eval] step {step} FAILED ({type(e).__name__}: {e}); {what}; continuing with the others")
                    continue
            finally:
                claim.release()
            failed.pop(path, None)
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

"""eval/run.py --watch on hostile checkpoints: a half-copied checkpoint waits (named with its reason) and is
evaluated once complete; an eval that failed while files were still arriving is retried; two watchers on one
run evaluate every checkpoint exactly once between them; a dead watcher's claim is taken over. The evaluation
itself is a stand-in that writes a result (tests/test_eval_run.py runs the real one)."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from tooljudge.eval import checkpoint_jobs
from tooljudge.eval.checkpoint_jobs import LOCK_NAME, JobConfig, try_claim, watch
from tooljudge.eval.hook import RESULTS_NAME, write_results


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """The summary's matplotlib figure costs seconds per refresh; its content is tested in test_eval_run.py.
    The table is still written (forked watchers inherit the patch)."""
    monkeypatch.setattr(checkpoint_jobs, "plot_results", lambda results, path: Path(path))


def _checkpoint(run: Path, step: int) -> Path:
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    save_file({"w": torch.full((64,), float(step))}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def _fake_eval(log_file: Path | None = None, seconds: float = 0.0, fail: dict | None = None):
    """Writes a result like the real evaluation; appends ``pid step`` to ``log_file`` (O_APPEND: one line per
    write, whatever the process). With a log, the first eval of a process waits (up to 20 s) until another
    process has started one too, so two watchers are certainly evaluating at the same time. ``fail``: step ->
    callable run (then raising) on that step's first eval."""
    first = [True]

    def evaluate(path, output_dir, eval_cfg, job, step):
        if fail and step in fail:
            fail.pop(step)(Path(path))
            raise RuntimeError("weights not readable yet")
        if log_file is not None:
            with open(log_file, "a", encoding="utf-8") as f:
                f.write(f"{os.getpid()} {step}\n")
            deadline = time.time() + 20
            while first[0] and time.time() < deadline and \
                    {line.split()[0] for line in log_file.read_text().splitlines()} == {str(os.getpid())}:
                time.sleep(0.02)
            first[0] = False
        time.sleep(seconds)
        return write_results({"metrics": {"fc/overall/ast_accuracy": 0.5}}, output_dir, step)
    return evaluate


def test_half_copied_checkpoint_waits_then_is_evaluated(tmp_path):
    run = tmp_path / "run"
    _checkpoint(run, 1)
    copying = _checkpoint(run, 2)
    weights = (copying / "model.safetensors").read_bytes()
    (copying / "model.safetensors").write_bytes(weights[: len(weights) // 2])  # the copy is half-way
    job = JobConfig(settle_seconds=0)
    logs: list[str] = []
    assert watch(run, job=job, once=True, log=logs.append, evaluate=_fake_eval()) == [1]
    assert any("step 2: waiting, incomplete: model.safetensors" in line and "truncated" in line for line in logs)
    assert not (copying / RESULTS_NAME).exists()
    (copying / "model.safetensors").write_bytes(weights)  # the copy finished
    assert watch(run, job=job, once=True, log=logs.append, evaluate=_fake_eval()) == [2]
    assert not list(run.glob(f"checkpoint-*/{LOCK_NAME}*"))  # claims released


def test_a_failed_eval_is_retried_when_files_were_still_arriving(tmp_path):
    run = tmp_path / "run"
    for step in (1, 2):
        _checkpoint(run, step)

    def arrive(path: Path) -> None:  # a file lands while the eval runs: the failure says nothing final
        (path / "tokenizer_config.json").write_text("{}")

    logs: list[str] = []
    def outputs_then_fail(path: Path) -> None:  # the eval's own outputs are not "the checkpoint changed"
        (path / "judge_examples.jsonl").write_text("{}\n")
        (path / "eval_results.json.tmp").write_text("{")

    fail = {1: arrive, 2: outputs_then_fail}
    evaluate = _fake_eval(fail=fail)
    job = JobConfig(settle_seconds=0)
    # one watcher, several scans: step 1 (its files changed) is retried and done; step 2 (same files) is not
    # retried in a loop ...
    assert watch(run, job=job, poll_seconds=0.05, idle_exit_seconds=0.5, log=logs.append, evaluate=evaluate) == [1]
    assert [line for line in logs if "FAILED" in line] == [
        "[eval] step 1 FAILED (RuntimeError: weights not readable yet); its files changed during the eval; "
        "retried on the next scan; continuing with the others",
        "[eval] step 2 FAILED (RuntimeError: weights not readable yet); retried when its files change; "
        "continuing with the others"]
    # ... until its files change (or another watcher starts)
    (run / "checkpoint-2" / "config.json").write_text(json.dumps({"model_type": "llama", "fixed": True}))
    assert watch(run, job=job, once=True, log=logs.append, evaluate=evaluate) == [2]
    assert not fail


def test_two_watchers_evaluate_each_checkpoint_once(tmp_path):
    run = tmp_path / "run"
    steps = [2, 4, 6, 8, 10, 12]
    for step in steps:
        _checkpoint(run, step)
    record = tmp_path / "evaluated.txt"
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    results = ctx.Queue()

    def watcher():
        start.wait()
        done = watch(run, job=JobConfig(settle_seconds=0), poll_seconds=0.05, idle_exit_seconds=1.0,
                     log=lambda line: None, evaluate=_fake_eval(record, seconds=0.1))
        results.put((os.getpid(), done))

    procs = [ctx.Process(target=watcher) for _ in range(2)]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    lines = [line.split() for line in record.read_text().splitlines()]
    assert sorted(int(step) for _pid, step in lines) == steps  # every checkpoint, each exactly once
    assert sorted(s for done in got.values() for s in done) == steps
    assert all(got.values()), got  # both watchers evaluated, at the same time (see _fake_eval)
    assert {int(pid) for pid, _ in lines} == set(got)
    assert not list(run.glob(f"checkpoint-*/{LOCK_NAME}*"))


def test_a_dead_watchers_claim_is_taken_over(tmp_path):
    run = tmp_path / "run"
    folder = _checkpoint(run, 1)
    job = JobConfig(settle_seconds=0, lock_stale_seconds=3600)
    dead = multiprocessing.get_context("fork").Process(target=lambda: None)
    dead.start()
    dead.join()  # a pid that no longer runs
    (folder / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "token": "x"}))
    assert watch(run, job=job, once=True, log=lambda line: None, evaluate=_fake_eval()) == [1]

    folder = _checkpoint(run, 2)  # a live claim from another host is respected until it goes stale
    (folder / LOCK_NAME).write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "y"}))
    logs: list[str] = []
    assert watch(run, job=job, once=True, log=logs.append, evaluate=_fake_eval()) == []
    assert any("step 2: skipped, claimed by elsewhere pid 1" in line for line in logs)
    old = time.time() - 7200
    os.utime(folder / LOCK_NAME, (old, old))
    assert watch(run, job=job, once=True, log=logs.append, evaluate=_fake_eval()) == [2]
    assert not (folder / LOCK_NAME).exists()


def test_claim_is_exclusive_and_refreshed(tmp_path):
    folder = _checkpoint(tmp_path / "run", 1)
    job = JobConfig(lock_refresh_seconds=0.05)
    first = try_claim(folder, job)
    assert not isinstance(first, str)
    assert try_claim(folder, job).startswith("claimed by")  # even by the same process
    before = (folder / LOCK_NAME).stat().st_mtime_ns
    time.sleep(0.3)
    assert (folder / LOCK_NAME).stat().st_mtime_ns > before  # the claim stays fresh while held
    first.release()
    second = try_claim(folder, job)
    assert not isinstance(second, str)
    second.release()
    assert not (folder / LOCK_NAME).exists()


def test_summary_files_are_replaced_whole_never_rewritten_in_place(tmp_path):
    """A second watcher reads ``eval_summary/results`` while the first copies into it (CI once caught a reader
    parsing an empty, just-truncated copy). A reader that opened the old file must still read all of it, and
    the name must point at the whole new file: the write is a rename, not a truncate-and-write."""
    run = tmp_path / "run"
    ckpt = _checkpoint(run, 3)
    write_results({"metrics": {"fc/overall/ast_accuracy": 0.25}}, ckpt, 3)
    checkpoint_jobs.keep_copy(run, 3, ckpt)
    kept = run / "eval_summary" / "results" / "step-000003.json"
    table = checkpoint_jobs.write_summary(run)["table"]
    old_kept, old_table = kept.read_text(), table.read_text()
    with kept.open() as kept_reader, table.open() as table_reader:
        write_results({"metrics": {"fc/overall/ast_accuracy": 0.75}}, ckpt, 3)
        checkpoint_jobs.keep_copy(run, 3, ckpt)
        checkpoint_jobs.write_summary(run)
        assert kept_reader.read() == old_kept
        assert table_reader.read() == old_table
    assert json.loads(kept.read_text())["metrics"]["fc/overall/ast_accuracy"] == 0.75
    assert "| 3 | 75.0 |" in table.read_text()
    assert not [p.name for p in kept.parent.iterdir() if p.name != kept.name]  # no temporary file left


def test_an_unreadable_results_file_is_named(tmp_path):
    run = tmp_path / "run"
    _checkpoint(run, 5)
    kept = run / "eval_summary" / "results" / "step-000005.json"
    kept.parent.mkdir(parents=True)
    kept.write_text('{"metrics": ')  # cut short, e.g. by an older writer killed mid-write
    with pytest.raises(ValueError, match=r"step-000005\.json: not a results file \(JSONDecodeError"):
        checkpoint_jobs.write_summary(run)

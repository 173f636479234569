"""Hostile and malformed input (issue 17, data side): no crash, no leak, no hang, no lost row.

The corpus (tests/hostile_corpus.py, 100+ kinds written at the byte level) goes through the JSON Lines reader,
validate.py and prepare.py as subprocess/CLI runs and the training-data reader; each case must end in under 10 s
with its named reason, rows in = kept + dropped, every good row kept, and no network or file access. The sandbox
cases try the escapes the issue found.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import hostile_corpus as hc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tooljudge.data_prep.jsonl import BOM
from tooljudge.data_prep.sources import convert_row, load_conversations

REPO = Path(__file__).resolve().parents[1]
CASE_SECONDS = 10.0
EXPECTED = Counter(k[2] for k in hc.KINDS if k[2] not in (None, "blank"))


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection attempt from this process fails the test (the schema cases must not fetch)."""
    import urllib.request

    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    yield attempts
    assert not attempts


def _case_file(path: Path, data: bytes) -> Path:
    path.write_bytes(hc.line(hc.good(0)) + b"\n" + data + b"\n" + hc.line(hc.good(1)) + b"\n")
    return path


def _corpus_file(path: Path) -> Path:
    """Good row i, then kind i's line, for every kind: 2 x len(KINDS) lines."""
    with path.open("wb") as fh:
        for i, (_, data, _) in enumerate(hc.KINDS):
            fh.write(hc.line(hc.good(i)) + b"\n" + data + b"\n")
    return path


def _kept_questions(rows: list[dict]) -> set[str]:
    return {r["messages"][0]["content"] for r in rows if r["messages"] and r["messages"][0]["role"] == "user"}


@pytest.mark.parametrize("kind,data,expected", hc.KINDS, ids=[k[0] for k in hc.KINDS])
def test_each_hostile_kind_costs_its_row_only_with_a_named_reason(tmp_path, kind, data, expected):
    path = _case_file(tmp_path / f"{kind}.jsonl", data)
    start = time.monotonic()
    rows, report = load_conversations(path, progress=False)
    assert time.monotonic() - start < CASE_SECONDS
    assert report.rows_read == report.kept + report.dropped
    assert {"question 0", "question 1"} <= _kept_questions(rows)  # the good rows around it are kept
    if expected == "blank":
        assert (report.rows_read, report.blank_lines, report.kept) == (2, 1, 2)
    elif expected is None:
        assert (report.rows_read, report.kept, report.dropped) == (3, 3, 0), report.summary()
    else:
        assert (report.rows_read, report.kept) == (3, 2)
        assert dict(report.dropped_by_reason) == {expected: 1}, report.summary()
        assert [p.line for p in report.problems] == [2] * len(report.problems)  # physical line numbers
        assert all(p.row == 1 for p in report.problems)


def test_corpus_kinds_and_reasons():
    assert len(hc.KINDS) >= 70 and len({k[0] for k in hc.KINDS}) == len(hc.KINDS)
    assert len(EXPECTED) >= 20  # distinct named reasons


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def test_validate_cli_on_the_whole_corpus(tmp_path):
    src = _corpus_file(tmp_path / "corpus.jsonl")
    out, rep = tmp_path / "clean.jsonl", tmp_path / "report.json"
    proc = _run(["data_prep/validate.py", "--input", str(src), "--output", str(out), "--report", str(rep)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    report = json.loads(rep.read_text())
    n_good = len(hc.KINDS) + sum(1 for k in hc.KINDS if k[2] is None)
    assert report["rows_read"] == report["kept"] + report["dropped"] == 2 * len(hc.KINDS) - report["blank_lines"]
    assert report["kept"] == n_good and report["dropped_by_reason"] == dict(EXPECTED)
    assert report["blank_lines"] == sum(1 for k in hc.KINDS if k[2] == "blank")
    kept = [json.loads(x) for x in out.read_text(encoding="utf-8").split("\n") if x]
    assert {f"question {i}" for i in range(len(hc.KINDS))} <= _kept_questions(kept)
    lines = {p["line"] for p in report["problems"]}
    assert all(line % 2 == 0 for line in lines)  # every problem on a hostile kind's own (even) line
    assert "root:" not in rep.read_text()  # file:// was never read
    small = _case_file(tmp_path / "small.jsonl", b"\xff" + hc.GOOD)
    strict = _run(["data_prep/validate.py", "--input", str(small), "--strict"])
    assert strict.returncode == 1 and "Traceback" not in strict.stderr


def test_validate_cli_unreadable_input_and_output(tmp_path):
    missing = _run(["data_prep/validate.py", "--input", str(tmp_path / "none.jsonl")])
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    gz = tmp_path / "broken.jsonl.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    broken = _run(["data_prep/validate.py", "--input", str(gz)])
    assert broken.returncode == 2 and "cannot be read" in broken.stderr and "Traceback" not in broken.stderr
    src = _case_file(tmp_path / "ok.jsonl", hc.GOOD)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    bad_out = _run(["data_prep/validate.py", "--input", str(src), "--output", str(blocker / "clean.jsonl")])
    assert bad_out.returncode == 2 and "cannot write" in bad_out.stderr and "Traceback" not in bad_out.stderr


def test_a_truncated_gzip_keeps_the_rows_before_the_break(tmp_path):
    import gzip

    data = gzip.compress(b"".join(hc.line(hc.good(i)) + b"\n" for i in range(500)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    rows, report = load_conversations(path, progress=False)
    assert dict(report.dropped_by_reason) == {"source_truncated": 1} and len(rows) == report.kept > 100
    assert report.problems[0].line == report.kept + 1
    assert _kept_questions(rows) == {f"question {i}" for i in range(report.kept)}


def test_json_array_files_lose_only_their_bad_elements(tmp_path):
    elements = [hc.line(hc.good(0)), b'{"a": NaN}', b'{"x": 1, "x": 2}', b'"\\ud800"', hc.line(hc.good(1)),
                b"[" * 200 + b"]" * 200]
    path = tmp_path / "rows.json"
    path.write_bytes(BOM + b"[\n" + b",\n".join(elements) + b"\n]\n")
    rows, report = load_conversations(path, progress=False)
    assert _kept_questions(rows) == {"question 0", "question 1"}
    assert dict(report.dropped_by_reason) == {"non_finite_number": 1, "duplicate_key": 1, "lone_surrogate": 1,
                                              "json_too_deep": 1}
    bad_bytes = tmp_path / "bytes.json"
    bad_bytes.write_bytes(b"[" + hc.line(hc.good(0)) + b", {\"a\": \"\xff\"}, " + hc.line(hc.good(1)) + b"]")
    rows, report = load_conversations(bad_bytes, progress=False)
    assert len(rows) == 2 and dict(report.dropped_by_reason) == {"invalid_utf8": 1}
    lines = tmp_path / "lines.json"  # JSON Lines under a .json name, its first line broken: one row lost
    lines.write_bytes(b"{broken\n" + b"\n".join(hc.line(hc.good(i)) for i in range(5)) + b"\n")
    rows, report = load_conversations(lines, progress=False)
    assert len(rows) == 5 and dict(report.dropped_by_reason) == {"bad_json_line": 1}
    assert report.problems[0].line == 1
    single = tmp_path / "one.json"  # one pretty-printed row with a NaN: that row, named, not a crash
    single.write_text(json.dumps(hc.good(0), indent=2)[:-1] + ', "n": NaN}')
    rows, report = load_conversations(single, progress=False)
    assert rows == [] and dict(report.dropped_by_reason) == {"non_finite_number": 1}


def test_in_memory_sources_get_the_same_checks():
    nan_row = hc.good(5, extra=float("nan"))
    rows, report = load_conversations([hc.good(0), nan_row, hc.good(1, x="\ud800")], progress=False)
    assert len(rows) == 1 and dict(report.dropped_by_reason) == {"non_finite_number": 1, "lone_surrogate": 1}


# ------------------------------------------------------------------------------------------- prepare.py
@pytest.fixture(scope="module")
def smollm2_path():
    from tooljudge.models import smollm2_checkpoint

    return str(smollm2_checkpoint(progress=False))


def test_prepare_cli_on_the_whole_corpus(tmp_path, smollm2_path, capsys):
    from tooljudge.data_prep.prepare import main

    src = _corpus_file(tmp_path / "corpus.jsonl")
    out = tmp_path / "prepared"
    main(["--model", smollm2_path, "--dataset", str(src), "--output_dir", str(out), "--family", "qwen25"])
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err
    report = json.loads((out / "report.json").read_text())
    load = report["load"]
    assert load["rows_read"] == load["kept"] + load["dropped"] and load["dropped_by_reason"] == dict(EXPECTED)
    assert report["rows_read"] == load["kept"] == report["kept"] + report["dropped"]
    assert f"read {load['rows_read']} rows, kept {load['kept']}" in printed.out
    assert not [p for p in tmp_path.iterdir() if ".incomplete-" in p.name]  # renamed into place
    with pytest.raises(SystemExit) as refused:  # an existing, non-empty folder is never replaced silently
        main(["--model", smollm2_path, "--dataset", str(src), "--output_dir", str(out), "--family", "qwen25"])
    assert refused.value.code == 2 and "--overwrite" in capsys.readouterr().err
    small = _case_file(tmp_path / "small.jsonl", b'{"a": NaN}')
    with pytest.raises(SystemExit) as strict:
        main(["--model", smollm2_path, "--dataset", str(small), "--output_dir", str(out), "--family", "qwen25",
              "--overwrite", "--strict"])
    assert strict.value.code == 1 and (out / "dataset").is_dir()
    assert json.loads((out / "report.json").read_text())["load"]["rows_read"] == 3  # replaced, as asked


def test_prepare_checks_the_output_folder_before_any_work(tmp_path, capsys):
    from tooljudge.data_prep.prepare import main

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    start = time.monotonic()
    with pytest.raises(SystemExit) as exc:  # the model does not exist: reaching it would fail differently
        main(["--model", str(tmp_path / "no_model"), "--dataset", str(tmp_path / "none.jsonl"), "--output_dir",
              str(blocker / "out")])
    assert exc.value.code == 2 and "cannot write" in capsys.readouterr().err
    assert time.monotonic() - start < 5


# ------------------------------------------------------------------------------------ training data reader
def test_training_reader_counts_every_row_and_on_bad_row_error_names_it(tmp_path, capsys):
    from tooljudge.data_prep.data_mix import DataError, load_mixture, summarize_report
    from tooljudge.train.recipe import DataSource

    src = _corpus_file(tmp_path / "train.jsonl")
    mixed, reports = load_mixture([DataSource(source=str(src))], "sft", 0)
    rep = reports[0]
    assert rep.rows_read == rep.loader_kept + sum(rep.loader_dropped.values())
    assert dict(rep.loader_dropped) == dict(EXPECTED) and len(mixed) == rep.loader_kept
    console = capsys.readouterr().out
    assert f"read {rep.rows_read} rows, kept {rep.loader_kept}, dropped {sum(EXPECTED.values())}" in console
    assert "invalid_utf8 x" in console
    assert "dropped" in summarize_report({"train": [rep.to_dict()]})
    with pytest.raises(DataError) as stop:
        load_mixture([DataSource(source=str(src))], "sft", 0, on_bad_row="error")
    first_bad = next(i for i, k in enumerate(hc.KINDS) if k[2] not in (None, "blank"))
    assert f"{src}:{2 * first_bad + 2}: bad row ({hc.KINDS[first_bad][2]})" in str(stop.value)


def test_training_reader_for_preference_rows(tmp_path, capsys):
    from tooljudge.data_prep.data_mix import DataError, load_mixture
    from tooljudge.train.recipe import DataSource

    src = tmp_path / "pairs.jsonl"
    src.write_bytes(b'{"prompt": [], "chosen": [], "rejected": []}\n\xff\xfe\n{"a": NaN}\n[1]\n\n'
                    b'{"prompt": [], "chosen": [], "rejected": []}\n')
    mixed, reports = load_mixture([DataSource(source=str(src), format="preference")], "dpo", 0)
    assert len(mixed) == 2 and reports[0].rows_read == 5
    assert dict(reports[0].loader_dropped) == {"invalid_utf8": 1, "non_finite_number": 1, "row_not_object": 1}
    with pytest.raises(DataError, match=r"pairs.jsonl:2: bad row \(invalid_utf8\)"):
        load_mixture([DataSource(source=str(src), format="preference")], "dpo", 0, on_bad_row="error")


# ------------------------------------------------------------------------------------------- hypothesis
_JSONISH = st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b"\\u", b"d800", b"NaN", b"1e999",
                            b"\r", b"\xff", b"\xef\xbb\xbf", b"\xed\xa0\x80", b'"messages"', b'"role"', b" ",
                            b"0", b"-", b"\t", b"\x00", b"true", b"null"])
_LINES = st.lists(st.one_of(st.binary(max_size=60), st.lists(_JSONISH, max_size=30).map(b"".join),
                            st.just(hc.GOOD)), max_size=12)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=_LINES)
def test_random_byte_lines_never_crash_and_always_add_up(tmp_path, lines):
    data = b"\n".join(lines)
    path = tmp_path / "random.jsonl"
    path.write_bytes(data)
    rows, report = load_conversations(path, progress=False)
    physical = data.split(b"\n")
    if physical and physical[-1] == b"":
        physical.pop()
    blank = sum(1 for x in physical if not (x[3:] if x.startswith(BOM) else x).strip())
    assert report.blank_lines == blank
    assert report.rows_read == len(physical) - blank == report.kept + report.dropped == len(rows) + report.dropped
    assert all(1 <= p.line <= len(physical) for p in report.problems)
    good_lines = sum(1 for x in physical if x == hc.GOOD or x == hc.GOOD + b"\r")
    assert report.kept >= good_lines


# ------------------------------------------------------------------------- $ref and patterns, time-bounded
def test_refs_never_fetch_or_read_files(tmp_path, no_network):
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "string", "description": "TOP-SECRET-CONTENT"}')
    served: list = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    port = server.getsockname()[1]

    def accept():
        try:
            served.append(server.accept())
        except OSError:
            pass

    waiter = threading.Thread(target=accept)
    waiter.start()
    refs = [f"http://127.0.0.1:{port}/s.json", f"file://{secret}", str(secret), "#/definitions/none"]
    for ref in refs:
        row = hc.call_row({"a": "x"}, {"name": "f", "parameters": {"type": "object",
                                                                   "properties": {"a": {"$ref": ref}}}})
        start = time.monotonic()
        _, conv, problems = convert_row(row)
        assert time.monotonic() - start < CASE_SECONDS and conv is None
        assert problems[0].code in ("schema_remote_ref", "schema_unresolvable_ref")
        assert "TOP-SECRET" not in json.dumps([p.message for p in problems])
    # A $id that re-bases a local reference onto the server: refused by the registry, never fetched.
    rebased = {"type": "object", "properties": {"a": {"$id": f"http://127.0.0.1:{port}/x",
                                                      "properties": {"b": {"$ref": "#/definitions/d"}}}},
               "definitions": {"d": {"type": "integer"}}}
    _, conv, problems = convert_row(hc.call_row({"a": {"b": 1}}, {"name": "f", "parameters": rebased}))
    assert conv is None and problems[0].code == "schema_unresolvable_ref"
    waiter.join()
    server.close()
    assert not served and not no_network


@pytest.mark.parametrize("pattern,text", [(hc.CATASTROPHIC, "a" * 60 + "!"), ("^(a|a)*$", "a" * 5000 + "!"),
                                          ("^(a+)+$", "a" * 100 + "!"), ("(x+x+)+y", "x" * 200)])
def test_catastrophic_patterns_are_bounded_in_time(pattern, text):
    from tooljudge.data_prep.tool_registry import argument_problems

    params = {"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}}
    start = time.monotonic()
    _, _, problems = convert_row(hc.call_row({"a": text}, {"name": "f", "parameters": params}))
    assert time.monotonic() - start < CASE_SECONDS
    assert problems and problems[0].code in ("pattern_timeout", "arguments_schema_mismatch")
    start = time.monotonic()
    assert argument_problems({"name": "f", "parameters": params}, {"a": text})  # the registry's check too
    assert time.monotonic() - start < CASE_SECONDS


def test_exploding_schema_and_arguments_stop_at_the_validation_budget():
    from tooljudge.data_prep.json_schema import VALIDATION_BUDGET_S

    branches = [{"type": "object", "properties": {f"k{j}": {"type": "integer"}}, "required": [f"k{j}"]}
                for j in range(300)]
    params = {"type": "object", "properties": {"a": {"type": "array", "items": {"anyOf": branches}}}}
    start = time.monotonic()
    _, conv, problems = convert_row(hc.call_row({"a": [{"x": i} for i in range(3000)]},
                                                {"name": "f", "parameters": params}))
    assert time.monotonic() - start < VALIDATION_BUDGET_S + CASE_SECONDS / 2
    assert conv is None and [p.code for p in problems] == ["validation_timeout"]


# ------------------------------------------------------------------------------------------------ sandbox
SECRET_ENV = "TOOLJUDGE_TEST_SECRET"


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _sandbox_registry(marker: Path):
    from tooljudge.data_prep import sandbox as sandbox_module
    from tooljudge.data_prep.tool_registry import ToolRegistry

    evil = pickle.dumps(_Evil(str(marker)))
    reg = ToolRegistry()

    def environment(x: int) -> str:
        """Everything the worker inherited.

        Args:
            x: Unused.
        """
        fds = []
        for fd in range(64):
            try:
                os.fstat(fd)
                fds.append(fd)
            except OSError:
                pass
        return json.dumps({"env": dict(os.environ), "fds": fds, "cwd_listing_refused": True})

    def unhook(path: str) -> str:
        """Turns the audit rules off through the module variable, then reads a file.

        Args:
            path: A file to read.
        """
        sandbox_module.BLOCKED_EVENTS = ()
        with open(path) as fh:
            return fh.read()

    def forge_reply(x: int) -> str:
        """Finds the worker's pipe and sends a pickle in place of the reply.

        Args:
            x: Unused.
        """
        frame = sys._getframe()
        while frame is not None:
            conn = frame.f_locals.get("conn")
            if conn is not None and hasattr(conn, "send_bytes"):
                conn.send_bytes(evil)
                break
            frame = frame.f_back
        return "sent"

    def count(xs: list[int]) -> int:
        """Counts numbers.

        Args:
            xs: Numbers.
        """
        return len(xs)

    for fn in (environment, unhook, forge_reply, count):
        reg.register(fn)
    return reg


def test_sandbox_escapes_from_the_issue_fail(tmp_path, monkeypatch):
    from tooljudge.data_prep.sandbox import Sandbox, SandboxConfig

    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    leak = tmp_path / "leak.txt"
    leak.write_text("FILE-CONTENT")
    marker = tmp_path / "unpickled"
    held = os.open(leak, os.O_RDONLY)  # an open descriptor the worker must not inherit
    try:
        with Sandbox(_sandbox_registry(marker), SandboxConfig(timeout_s=2.0)) as sb:
            env = sb.call("environment", {"x": 1})
            assert env.ok, env.error
            seen = json.loads(env.value)
            assert seen["env"] == {} and seen["fds"] == [0, 1, 2, 3] and held not in seen["fds"][4:]
            assert "fds_closed" in sb.isolation
            unhooked = sb.call("unhook", {"path": str(leak)})
            assert unhooked.kind in ("blocked", "tool_error") and "FILE-CONTENT" not in unhooked.content
            forged = sb.call("forge_reply", {"x": 1})
            assert forged.kind == "crashed" and not marker.exists()  # never unpickled in the parent
            start = time.monotonic()
            big = sb.call("count", {"xs": list(range(2_000_000))})  # the schema check runs inside the limits
            assert big.kind == "timeout" and time.monotonic() - start < 2.0 + CASE_SECONDS
            assert sb.call("count", {"xs": [1, 2]}).value == 2
            nan = sb.call("count", {"xs": [float("nan")]})
            assert nan.kind == "invalid_arguments"
    finally:
        os.close(held)


def test_sandbox_kernel_layers_where_allowed():
    from tooljudge.data_prep.builtin_tools import default_registry
    from tooljudge.data_prep.sandbox import Sandbox

    with Sandbox(default_registry()) as sb:
        assert sb.call("is_leap_year", {"year": 2024}).value is True
        layers = sb.isolation
        pid = sb._pid
    if "net_ns" not in layers:
        pytest.skip(f"this kernel refuses network namespaces (layers: {layers})")
    assert {"net_ns", "pid_ns", "chroot", "fds_closed"} <= set(layers)
    with pytest.raises(ChildProcessError):  # the worker was reaped, not left behind
        os.waitpid(pid, os.WNOHANG)


def _processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process still readable in /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((int(entry.name), int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _pid_ns_members(inode: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") == inode and "State:\tZ" not in (entry / "status").read_text():
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def test_a_grandchild_cannot_outlive_the_worker():
    """The issue's escape: a preloaded ``_posixsubprocess.fork_exec`` (not audited) with a ``preexec_fn`` that
    never returns, in a new session. Whatever stops it (RLIMIT_NPROC in the user namespace refuses the fork;
    the PID namespace kills what is left), nothing of the worker's namespace remains after the call."""
    import _posixsubprocess

    from tooljudge.data_prep.sandbox import Sandbox, SandboxConfig
    from tooljudge.data_prep.tool_registry import ToolRegistry

    reg = ToolRegistry()

    def linger(x: int) -> str:
        """Leaves a process behind.

        Args:
            x: Unused.
        """
        def stay():
            while True:
                time.sleep(0.2)

        os.close(0)
        os.close(3)  # fork_exec needs a pipe on fds >= 3 and the descriptor limit leaves only the worker's pipe
        r, w = os.pipe()
        return str(_posixsubprocess.fork_exec([b"/none"], [b"/none"], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                              r, w, True, True, 0, None, None, None, -1, stay, False))

    reg.register(linger)
    with Sandbox(reg, SandboxConfig(timeout_s=2.0)) as sb:
        sb._start()
        if "pid_ns" not in sb.isolation:
            pytest.skip(f"no PID namespace here (layers: {sb.isolation})")
        worker = next(pid for pid, parent in _processes() if parent == sb._pid)
        inode = os.readlink(f"/proc/{worker}/ns/pid")
        assert _pid_ns_members(inode) == [worker]
        result = sb.call("linger", {"x": 0})
        assert result.kind in ("crashed", "tool_error", "blocked", "timeout")
    deadline = time.monotonic() + 5
    while _pid_ns_members(inode) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pid_ns_members(inode) == []


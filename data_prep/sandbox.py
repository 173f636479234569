"""Run tool calls in a locked-down worker process: time limit, memory limit, no files, no network.

Why: every synthetic call is executed, and user tools are arbitrary Python. A forked worker holds the registry,
applies resource limits (address space, CPU, file size) and installs an audit hook (PEP 578) that refuses file
opens, sockets, subprocesses, imports of new modules and ``exec``/``eval``/``compile``. The parent enforces a
wall-clock limit per call and kills and restarts the worker when it hangs or dies. Arguments are checked
against the tool's JSON schema before anything runs. Exceptions come back as tool errors, never as crashes.

Audit hooks are a guard against accidents and careless tools, not a security boundary against a determined
attacker (CPython documents this); run untrusted code inside a container as well.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from tooljudge.data_prep.tool_registry import ToolRegistry

__all__ = ["SandboxConfig", "ToolResult", "Sandbox", "BLOCKED_EVENTS"]

# Audit events refused inside the worker (exact names, or prefixes ending in ".").
BLOCKED_EVENTS = (
    "open", "exec", "compile", "import", "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
    "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.unlink", "os.rename",
    "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.symlink", "os.link", "os.listdir",
    "os.scandir", "os.chdir", "os.putenv", "os.unsetenv", "os.startfile", "shutil.", "ctypes.", "urllib.",
    "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.", "webbrowser.",
    "pickle.find_class", "marshal.loads", "sys.settrace", "sys.setprofile", "builtins.input", "pty.",
    "glob.", "tempfile.",
)


@dataclass(frozen=True)
class SandboxConfig:
    """Per-call wall-clock limit and the worker's extra address space over the parent's size at fork."""

    timeout_s: float = 2.0
    memory_mb: int = 512


@dataclass
class ToolResult:
    """Outcome of one call. ``kind``: ok | unknown_tool | invalid_arguments | tool_error | blocked | timeout |
    crashed. ``content`` is the exact text a tool message carries (the JSON value, or ``{"error": ...}``)."""

    name: str
    arguments: Any
    kind: str
    value: Any = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def content(self) -> str:
        if self.ok:
            return json.dumps(self.value, ensure_ascii=False)
        return json.dumps({"error": self.error}, ensure_ascii=False)


class SandboxViolation(PermissionError):
    """Raised inside the worker when a tool does something the sandbox refuses."""


_violations: list[str] = []


def _audit_hook(event: str, args: tuple) -> None:
    for rule in BLOCKED_EVENTS:
        if event == rule or (rule.endswith(".") and event.startswith(rule)):
            detail = f"{event} {args[0]!r}" if args and isinstance(args[0], str | bytes | int) else event
            _violations.append(detail)
            raise SandboxViolation(f"blocked by the tool sandbox: {detail}")


def _apply_limits(memory_mb: int) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as fh:  # read before the audit hook goes in
        vm_bytes = int(fh.read().split()[0]) * page
    limit = vm_bytes + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails with EFBIG, not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _worker_main(conn, registry: ToolRegistry, memory_mb: int) -> None:
    _apply_limits(memory_mb)
    sys.addaudithook(_audit_hook)
    while True:
        try:
            name, arguments, cpu_s = conn.recv()
        except (EOFError, OSError):
            return
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + cpu_s
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        del _violations[:]
        try:
            value = registry.tools[name].fn(**arguments)
            payload = json.dumps(value, ensure_ascii=False, allow_nan=False)
            reply = ("ok", payload)
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt from a tool are tool errors too
            reply = ("error", f"{type(exc).__name__}: {exc}")
        if _violations:
            reply = ("blocked", f"blocked by the tool sandbox: {_violations[0]}")
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class Sandbox:
    """Executes calls of a registry's tools in a forked, limited worker. Use as a context manager.

    The worker is started lazily and restarted after a timeout, a crash, or a change to the registry.
    """

    def __init__(self, registry: ToolRegistry, config: SandboxConfig | None = None):
        self.registry = registry
        self.config = config or SandboxConfig()
        self._proc: mp.process.BaseProcess | None = None
        self._conn = None
        self._version = -1
        self.restarts = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _start(self) -> None:
        self.close()
        ctx = mp.get_context("fork")  # the worker must inherit the registry's functions, closures included
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker_main, args=(child, self.registry, self.config.memory_mb), daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn, self._version = proc, parent, self.registry.version

    def close(self) -> None:
        """Stop the worker (kill if it does not exit at once)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=5)
            self._proc = None

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Validate the arguments against the tool's schema, then run the tool under the limits."""
        if name not in self.registry:
            return ToolResult(name, arguments, "unknown_tool", error=f"unknown tool {name!r}")
        problems = self.registry.check_arguments(name, arguments)
        if problems:
            return ToolResult(name, arguments, "invalid_arguments", error="; ".join(problems), problems=problems)
        if self._proc is None or not self._proc.is_alive() or self._version != self.registry.version:
            if self._proc is not None:
                self.restarts += 1
            self._start()
        cpu_s = int(self.config.timeout_s) + 1
        try:
            self._conn.send((name, arguments, cpu_s))
            if not self._conn.poll(self.config.timeout_s):
                self.close()
                return ToolResult(name, arguments, "timeout",
                                  error=f"the tool did not finish within {self.config.timeout_s:g} s")
            status, payload = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            code = self._proc.exitcode if self._proc is not None else None
            self.close()
            return ToolResult(name, arguments, "crashed",
                              error=f"the tool process died (exit code {code}; memory or CPU limit?)")
        if status == "ok":
            return ToolResult(name, arguments, "ok", value=json.loads(payload))
        return ToolResult(name, arguments, "blocked" if status == "blocked" else "tool_error", error=payload)

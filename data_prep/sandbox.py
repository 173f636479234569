"""Run tool calls in a locked-down worker process: time and memory limits, no files, no network, nothing left.

Why: every synthetic call is executed, and user tools are arbitrary Python called with model-chosen arguments.
The worker is forked (so it holds the registry's functions, closures included) and, before any tool runs:

- leaves the parent's session and process group (``setsid``) and, where the kernel allows it, enters new user,
  network and PID namespaces: no network interface but a down loopback, and the worker is PID 1 of its own PID
  namespace, so when it dies the kernel kills every process it started, even one that left the process group;
- changes its root (``chroot``) to an empty folder that the parent deletes as soon as the worker is ready: no
  file or program on the machine is visible, and no file can be created there;
- keeps one descriptor, the pipe to the parent (as fd 3; fds 0-2 are ``/dev/null``) and closes every other
  inherited descriptor; ``RLIMIT_NOFILE`` 4 then leaves no slot for a new file, socket or pipe;
- empties its environment (``os.environ`` and the C ``environ``);
- limits address space, CPU time per call, file size (0), processes (0: inside a user namespace this holds even
  for root, so a fork the audit hook cannot see, e.g. a preloaded ``_posixsubprocess.fork_exec``, fails) and
  core dumps, sets ``PR_SET_NO_NEW_PRIVS``;
- installs an audit hook (PEP 578) that refuses file opens, sockets, subprocesses, imports of new modules and
  ``exec``/``eval``/``compile``; the refused events live in the hook's closure, so no module variable turns
  it off.

The parent enforces a wall-clock limit per call, *including the argument check against the tool's JSON schema*
(which runs in the worker, under the same limits), kills the worker's whole process group (and with it its PID
namespace) on timeout, crash, registry change or close, and reads replies as length-capped JSON, never pickle,
so a hostile worker cannot run code in the parent. ``Sandbox.isolation`` says which kernel layers were
available; docs/data_schema.md states what this protects against and what it does not.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Pipe
from typing import Any

from tooljudge.data_prep.tool_registry import ToolRegistry

__all__ = ["SandboxConfig", "ToolResult", "Sandbox", "BLOCKED_EVENTS"]

# Audit events refused inside the worker (exact names, or prefixes ending in "."). Copied into the hook's
# closure when the worker starts: changing this tuple afterwards changes nothing in a running worker.
BLOCKED_EVENTS = (
    "open", "exec", "compile", "import", "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
    "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.remove", "os.unlink", "os.rename",
    "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.symlink", "os.link", "os.listdir",
    "os.scandir", "os.chdir", "os.putenv", "os.unsetenv", "os.startfile", "shutil.", "ctypes.", "urllib.",
    "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.", "webbrowser.",
    "pickle.find_class", "marshal.loads", "sys.settrace", "sys.setprofile", "builtins.input", "pty.",
    "glob.", "tempfile.", "sys.addaudithook", "mmap.", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
)
MAX_REPLY_BYTES = 16 * 1024 * 1024
_CLONE_NEWUSER, _CLONE_NEWNET, _CLONE_NEWPID = 0x10000000, 0x40000000, 0x20000000
_PR_SET_NO_NEW_PRIVS = 38


@dataclass(frozen=True)
class SandboxConfig:
    """Per-call wall-clock limit and the worker's extra address space over the parent's size at fork."""

    timeout_s: float = 2.0
    memory_mb: int = 512
    start_timeout_s: float = 30.0  # forking, isolating and warming the worker up


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


# --------------------------------------------------------------------------------------------- the worker
def _make_audit_hook(blocked: tuple[str, ...], violations: list[str]):
    exact = frozenset(b for b in blocked if not b.endswith("."))
    prefixes = tuple(b for b in blocked if b.endswith("."))

    def hook(event: str, args: tuple) -> None:
        if event in exact or event.startswith(prefixes):
            detail = f"{event} {args[0]!r}" if args and isinstance(args[0], str | bytes | int) else event
            violations.append(detail)
            raise SandboxViolation(f"blocked by the tool sandbox: {detail}")

    return hook


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no libc (not Linux)
        return None


def _isolate_namespaces(libc) -> list[str]:
    """Enter new namespaces (the widest set the kernel allows); returns the layers entered."""
    if libc is None or not hasattr(libc, "unshare"):
        return []
    for flags, names in ((_CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWPID, ["user_ns", "net_ns", "pid_ns"]),
                         (_CLONE_NEWNET | _CLONE_NEWPID, ["net_ns", "pid_ns"]),
                         (_CLONE_NEWUSER | _CLONE_NEWNET, ["user_ns", "net_ns"]),
                         (_CLONE_NEWNET, ["net_ns"])):
        if libc.unshare(flags) == 0:
            return names
    return []


def _close_fds_but(conn_fd: int, devnull: int) -> int:
    """fds 0-2 on /dev/null (``devnull``: opened before the chroot), the pipe on fd 3, every other descriptor
    closed. Returns 3."""
    for fd in (0, 1, 2):
        if fd != devnull:
            os.dup2(devnull, fd)
    if conn_fd != 3:
        os.dup2(conn_fd, 3)
    os.closerange(4, max(4, resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    return 3


def _apply_limits(memory_mb: int, vm_bytes: int) -> None:
    limit = vm_bytes + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails with EFBIG, not a kill
    for which, value in ((resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 4),
                         (resource.RLIMIT_NPROC, 0)):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass


def _reply(conn: Connection, payload: dict) -> None:
    conn.send_bytes(json.dumps(payload, ensure_ascii=True, allow_nan=False).encode("ascii"))


def _check(registry: ToolRegistry, name: str, arguments: Any) -> list[str]:
    try:
        json.dumps(arguments, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return [f"{name}: arguments are not JSON ({exc})"]
    return registry.check_arguments(name, arguments)


def _worker_loop(conn: Connection, registry: ToolRegistry, violations: list[str]) -> None:
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError, ValueError):
            return
        name, arguments, cpu_s = request["name"], request["arguments"], request["cpu_s"]
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + cpu_s
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))
        del violations[:]
        try:
            problems = _check(registry, name, arguments)
            if problems:
                reply = {"status": "invalid", "problems": problems}
            else:
                value = registry.tools[name].fn(**arguments)
                reply = {"status": "ok", "payload": json.dumps(value, ensure_ascii=False, allow_nan=False)}
        except BaseException as exc:  # noqa: BLE001 - SystemExit/KeyboardInterrupt from a tool are tool errors too
            reply = {"status": "error", "payload": f"{type(exc).__name__}: {exc}"}
        if violations:
            reply = {"status": "blocked", "payload": f"blocked by the tool sandbox: {violations[0]}"}
        try:
            _reply(conn, reply)
        except (OSError, ValueError):
            return


def _worker_main(conn: Connection, root: str, registry: ToolRegistry, memory_mb: int) -> None:
    """Runs in the forked child: isolate (see the module docstring), then serve calls. Never returns."""
    status = 1
    try:
        os.setsid()
        with open("/proc/self/statm") as fh:
            vm_bytes = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        libc = _libc()
        layers = _isolate_namespaces(libc)
        if "pid_ns" in layers:
            # The next child is PID 1 of the new namespace: it serves calls; this process only waits for it.
            child = os.fork()
            if child:
                conn.close()
                _, wait_status = os.waitpid(child, 0)
                os._exit(os.waitstatus_to_exitcode(wait_status) & 0xFF)
        for name in registry.tools:  # warm up: every module validation needs is imported before the chroot
            registry.check_arguments(name, {})
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            os.chroot(root)
            os.chdir("/")
            layers.append("chroot")
        except OSError:
            pass
        conn = Connection(_close_fds_but(conn.fileno(), devnull))
        layers.append("fds_closed")
        os.environ.clear()
        if libc is not None and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
            layers.append("no_new_privs")
        _apply_limits(memory_mb, vm_bytes)
        violations: list[str] = []
        sys.addaudithook(_make_audit_hook(tuple(BLOCKED_EVENTS), violations))
        _reply(conn, {"status": "ready", "layers": layers})
        _worker_loop(conn, registry, violations)
        status = 0
    finally:
        os._exit(status)


# ---------------------------------------------------------------------------------------------- the parent
class Sandbox:
    """Executes calls of a registry's tools in a forked, isolated worker. Use as a context manager.

    The worker is started lazily and restarted after a timeout, a crash, or a change to the registry.
    ``isolation`` lists the layers the last worker got (``user_ns``, ``net_ns``, ``pid_ns``, ``chroot``,
    ``fds_closed``, ``no_new_privs``): a kernel that refuses namespaces leaves them out.
    """

    def __init__(self, registry: ToolRegistry, config: SandboxConfig | None = None):
        self.registry = registry
        self.config = config or SandboxConfig()
        self._pid: int | None = None
        self._conn: Connection | None = None
        self._version = -1
        self.restarts = 0
        self.isolation: list[str] = []

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
        root = tempfile.mkdtemp(prefix="tooljudge-sandbox-")
        parent, child = Pipe(duplex=True)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            parent.close()
            _worker_main(child, root, self.registry, self.config.memory_mb)
        child.close()
        self._pid, self._conn, self._version = pid, parent, self.registry.version
        try:
            ready = parent.poll(self.config.start_timeout_s) and json.loads(parent.recv_bytes(4096))
        except (EOFError, OSError, ValueError):
            ready = None
        finally:
            os.rmdir(root)  # the worker's root is now a deleted, empty folder: nothing can be created in it
        if not ready or ready.get("status") != "ready":
            self.close()
            raise RuntimeError("the tool sandbox's worker failed to start")
        self.isolation = list(ready.get("layers", []))

    def close(self) -> None:
        """Kill the worker's whole process group (and its PID namespace), then reap it."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._pid is not None:
            pid, self._pid = self._pid, None
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    continue
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                time.sleep(0.01)

    def _alive(self) -> bool:
        if self._pid is None:
            return False
        try:
            done, _ = os.waitpid(self._pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def call(self, name: str, arguments: Any) -> ToolResult:
        """Check the arguments against the tool's schema and run the tool, both inside the worker's limits."""
        if name not in self.registry:
            return ToolResult(name, arguments, "unknown_tool", error=f"unknown tool {name!r}")
        try:
            request = json.dumps({"name": name, "arguments": arguments, "cpu_s": int(self.config.timeout_s) + 1},
                                 allow_nan=False, ensure_ascii=True).encode("ascii")
        except (TypeError, ValueError) as exc:
            return ToolResult(name, arguments, "invalid_arguments", error=f"arguments are not JSON ({exc})",
                              problems=[f"{name}: arguments are not JSON ({exc})"])
        if not self._alive() or self._version != self.registry.version:
            if self._pid is not None:
                self.restarts += 1
            self._start()
        try:
            self._conn.send_bytes(request)
            if not self._conn.poll(self.config.timeout_s):
                self.close()
                return ToolResult(name, arguments, "timeout",
                                  error=f"the tool did not finish within {self.config.timeout_s:g} s")
            reply = json.loads(self._conn.recv_bytes(MAX_REPLY_BYTES))
            status = reply["status"]
        except (EOFError, OSError, ValueError, KeyError, TypeError):
            self.close()
            return ToolResult(name, arguments, "crashed",
                              error="the tool process died or sent an unreadable reply (memory or CPU limit?)")
        if status == "ok":
            return ToolResult(name, arguments, "ok", value=json.loads(reply["payload"]))
        if status == "invalid":
            problems = [str(p) for p in reply.get("problems", [])]
            return ToolResult(name, arguments, "invalid_arguments", error="; ".join(problems), problems=problems)
        return ToolResult(name, arguments, "blocked" if status == "blocked" else "tool_error",
                          error=str(reply.get("payload")))

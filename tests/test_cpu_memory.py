"""CPU memory settings (tooljudge/cpu_memory.py): huge pages on by default on Linux, a user's value kept, PyTorch
really honouring the variable tooljudge sets (counted in page faults); TOOLJUDGE_CPU_HEAP=keep really moving a
mid-size tensor from a fresh mapping into glibc's heap (counted by glibc itself)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tooljudge import cpu_memory

FAULTS = ("import resource, tooljudge, torch; "  # tooljudge first, as every script here imports it before torch
          "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
          "for _ in range(4):\n    t = torch.ones(64 << 20, dtype=torch.uint8); del t\n"
          "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)")


def test_default_is_set_only_where_the_user_set_nothing():
    env: dict = {}
    cpu_memory.default_thp(env)
    assert env == ({cpu_memory.ENV: "1"} if sys.platform.startswith("linux") else {})
    env = {cpu_memory.ENV: "0"}
    cpu_memory.default_thp(env)
    assert env == {cpu_memory.ENV: "0"}


def test_kernel_mode_and_description(tmp_path, monkeypatch):
    setting = tmp_path / "enabled"
    setting.write_text("always [madvise] never\n")
    assert cpu_memory.kernel_thp_mode(setting) == "madvise"
    assert cpu_memory.kernel_thp_mode(tmp_path / "absent") is None
    setting.write_text("no brackets\n")
    assert cpu_memory.kernel_thp_mode(setting) is None
    monkeypatch.setenv(cpu_memory.ENV, "0")
    assert cpu_memory.describe() == f"off ({cpu_memory.ENV}=0)"
    monkeypatch.setenv(cpu_memory.ENV, "1")
    monkeypatch.setattr(cpu_memory, "kernel_thp_mode", lambda: "never")
    assert cpu_memory.describe().startswith("off (the kernel's THP mode is never")
    monkeypatch.setattr(cpu_memory, "kernel_thp_mode", lambda: "madvise")
    assert cpu_memory.describe() == f"on ({cpu_memory.ENV}=1, kernel THP mode madvise)"


def _faults(value: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != cpu_memory.ENV}
    if value is not None:
        env[cpu_memory.ENV] = value
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip())


@pytest.mark.skipif(cpu_memory.kernel_thp_mode() in (None, "never"), reason="no transparent huge pages here")
def test_importing_tooljudge_makes_torch_fault_large_tensors_in_huge_pages():
    """Four fresh 64 MiB tensors, filled: with the user's 0, torch faults in every 4 KiB page (65,536 faults);
    with the variable unset, importing tooljudge turns torch's huge-page advice on and the faults fall by far more
    than 8x (measured here: 65,587 vs 2,223, most of those from importing torch)."""
    off, on = _faults("0"), _faults(None)
    assert off >= 60_000, off
    assert on * 8 < off, (on, off)


MMAPPED = ("import ctypes, tooljudge.cpu_memory as cm, torch\n"
           "class Info(ctypes.Structure):\n"
           "    _fields_ = [(n, ctypes.c_size_t) for n in 'arena ordblks smblks hblks hblkhd usmblks fsmblks "
           "uordblks fordblks keepcost'.split()]\n"
           "libc = ctypes.CDLL('libc.so.6'); libc.mallinfo2.restype = Info\n"
           "print(cm.apply_heap_setting())\n"
           "before = libc.mallinfo2().hblkhd\n"
           "t = torch.ones(20 << 20, dtype=torch.uint8)\n"
           "print((libc.mallinfo2().hblkhd - before) >> 20)")


@pytest.mark.skipif(cpu_memory._libc() is None, reason="glibc only")
@pytest.mark.parametrize("value, mapped_mib", [(None, 20), ("default", 20), ("keep", 0)])
def test_heap_setting_decides_whether_a_20_mib_tensor_is_mapped_or_from_the_heap(value, mapped_mib):
    """glibc's own counter of mapped bytes (``mallinfo2().hblkhd``): by default a fresh 20 MiB tensor is a new
    mapping (faulted in page by page, unmapped on free); with ``TOOLJUDGE_CPU_HEAP=keep`` it comes from the heap."""
    env = {k: v for k, v in os.environ.items() if k != cpu_memory.HEAP_ENV}
    if value is not None:
        env[cpu_memory.HEAP_ENV] = value
    out = subprocess.run([sys.executable, "-c", MMAPPED], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    said, mapped = out.stdout.strip().splitlines()
    assert int(mapped) == mapped_mib
    assert ("kept in the heap" in said) == (value == "keep")


def test_heap_setting_refuses_an_unknown_value():
    with pytest.raises(ValueError, match="TOOLJUDGE_CPU_HEAP='fast': use one of default, keep"):
        cpu_memory.apply_heap_setting({cpu_memory.HEAP_ENV: "fast"})


def test_the_log_does_not_claim_huge_pages_where_torch_came_first():
    """A process that imports torch before tooljudge: torch may already have read the variable unset, so the run
    log must not say "on"; importing tooljudge first does say it."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the default is Linux only")
    env = {k: v for k, v in os.environ.items() if k != cpu_memory.ENV}
    said = {}
    for name, code in (("torch first", "import torch, tooljudge.cpu_memory as c; print(c.describe())"),
                       ("tooljudge first", "import tooljudge.cpu_memory as c, torch; print(c.describe())")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        said[name] = out.stdout.strip()
    assert said["torch first"].startswith("off in this process"), said
    assert said["tooljudge first"].startswith(("on (", "off (the kernel")), said

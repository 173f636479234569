"""Copy a wheel leaving out the native libraries a machine will not load (bitsandbytes ships one per CUDA
version, 43 MB in all; the GPU machine's carry limit is 64 MiB).

    python benchmarks/device/slim_wheel.py IN.whl OUT_DIR 'bitsandbytes/libbitsandbytes_(cpu|cuda130)\\.so'

Every ``*.so`` that the pattern does not match is dropped, and its line leaves the wheel's RECORD, so the
result installs as a normal wheel of the same name and version. Prints what was kept and dropped.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path


def slim_wheel(wheel: Path, out_dir: Path, keep_so: str) -> tuple[Path, list[str], list[str]]:
    """Write ``out_dir/<same name>`` without the shared libraries ``keep_so`` does not match."""
    keep = re.compile(keep_so)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel.name
    kept, dropped = [], []
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        for name in names:
            if name.endswith(".so") and not keep.fullmatch(name):
                dropped.append(name)
            elif name.endswith(".so"):
                kept.append(name)
        gone = set(dropped)
        for info in src.infolist():
            if info.filename in gone:
                continue
            data = src.read(info.filename)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(ln for ln in lines if ln.split(",", 1)[0] not in gone).encode()
            dst.writestr(info, data)
    if not kept:
        raise SystemExit(f"{keep_so!r} matches none of {wheel.name}'s libraries: the wheel would not load")
    return target, kept, dropped


def main(argv: list[str] | None = None) -> None:
    wheel, out_dir, pattern = (argv if argv is not None else sys.argv[1:])
    target, kept, dropped = slim_wheel(Path(wheel), Path(out_dir), pattern)
    print(f"{target}: {target.stat().st_size / 2**20:.1f} MiB; kept {kept}; dropped {len(dropped)} libraries")


if __name__ == "__main__":
    main()

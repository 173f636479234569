"""One compressed archive of per-row files per run folder under ``benchmarks/results/``.

A run folder keeps its summaries as text (``README.md``, ``*_summary.{md,json}``, reports, recipes as run,
plots) and puts every per-row file (``*.jsonl`` verdicts, pairs and training logs; ``*.log`` stdout) into one
``rows.tar.xz`` beside them, so the results stay a few MB in the source tree and nothing is lost. Packing is
deterministic (sorted members, fixed owner and time), checks the archive byte for byte against the files before
it deletes them, and never overwrites an archive. Scripts that read old runs go through ``read_text``, which
takes a loose file when there is one and the archived member otherwise.

    python benchmarks/run_archive.py pack benchmarks/results/NAME [...]   # after collecting a new run
    python benchmarks/run_archive.py list benchmarks/results/NAME
    python benchmarks/run_archive.py extract benchmarks/results/NAME DEST  # the per-row files, under DEST
"""

from __future__ import annotations

import argparse
import io
import json
import tarfile
from pathlib import Path

ARCHIVE = "rows.tar.xz"
ROW_SUFFIXES = (".jsonl", ".log")


def row_files(run_dir: Path) -> list[Path]:
    """The per-row files under ``run_dir`` (any depth), sorted by their path relative to it."""
    return sorted((p for p in run_dir.rglob("*") if p.is_file() and p.suffix in ROW_SUFFIXES),
                  key=lambda p: p.relative_to(run_dir).as_posix())


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(run_dir: Path) -> list[str]:
    """Move the per-row files of ``run_dir`` into ``run_dir/rows.tar.xz``; returns the archived names.
    Raises FileExistsError when the archive exists (never overwritten) and FileNotFoundError when there is
    nothing to pack."""
    run_dir = Path(run_dir)
    target = run_dir / ARCHIVE
    if target.exists():
        raise FileExistsError(f"{target} exists; extract it and pack the folder again to add files")
    files = row_files(run_dir)
    if not files:
        raise FileNotFoundError(f"{run_dir}: no per-row files ({', '.join(ROW_SUFFIXES)}) to pack")
    contents = {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in files}
    partial = target.with_name(ARCHIVE + ".partial")
    with tarfile.open(partial, "w:xz", preset=9) as tar:
        for name, data in contents.items():
            tar.addfile(_member(name, len(data)), io.BytesIO(data))
    if read_all(partial) != contents:
        partial.unlink()
        raise RuntimeError(f"{partial}: read back differs from the files; nothing deleted")
    partial.rename(target)
    for p in files:
        p.unlink()
    for folder in sorted({p.parent for p in files}, key=lambda d: len(d.parts), reverse=True):
        if folder != run_dir and not any(folder.iterdir()):
            folder.rmdir()
    return list(contents)


def read_all(archive: Path) -> dict[str, bytes]:
    """Every member of an archive, by name."""
    with tarfile.open(archive, "r:xz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def read_text(run_dir: Path, name: str) -> str:
    """``run_dir/name`` as text: the loose file when there is one, else the member of the run's archive."""
    run_dir = Path(run_dir)
    loose = run_dir / name
    if loose.is_file():
        return loose.read_text(encoding="utf-8")
    archive = run_dir / ARCHIVE
    if archive.is_file():
        with tarfile.open(archive, "r:xz") as tar:
            try:
                return tar.extractfile(tar.getmember(name)).read().decode("utf-8")
            except KeyError:
                pass
    raise FileNotFoundError(f"{run_dir}: no {name}, neither as a file nor in {ARCHIVE}")


def read_rows(run_dir: Path, name: str) -> list[dict]:
    """The rows of the JSONL file ``name`` of a run (loose or archived); a line that is not JSON is an error
    naming the file and the line."""
    rows = []
    for lineno, line in enumerate(read_text(run_dir, name).splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{Path(run_dir) / name}:{lineno}: not JSON ({e.msg})") from None
    return rows


def extract(run_dir: Path, dest: Path) -> list[str]:
    """Write the archived per-row files of ``run_dir`` under ``dest`` (which must not hold them already)."""
    dest = Path(dest)
    members = read_all(Path(run_dir) / ARCHIVE)
    clash = [n for n in members if (dest / n).exists()]
    if clash:
        raise FileExistsError(f"{dest}: already holds {clash[:3]}; extract somewhere else")
    for name, data in members.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return list(members)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("pack", help="move each folder's per-row files into its rows.tar.xz").add_argument(
        "run_dirs", nargs="+", type=Path)
    sub.add_parser("list", help="the archived files of a run folder").add_argument("run_dir", type=Path)
    ex = sub.add_parser("extract", help="write a run folder's archived files under DEST")
    ex.add_argument("run_dir", type=Path)
    ex.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    if args.command == "pack":
        for run_dir in args.run_dirs:
            names = pack(run_dir)
            print(f"{run_dir / ARCHIVE}: {len(names)} files, {(run_dir / ARCHIVE).stat().st_size:,} bytes")
    elif args.command == "list":
        for name, data in read_all(args.run_dir / ARCHIVE).items():
            print(f"{len(data):>10,}  {name}")
    else:
        print(f"wrote {len(extract(args.run_dir, args.dest))} files under {args.dest}")


if __name__ == "__main__":
    main()

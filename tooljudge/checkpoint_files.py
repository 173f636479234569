"""Is a checkpoint folder complete, meaning loadable? Checked from the file formats, without loading tensors.

Why: "the file exists" is not "the file was written". A SIGKILL mid-save, a full disk or a half-finished copy
to another machine leaves files that exist but are cut short; resuming from one crashes the same way on every
restart (a SLURM requeue loops), and evaluating one scores garbage or fails. Both training's resume and the
eval watcher ask this module, so they agree on what "complete" means.

What is checked (header reads only, so it is cheap on multi-GB files):

- ``*.safetensors``: the 8-byte header length and the JSON header parse; every tensor's byte range matches its
  dtype and shape; the file is exactly as long as the header says (what ``safetensors`` itself requires).
- ``*.pt`` / ``*.pth`` / ``*.bin`` (``torch.save`` zip archives: weights, optimizer, scheduler, RNG states,
  training args): the zip central directory (written last) is present, every member's local header is where
  it says, all data lies before the directory, and the archive holds a ``data.pkl``.
- ``*.json``: parses (``trainer_state.json`` is written last by the Trainer).
- ``*.index.json`` of sharded weights: every shard it names exists.
- FSDP's sharded ``*.distcp`` files: their ``.metadata`` (written after the shards) is there.
- the folder holds weights (a weights file, or FSDP / DeepSpeed shard folders), and (for a resume)
  ``trainer_state.json``.

Files directly in the folder are checked, and those in DeepSpeed / FSDP shard sub-folders. Not checked: whether
the bytes inside a tensor are the ones written (that would need a hash the Trainer does not record), and
the inside of formats other than these (e.g. a ``.distcp`` shard, a tokenizer's ``.model``).
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "adapter_model.safetensors", "pytorch_model.bin", "adapter_model.bin",
                "model.safetensors.index.json", "pytorch_model.bin.index.json")
TRAINER_STATE = "trainer_state.json"
TORCH_SUFFIXES = (".pt", ".pth", ".bin")
# sub-folders that belong to a checkpoint (DeepSpeed ZeRO shards, FSDP sharded state); any other sub-folder
# (a run folder's checkpoint-N, eval_summary, runs/) is not part of the checkpoint being judged
SHARD_FOLDERS = ("global_step", "pytorch_model_fsdp", "optimizer_")
SAFETENSORS_MAX_HEADER = 100_000_000  # safetensors' own limit
# bytes per element of the safetensors dtypes with a whole-byte size (others: the range is not size-checked)
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2,
                "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8}
_ZIP_LOCAL_HEADER = b"PK\x03\x04"


def safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file, or None when it is."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name}: {size} bytes, shorter than a safetensors header"
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > SAFETENSORS_MAX_HEADER or 8 + header_len > size:
            return f"{path.name}: header of {header_len} bytes does not fit in the file's {size} bytes (truncated)"
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as e:
        return f"{path.name}: header is not JSON ({type(e).__name__})"
    if not isinstance(header, dict):
        return f"{path.name}: header is not a JSON object"
    data_end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = info["data_offsets"]
            shape, dtype = info["shape"], info["dtype"]
            if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
                raise ValueError
            count = math.prod(shape)
        except (KeyError, TypeError, ValueError):
            return f"{path.name}: tensor {name!r} has no valid dtype, shape and data_offsets"
        if dtype in _DTYPE_BYTES and end - begin != count * _DTYPE_BYTES[dtype]:
            return f"{path.name}: tensor {name!r} spans {end - begin} bytes, its {dtype} {shape} needs " \
                   f"{count * _DTYPE_BYTES[dtype]}"
        data_end = max(data_end, end)
    expected = 8 + header_len + data_end
    if size != expected:
        what = "truncated" if size < expected else "trailing bytes"
        return f"{path.name}: {size} bytes, the header says {expected} ({what})"
    return None


def torch_zip_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete ``torch.save`` zip archive, or None when it is."""
    size = path.stat().st_size
    if size == 0:
        return f"{path.name}: empty"
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            directory_start = archive.start_dir
            with open(path, "rb") as f:
                for info in infos:
                    f.seek(info.header_offset)
                    if f.read(4) != _ZIP_LOCAL_HEADER:
                        return f"{path.name}: member {info.filename!r} has no local header where the directory says"
                    if info.header_offset + info.compress_size > directory_start:
                        return f"{path.name}: member {info.filename!r} runs into the zip directory"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        return f"{path.name}: no complete zip directory, the file is cut short or not a torch zip ({e})"
    if not any(i.filename == "data.pkl" or i.filename.endswith("/data.pkl") for i in infos):
        return f"{path.name}: zip archive without data.pkl (not a torch.save file)"
    return None


def json_problem(path: Path) -> str | None:
    try:
        json.loads(path.read_bytes())
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        return f"{path.name}: not complete JSON ({type(e).__name__})"
    return None


def file_problem(path: Path) -> str | None:
    """The reason one file of a checkpoint is not loadable, or None (files of other kinds are not judged)."""
    name = path.name
    try:
        if name.endswith(".safetensors"):
            return safetensors_problem(path)
        if name.endswith(TORCH_SUFFIXES):
            return torch_zip_problem(path)
        if name.endswith(".json"):
            return json_problem(path)
    except OSError as e:  # deleted or unreadable while being checked (rotation, a copy in progress)
        return f"{name}: unreadable ({type(e).__name__}: {e})"
    return None


def _index_problems(index: Path) -> list[str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return []  # the JSON check reports it
    missing = sorted({shard for shard in weight_map.values() if not (index.parent / str(shard)).is_file()})
    return [f"{index.name}: shard {shard} is missing" for shard in missing]


def _shard_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(SHARD_FOLDERS))


def has_weights(folder: Path) -> bool:
    """A weights file, or sharded weights (FSDP ``pytorch_model_fsdp_*/``, DeepSpeed ``global_step*/``)."""
    folder = Path(folder)
    if any((folder / f).exists() for f in WEIGHT_FILES):
        return True
    try:
        return any(p.name.startswith(("pytorch_model_fsdp", "global_step")) and any(p.iterdir())
                   for p in _shard_folders(folder))
    except OSError:
        return False


def _distcp_problems(sub: Path, folder: Path) -> list[str]:
    """torch.distributed.checkpoint writes ``.metadata`` after every ``*.distcp`` shard."""
    if not any(sub.glob("*.distcp")):
        return []
    meta = sub / ".metadata"
    if not meta.is_file() or meta.stat().st_size == 0:
        return [f"{sub.relative_to(folder).as_posix()}: no .metadata (written after the shards)"]
    return []


def checkpoint_problems(folder: str | Path, require_trainer_state: bool = True) -> list[str]:
    """Every reason ``folder`` is not a complete checkpoint; empty means complete (loadable).

    ``require_trainer_state``: a resume needs ``trainer_state.json`` (the Trainer writes it last); an eval of a
    final model folder does not."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    problems = []
    if not has_weights(folder):
        problems.append(f"no weights file ({', '.join(WEIGHT_FILES)})")
    if require_trainer_state and not (folder / TRAINER_STATE).is_file():
        problems.append(f"no {TRAINER_STATE} (the Trainer writes it after every other file)")
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
        for sub in _shard_folders(folder):
            problems.extend(_distcp_problems(sub, folder))
            files.extend(sorted(p for p in sub.rglob("*") if p.is_file()))
    except OSError as e:
        return [*problems, f"cannot list the folder ({type(e).__name__}: {e})"]
    for path in files:
        problem = file_problem(path)
        if problem:
            rel = path.relative_to(folder).as_posix()
            problems.append(problem.replace(path.name, rel, 1) if rel != path.name else problem)
        if path.name.endswith(".index.json"):
            problems.extend(_index_problems(path))
    return problems

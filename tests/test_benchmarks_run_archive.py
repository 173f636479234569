"""benchmarks/run_archive.py: a run folder's per-row files go into one rows.tar.xz byte for byte, summaries stay
as text, nothing is overwritten, and readers get the same text from the archive as from the loose file."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run_archive.py"


@pytest.fixture
def archive():
    spec = importlib.util.spec_from_file_location("run_archive", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path) -> dict[str, bytes]:
    files = {"effect_examples_sft.jsonl": b'{"id": "a", "correct": true}\n{"id": "b", "correct": false}\n',
             "on_policy_pairs.jsonl": '{"prompt": "caf\u00e9 \u2713"}\n'.encode(),
             "logs/same_cut.log": b"{'loss': '0.7'}\n", "logs/empty.log": b"",
             "effect_summary.json": b'{"stages": []}\n', "README.md": b"# run\n"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def test_pack_moves_per_row_files_and_keeps_summaries(archive, tmp_path):
    files = _run(tmp_path / "run")
    names = archive.pack(tmp_path / "run")
    assert names == ["effect_examples_sft.jsonl", "logs/empty.log", "logs/same_cut.log", "on_policy_pairs.jsonl"]
    left = sorted(p.relative_to(tmp_path / "run").as_posix() for p in (tmp_path / "run").rglob("*"))
    assert left == ["README.md", "effect_summary.json", "rows.tar.xz"]  # the emptied logs/ folder is gone
    assert archive.read_all(tmp_path / "run" / "rows.tar.xz") == {n: files[n] for n in names}


def test_readers_see_the_same_text_loose_or_archived(archive, tmp_path):
    _run(tmp_path / "loose")
    _run(tmp_path / "packed")
    archive.pack(tmp_path / "packed")
    for name in ("effect_examples_sft.jsonl", "on_policy_pairs.jsonl", "logs/same_cut.log", "effect_summary.json"):
        assert archive.read_text(tmp_path / "packed", name) == archive.read_text(tmp_path / "loose", name)
    assert archive.read_rows(tmp_path / "packed", "effect_examples_sft.jsonl") == [
        {"id": "a", "correct": True}, {"id": "b", "correct": False}]
    with pytest.raises(FileNotFoundError, match="no missing.jsonl, neither as a file nor in rows.tar.xz"):
        archive.read_text(tmp_path / "packed", "missing.jsonl")


def test_a_bad_line_is_named(archive, tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"id": 1}\n{"id": \n')
    with pytest.raises(ValueError, match=r"rows\.jsonl:2: not JSON"):
        archive.read_rows(tmp_path, "rows.jsonl")


def test_packing_is_deterministic_and_never_overwrites(archive, tmp_path):
    for name in ("a", "b"):
        _run(tmp_path / name)
        archive.pack(tmp_path / name)
    assert (tmp_path / "a" / "rows.tar.xz").read_bytes() == (tmp_path / "b" / "rows.tar.xz").read_bytes()
    (tmp_path / "a" / "new.jsonl").write_text("{}\n")
    with pytest.raises(FileExistsError, match="rows.tar.xz exists"):
        archive.pack(tmp_path / "a")
    assert (tmp_path / "a" / "new.jsonl").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "README.md").write_text("# summaries only\n")
    with pytest.raises(FileNotFoundError, match="no per-row files"):
        archive.pack(tmp_path / "c")


def test_extract_gives_back_the_files_and_refuses_to_overwrite(archive, tmp_path):
    files = _run(tmp_path / "run")
    archive.pack(tmp_path / "run")
    archive.main(["extract", str(tmp_path / "run"), str(tmp_path / "out")])
    assert (tmp_path / "out" / "logs" / "same_cut.log").read_bytes() == files["logs/same_cut.log"]
    with pytest.raises(FileExistsError, match="already holds"):
        archive.extract(tmp_path / "run", tmp_path / "out")

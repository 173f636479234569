"""The top-level folders install under one namespace and never shadow stdlib or installed modules."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"data_prep": "tooljudge.data_prep", "train": "tooljudge.train", "eval": "tooljudge.eval"}


@pytest.mark.parametrize("folder,package", sorted(FOLDERS.items()))
def test_folder_imports_under_namespace(folder, package):
    module = importlib.import_module(package)
    assert Path(module.__file__).resolve().parent == ROOT / folder


def test_no_generic_top_level_names_installed():
    for name in ("train", "eval", "data_prep"):
        spec = importlib.util.find_spec(name)
        # Found only if the repo root is on sys.path (pytest's rootdir), never from site-packages.
        assert spec is None or Path(spec.origin or "").resolve().is_relative_to(ROOT), name


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_no_module_shadows_stdlib_or_installed_package(folder):
    """A script run as `python eval/run.py` puts eval/ first on sys.path: a module there named like a
    stdlib or installed package would shadow it for every import in that process."""
    clashes = []
    for path in (ROOT / folder).glob("*.py"):
        name = path.stem
        if name == "__init__":
            continue
        if name in sys.stdlib_module_names:
            clashes.append(name)
            continue
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and not Path(spec.origin).resolve().is_relative_to(ROOT):
            clashes.append(name)
    assert clashes == [], f"{folder}/ modules shadow other modules: {clashes}"

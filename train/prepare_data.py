"""Prepare a training recipe's SFT data as training will see it: render, mask, save, with a report.

    python train/prepare_data.py recipes/llama31.yaml [--output_dir DIR] [data_prep/prepare.py options]

Model, family, truncation, boundary, max_length and sources come from the recipe, read by the trainer's own
parser (``load_recipe``); the sources are mixed as training mixes them. Writes ``DIR/dataset`` and
``DIR/report.json`` (default ``DIR``: the recipe's ``training.output_dir``/prepared). Why here: recipes belong to
the train layer, and data_prep (which does the work, ``tooljudge.data_prep.prepare``) never imports it.
"""

from __future__ import annotations

from pathlib import Path


def recipe_settings(path: str) -> dict:
    """What ``data_prep.prepare.main`` takes from a recipe: model, family, truncation, boundary, max_length,
    sources (the recipe's ``DataSource`` records) and the default output folder."""
    from tooljudge.train.recipe import load_recipe

    cfg = load_recipe(path)
    training = cfg.training if isinstance(cfg.training, dict) else {}
    return {
        "model": cfg.model.name_or_path,
        "family": cfg.data.family,
        "truncation": cfg.data.truncation,
        "boundary": cfg.data.boundary,
        "max_length": cfg.data.max_length or training.get("max_length"),
        "sources": list(cfg.data.sources),
        "output_dir": str(Path(training.get("output_dir", "runs/prepared")) / "prepared"),
    }


def main(argv: list[str] | None = None) -> None:
    from tooljudge.data_prep.prepare import main as prepare_main

    prepare_main(argv, recipe_settings=recipe_settings)


if __name__ == "__main__":
    main()

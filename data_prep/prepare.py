"""Prepare tool conversations for SFT: render through the model's chat template, mask, save.

    python data_prep/prepare.py --model PATH_OR_ID --dataset FILE_OR_ID --output_dir DIR \\
        [--max_length N] [--family auto|FAMILY (families.FAMILIES: --help lists them)] \\
        [--truncation drop_turns|drop_row] [--num_proc N] [--inspect N [--format text|json|html] [--ids]]

A training recipe's data (model, family, sources mixed as training mixes them) is prepared by the train layer,
which reads recipes: ``python train/prepare_data.py recipes/llama31.yaml [--output_dir DIR]`` (same options).

Writes ``DIR/dataset`` (``datasets.save_to_disk``: ``input_ids``, ``assistant_masks``) and ``DIR/report.json``
(rows read, kept, dropped by reason, truncated, total and trained tokens). ``--inspect N`` prints row N with every
token marked trained or not instead of preparing the whole set.

The output folder is checked before any work (writable; absent, empty, or ``--overwrite``), built under
``.DIR.incomplete-PID`` beside it and renamed to ``DIR`` only when complete, so a crash or a full disk never
leaves a dataset that looks whole. Exit status: 0 when the data was read (bad rows are dropped and counted in the
report), 1 with ``--strict`` when any row was dropped, 2 when an input cannot be read or the output written.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from tooljudge.data_prep.mask_dataset import PrepareConfig
from tooljudge.data_prep.outputs import OutputError, check_output_dir, incomplete_dir, publish_dir

from tooljudge.config import cli_parser, help_of, like, pick, setting

SOURCE_ERRORS = (OSError, ValueError, TypeError, EOFError, zlib.error, ImportError)


RECIPE_KEYS = ("family", "max_length", "truncation", "boundary")  # a recipe sets these too


def _recipe_default(name: str) -> Any:
    help_text = help_of(PrepareConfig, name)
    default = getattr(PrepareConfig, name)
    f = {f.name: f for f in fields(PrepareConfig)}[name]
    return setting(None, f"{help_text} (default: the recipe's, else {default})", choices=f.metadata.get("choices"))


@dataclass(kw_only=True)
class PrepareArgs:
    """The options besides the recipe and ``InspectView``: ``PrepareConfig``'s fields (``like``); those a recipe
    also sets default to None (the recipe's value, else ``PrepareConfig``'s)."""

    model: str | None = setting(None, "tokenizer path or id (with its chat template); smollm2: the bundled model")
    dataset: str | None = setting(None, "conversations file or datasets source")
    format_in: str = setting("auto", "input format: auto|openai|sharegpt|glaive|xlam|hermes")
    output_dir: str | None = setting(None, "where DIR/dataset and DIR/report.json go")
    family: str | None = _recipe_default("family")
    max_length: int | None = _recipe_default("max_length")
    truncation: str | None = _recipe_default("truncation")
    boundary: str | None = _recipe_default("boundary")
    special_text: str = like(PrepareConfig, "special_text")
    parallel_calls: str = like(PrepareConfig, "parallel_calls")
    reference_quirks: str = like(PrepareConfig, "reference_quirks")
    num_proc: int = like(PrepareConfig, "num_proc")
    inspect: int | None = setting(None, "print row N's mask and stop", metavar="N")
    overwrite: bool = setting(False, "replace an existing, non-empty output folder (refused otherwise)")
    strict: bool = setting(False, "exit with status 1 if any row was dropped")


def build_parser(recipe: bool = False):
    """The options of ``PrepareArgs`` and ``InspectView``; with ``recipe`` the recipe file first (the train
    layer's ``prepare_data.py``)."""
    from tooljudge.data_prep.inspect_mask import InspectView

    p = cli_parser(PrepareArgs, InspectView,
                   description="Render tool conversations through the model's chat template and mask them.")
    if recipe:
        p.add_argument("recipe", help="a training recipe YAML")
    else:  # named only to point at the script that reads recipes
        p.add_argument("recipe", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--family_option", "--family-option", action="append", default=[], metavar="KEY=VALUE",
                   help="family option, e.g. lang=zh, parallel=false, glm4_call_style=content_json")
    return p


def _resolve_model(name: str) -> str:
    if name in ("bundled:smollm2", "smollm2"):
        from tooljudge.models import smollm2_checkpoint

        return str(smollm2_checkpoint())
    return name


def _recipe_rows(sources: list) -> tuple[list[dict], dict]:
    """Rows exactly as training mixes them (``data_prep.data_mix.load_mixture``) from a recipe's sources."""
    from tooljudge.data_prep.data_mix import load_mixture

    mixed, reports = load_mixture(sources, "sft", 0)  # prints rows read / kept / dropped per source
    return [row for _, row in mixed], {"sources": [r.to_dict() for r in reports]}


def main(argv: list[str] | None = None, recipe_settings: Callable[[str], dict] | None = None) -> None:
    """The CLI. ``recipe_settings`` reads a recipe path into ``model``, ``family``, ``truncation``, ``boundary``,
    ``max_length``, ``sources``, ``output_dir`` (``tooljudge.train.prepare_data`` passes it: data_prep does not
    read training recipes)."""
    from tooljudge.data_prep.inspect_mask import inspect_row, render_inspection
    from tooljudge.data_prep.mask_dataset import attach_load_report, load_rows, prepare_rows, save_prepared

    p = build_parser(recipe=recipe_settings is not None)
    a = p.parse_args(argv)
    if recipe_settings is None and a.recipe:
        p.error(f"a training recipe is prepared by the train layer: python train/prepare_data.py {a.recipe}")
    for stream in (sys.stdout, sys.stderr):  # a row's text must never stop the run at print time
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")

    import yaml

    try:
        settings = recipe_settings(a.recipe) if recipe_settings is not None else {}
    except (*SOURCE_ERRORS, yaml.YAMLError) as exc:  # a RecipeError is a ValueError
        _fail(f"{a.recipe}: the recipe cannot be used ({type(exc).__name__}: {exc})")
    model = a.model or settings.get("model")
    if not model or not (a.dataset or settings.get("sources")):
        p.error("give --model and --dataset, or a recipe")
    options = {}
    for kv in a.family_option:
        key, _, value = kv.partition("=")
        options[key] = {"true": True, "false": False}.get(value.lower(), value)
    # an option given wins, then the recipe's value, then PrepareConfig's default
    from_recipe = {k: settings[k] for k in RECIPE_KEYS if settings.get(k) is not None}
    given = {k: getattr(a, k) for k in RECIPE_KEYS if getattr(a, k) is not None}
    config = pick(PrepareConfig, a, ("num_proc", "special_text", "parallel_calls", "reference_quirks"),
                  family_options=options, **{**from_recipe, **given})
    output_dir = a.output_dir or settings.get("output_dir")
    if a.inspect is None:
        if not output_dir:
            p.error("give --output_dir")
        try:  # before any work: a read-only folder or an existing dataset is found now, not after masking
            check_output_dir(output_dir, overwrite=a.overwrite)
        except OutputError as exc:
            _fail(str(exc))
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(_resolve_model(model))
    except (OSError, ValueError) as exc:
        _fail(f"{model}: the tokenizer cannot be loaded ({type(exc).__name__}: {str(exc)[:300]})")
    try:
        if a.dataset:
            rows, load_report = load_rows(a.dataset, a.format_in)  # the summary prints its counts
        else:
            rows, load_report = _recipe_rows(settings["sources"])
    except SOURCE_ERRORS as exc:
        _fail(f"{a.dataset or 'recipe sources'}: cannot be read ({type(exc).__name__}: {exc})")

    if a.inspect is not None:
        if not 0 <= a.inspect < len(rows):
            _fail(f"--inspect {a.inspect}: there are {len(rows)} usable rows (0..{len(rows) - 1})")
        from tooljudge.data_prep.mask_dataset import _family_arg

        ins = inspect_row(tok, rows[a.inspect], family=_family_arg(config, tok), max_length=config.max_length,
                          config=config.mask_config())
        color = {"auto": None, "always": True, "never": False}[a.color]
        print(render_inspection(ins, a.format, a.ids, color))
        return

    dataset, report = prepare_rows(tok, rows, config)
    attach_load_report(report, load_report, len(rows))
    tmp = incomplete_dir(output_dir)
    try:
        save_prepared(dataset, report, tmp)
        out = publish_dir(tmp, output_dir)
    except OSError as exc:
        _fail(f"{output_dir}: writing failed ({exc}); nothing was published (the partial copy is in {tmp})")
    print(report.summary())
    print(f"wrote {out / 'dataset'} and {out / 'report.json'}")
    if report.kept == 0:
        print("no row was kept; see report.json", file=sys.stderr)
    if a.strict and (report.dropped or _loader_dropped(load_report)):
        sys.exit(1)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _loader_dropped(load_report: dict | None) -> int:
    """Rows the loader dropped (one report, or one per recipe source)."""
    if not load_report:
        return 0
    if "sources" in load_report:
        return sum(int(s.get("loader_dropped", 0)) for s in load_report["sources"] if isinstance(s, dict))
    return int(load_report.get("dropped", 0))


if __name__ == "__main__":
    main()

"""BFCL v4 multi-turn entries from the installed ``bfcl-eval`` package, prepared as BFCL's runner prepares them.

Files are read through ``tooljudge.eval.bfcl_data`` (the installed package, or ``bfcl_dir``). Why replicate
BFCL's preparation instead of calling ``bfcl_eval.utils.load_dataset_entry``: that function takes
file locks in a folder beside the installed package (it writes there). The steps are small and a test compares
the result with BFCL's own functions: each entry gets the function docs of its involved classes (in
``involved_classes`` order), the ``missed_function`` docs of miss_func are taken out of that list and kept per
turn, and the docs left in the list get BFCL's Python hint appended to their description (the held-out docs do
not: BFCL moves them out before adding the hint).

Entry: BFCL's own keys (``id``, ``question``, ``initial_config``, ``involved_classes``, ``function``,
``missed_function`` with turn-index strings as keys) plus ``category`` and ``ground_truth`` (per turn, BFCL call
strings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tooljudge.eval.bfcl_data import MULTI_TURN as MT_CATEGORIES
from tooljudge.eval.bfcl_data import bfcl_resource, load_bfcl_set, read_bfcl_jsonl

PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
# bfcl_eval.constants.executable_backend_config.MULTI_TURN_FUNC_DOC_FILE_MAPPING (the multi-turn classes)
FUNC_DOC_FILES = {
    "GorillaFileSystem": "gorilla_file_system.json", "MathAPI": "math_api.json", "MessageAPI": "message_api.json",
    "TwitterAPI": "posting_api.json", "TicketAPI": "ticket_api.json", "TradingBot": "trading_bot.json",
    "TravelAPI": "travel_booking.json", "VehicleControlAPI": "vehicle_control.json",
}


def function_docs(class_name: str, bfcl_dir: str | Path | None = None) -> list[dict]:
    """BFCL's function docs of one API class (fresh dicts on every call)."""
    if class_name not in FUNC_DOC_FILES:
        raise ValueError(f"no multi-turn function docs for class {class_name!r}; known: {sorted(FUNC_DOC_FILES)}")
    return read_bfcl_jsonl(bfcl_resource(f"multi_turn_func_doc/{FUNC_DOC_FILES[class_name]}", bfcl_dir))


def prepare_entry(entry: dict, category: str, ground_truth: list[list[str]], bfcl_dir: str | Path | None = None) -> dict:
    """One raw entry -> the entry BFCL's runner sees (function docs, held-out docs, hints) + answer key."""
    where = f"{category} {entry.get('id')!r}"
    for key in ("id", "question", "involved_classes"):
        if key not in entry:
            raise ValueError(f"{where}: missing {key!r}")
    if len(ground_truth) != len(entry["question"]):
        raise ValueError(f"{where}: {len(entry['question'])} turns but {len(ground_truth)} answer-key turns")
    out = dict(entry, category=category, ground_truth=ground_truth, initial_config=entry.get("initial_config", {}))
    functions: list[dict] = []
    for class_name in entry["involved_classes"]:
        functions.extend(function_docs(class_name, bfcl_dir))
    missed: dict[str, list[dict]] = {}
    for turn, names in (entry.get("missed_function") or {}).items():
        missed[turn] = []
        for name in names:
            i = next((k for k, f in enumerate(functions) if f["name"] == name), None)
            if i is None:
                raise ValueError(f"{where}: missed function {name!r} (turn {turn}) is not among the class docs")
            missed[turn].append(functions.pop(i))
        if not 0 <= int(turn) < len(entry["question"]) or entry["question"][int(turn)]:
            raise ValueError(f"{where}: held-out turn {turn} must be an existing turn without a user message")
    for f in functions:
        f["description"] = f["description"] + PYTHON_HINT
    out["function"] = functions
    if "missed_function" in entry:
        out["missed_function"] = missed
    return out


def load_category(category: str, bfcl_dir: str | Path | None = None) -> list[dict]:
    """Every entry of one multi-turn category, in file order (``bfcl_dir`` overrides the installed package)."""
    if category not in MT_CATEGORIES:
        raise ValueError(f"unknown multi-turn category {category!r}; choose from {MT_CATEGORIES}")
    entries, answers = load_bfcl_set(category, bfcl_dir)
    missing = [e.get("id") for e in entries if e.get("id") not in answers]
    if missing:
        raise ValueError(f"{category}: {len(missing)} entries without an answer key (first: {missing[0]!r})")
    return [prepare_entry(e, category, answers[e["id"]], bfcl_dir) for e in entries]


def load_multi_turn(categories: tuple[str, ...] | list[str] = MT_CATEGORIES, max_examples: int | None = None,
                    seed: int = 0, bfcl_dir: str | Path | None = None) -> list[dict]:
    """Entries of the categories; ``max_examples`` caps each category (seeded subsample, file order kept)."""
    from tooljudge.eval.fc_eval import subsample

    out: list[dict] = []
    for cat in categories:
        out.extend(subsample(load_category(cat, bfcl_dir), max_examples, seed))
    return out


def set_categories(name: str) -> tuple[str, ...] | None:
    """Eval-set name -> categories: ``bfcl_multi_turn`` (all four), ``bfcl_multi_turn_<kind>``; None otherwise."""
    if name == "bfcl_multi_turn":
        return MT_CATEGORIES
    if name.startswith("bfcl_multi_turn_"):
        cat = name[len("bfcl_"):]
        if cat not in MT_CATEGORIES:
            raise ValueError(f"unknown multi-turn set {name!r}; choose bfcl_multi_turn or "
                             + ", ".join(f"bfcl_{c}" for c in MT_CATEGORIES))
        return (cat,)
    return None


def tools_for(functions: list[dict]) -> list[dict[str, Any]]:
    """BFCL function docs -> OpenAI-style tools for the chat template (BFCL's type names mapped)."""
    from tooljudge.eval.bfcl_data import bfcl_function_to_tool

    return [bfcl_function_to_tool(f) for f in functions]

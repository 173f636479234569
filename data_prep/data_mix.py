"""Recipe data -> TRL-ready token datasets: load each source, weight the mixture, tokenise through data_prep.

Why here and not in TRL: TRL's own tokenisation re-renders conversations and only masks templates it knows;
data_prep masks exactly the tokens the model generates under its own template. SFT rows are handed to TRL as
``input_ids`` + ``assistant_masks`` (TRL turns them into labels, also under packing); DPO rows as
``prompt_ids`` / ``chosen_ids`` / ``rejected_ids`` cut from ``render_prompt`` + ``render_completion``, so only
the chosen/rejected assistant turn (its stop token included) counts in the DPO loss. Rows data_prep rejects are
counted by reason, reported, and never dropped silently. It reads a recipe's ``data`` section (duck-typed:
``train/recipe.py`` owns the recipe) and imports nothing from train/.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooljudge.data_prep.builtin_sources import (
    BUILTIN_PREFIX,
    BUILTIN_SOURCE_REGISTRY,
    build_rows,
    option_keys,
)
from tqdm.auto import tqdm

from tooljudge.config import ConfigError, check_keys

# How much of each rejected (``data.rejected_span``) and chosen (``data.chosen_span``) answer the DPO loss sees.
REJECTED_SPANS = ("full", "to_first_difference")
CHOSEN_SPANS = REJECTED_SPANS
# Where the tokens both answers of a pair begin with go (``data.shared_prefix``).
SHARED_PREFIXES = ("answer", "prompt")


class DataError(ValueError):
    """A row or a source that cannot be used; the message names the source and the row."""


@dataclass
class SourceReport:
    """What happened to one source: rows read, rows used after weighting, rows skipped by reason."""

    source: str
    weight: float
    rows_read: int = 0  # rows in the source (a JSON Lines file: its non-blank lines)
    loader_kept: int = 0  # rows the reader and schema check passed on
    loader_dropped: Counter = field(default_factory=Counter)  # rows they dropped, by reason
    rows_after_weight: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    loader_report: dict[str, Any] | None = None
    # DPO with data.rejected_span: to_first_difference: rejected answers cut, and the tokens the cut removed.
    rejected_cut: int = 0
    rejected_tokens_removed: int = 0
    # DPO with data.chosen_span: to_first_difference: chosen answers cut, and the tokens the cut removed.
    chosen_cut: int = 0
    chosen_tokens_removed: int = 0
    # DPO with data.shared_prefix: prompt: pairs whose shared opening moved into the prompt, and its tokens.
    shared_moved: int = 0
    shared_tokens_moved: int = 0
    # kept rows (SFT) and pairs (DPO) by what the recipe's mask keys did to them, as data_prep's report counts them
    control_text_rows: int = 0  # control-token text in content, encoded as text (special_text: text)
    parallel_split_rows: int = 0  # parallel calls split into one turn per call (parallel_calls: split)
    reference_quirk_rows: Counter = field(default_factory=Counter)  # kind -> rows (reference_quirks: follow)
    # where each loaded row sits in its source ("line 3" of a JSON Lines file, "row 3" otherwise; 1-based), by
    # the row object's id (a weighted copy is the same object): errors name it; not part of the report
    places: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    def where(self, row: Any) -> str:
        """``SOURCE:LINE`` (a file's line) or ``SOURCE row N`` (1-based), or just the source if unknown."""
        place = self.places.get(id(row))
        if place is None:
            return self.source
        return f"{self.source}:{place[5:]}" if place.startswith("line ") else f"{self.source} {place}"

    def load_summary(self) -> str:
        """'SOURCE: read N rows, kept K, dropped D (reason x n, ...)': what the reader did, before weighting."""
        return _load_line(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "weight": self.weight, "rows_read": self.rows_read,
               "loader_kept": self.loader_kept, "loader_dropped": dict(self.loader_dropped),
               "rows_after_weight": self.rows_after_weight, "kept": self.kept, "skipped": dict(self.skipped),
               "loader_report": self.loader_report}
        if self.rejected_cut:
            out.update(rejected_cut=self.rejected_cut, rejected_tokens_removed=self.rejected_tokens_removed)
        if self.chosen_cut:
            out.update(chosen_cut=self.chosen_cut, chosen_tokens_removed=self.chosen_tokens_removed)
        if self.shared_moved:
            out.update(shared_moved=self.shared_moved, shared_tokens_moved=self.shared_tokens_moved)
        for key in ("control_text_rows", "parallel_split_rows"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.reference_quirk_rows:
            out["reference_quirk_rows"] = dict(sorted(self.reference_quirk_rows.items()))
        return out

    def count_kept(self, control_text: bool = False, split_calls: int = 0, quirks: tuple[str, ...] = ()) -> None:
        """One kept row (or one weighted copy of it) and what the mask keys did to it."""
        self.kept += 1
        self.control_text_rows += bool(control_text)
        self.parallel_split_rows += bool(split_calls)
        self.reference_quirk_rows.update(quirks)


# --- loading ------------------------------------------------------------------------------------------------


BUILTIN_SOURCES = BUILTIN_SOURCE_REGISTRY  # names: ``in``, iteration (data_prep.builtin_sources)


# Options of a built-in DPO source that go to ``preference_pairs.rule_pairs`` rather than to the row synthesis:
# ``decision_balance`` caps how far the pairs lean toward "call over reply" or the reverse, which otherwise varies
# with ``n`` and the seed (64 points drew 21 / 31 on one seed and 34 / 18 on another of the CPU preset).
RULE_PAIR_OPTIONS = frozenset({"per_point", "kinds", "decision_balance"})


def builtin_option_keys(name: str, kind: str) -> set[str]:
    """Option keys a built-in source accepts (the fields of its config dataclasses: ``SynthConfig``, plus
    ``WorldConfig`` for ``tool_world``; the rule-pair options for DPO). Preflight checks recipes against the
    same set."""
    return option_keys(name) | (RULE_PAIR_OPTIONS if kind == "dpo" else set())


def _builtin_rows(name: str, options: dict[str, Any], kind: str) -> tuple[list[dict[str, Any]], Any]:
    """Built-in sources. ``builtin:synthetic``: data_prep's executed synthetic tool-use conversations over the
    31 built-in tools (``options`` are ``SynthConfig`` fields, e.g. ``n``, ``seed``, ``mix``);
    ``builtin:tool_world``: the same categories over the generated tools and simulated world (plus
    ``WorldConfig`` fields, e.g. ``tool_seed``, ``mask_fraction``; train side of the tool split only); for DPO,
    rule-made preference pairs from them (``per_point``, ``kinds``, ``decision_balance`` go to
    ``preference_pairs.rule_pairs``; pairs dropped by the balance are counted in the pair report)."""
    if name not in BUILTIN_SOURCES:
        raise DataError(f"unknown built-in source {BUILTIN_PREFIX}{name!r}; known: "
                        + ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_SOURCES))
    try:
        check_keys(options, builtin_option_keys(name, kind), f"the options of {BUILTIN_PREFIX}{name}")
    except ConfigError as err:
        raise DataError(str(err)) from None
    rows, report = build_rows(name, options)
    if kind != "dpo":
        return rows, report
    from tooljudge.data_prep.preference_pairs import rule_pairs

    pairs, pair_report = rule_pairs(rows, seed=options.get("seed", 0),
                                    **{k: v for k, v in options.items() if k in RULE_PAIR_OPTIONS})
    return pairs, {"synthesis": _report_dict(report), "pairs": _report_dict(pair_report)}


def load_source(source, kind: str, on_bad_row: str = "skip") -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Rows of one recipe source: canonical conversations (SFT) or preference rows (DPO), read by data_prep's
    readers (``data_prep.sources``): a row that cannot be read or checked is dropped and counted by reason, or,
    with ``on_bad_row="error"``, stops the run with a :class:`DataError` naming the source, line and reason."""
    rows, report, _ = load_source_with_places(source, kind, on_bad_row)
    return rows, report


def load_source_with_places(source, kind: str, on_bad_row: str = "skip"
                            ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[str]]:
    """:func:`load_source` plus where each row sits in the source: ``"line N"`` (the 1-based line of a JSON
    Lines file) or ``"row N"`` (1-based: a JSON array's or Parquet file's row, a built-in source's row)."""
    if source.source.startswith(BUILTIN_PREFIX):
        rows, report = _builtin_rows(source.source[len(BUILTIN_PREFIX):], dict(source.options), kind)
        return rows, report if isinstance(report, dict) else _report_dict(report), [
            f"row {n}" for n in range(1, len(rows) + 1)]
    import zlib

    from tooljudge.data_prep.sources import load_conversations, load_records

    path = Path(source.source).expanduser()
    if not path.exists():
        raise DataError(f"data source not found: {path}")
    positions: list[tuple[int, int | None]] = []
    try:
        if kind == "sft":
            rows, report = load_conversations(str(path), fmt=source.format, positions=positions)
        else:
            rows, report = load_records(str(path), label="preference rows", positions=positions)
    except (OSError, ValueError, TypeError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot be read ({type(err).__name__}: {err})") from err
    if on_bad_row == "error" and report.problems:
        first = report.problems[0]
        where = f"{path}:{first.line}" if first.line is not None else f"{path} row {first.row}"
        raise DataError(f"{where}: bad row ({first.code}): {first.message} (data.on_bad_row: error stops the run; "
                        f"'skip' drops and counts such rows)")
    places = [f"line {line}" if line is not None else f"row {index + 1}" for index, line in positions]
    return list(rows), _report_dict(report), places


def _report_dict(report: Any) -> dict[str, Any] | None:
    if report is None:
        return None
    if hasattr(report, "to_dict"):
        return report.to_dict()
    if hasattr(report, "__dataclass_fields__"):
        import dataclasses

        return json.loads(json.dumps(dataclasses.asdict(report), default=str))
    return {"repr": repr(report)}


def apply_weight(rows: list[Any], weight: float, seed: int) -> list[Any]:
    """``weight`` copies of the rows: the whole part repeats every row, the fraction takes a seeded sample."""
    whole, frac = int(weight), weight - int(weight)
    out = list(rows) * whole
    if frac > 1e-9 and rows:
        count = round(frac * len(rows))
        out += random.Random(seed).sample(list(rows), count)
    return out


def load_mixture(sources, kind: str, seed: int, on_bad_row: str = "skip"
                 ) -> tuple[list[tuple[int, dict]], list[SourceReport]]:
    """All sources, weighted. Returns ``[(source_index, row)]`` and one report per source (which also knows
    where each row sits in its source, for errors); the console gets one line per source: rows read, kept and
    dropped by reason."""
    mixed: list[tuple[int, dict]] = []
    reports = []
    for index, source in enumerate(sources):
        rows, loader_report, places = load_source_with_places(source, kind, on_bad_row)
        weighted = apply_weight(rows, source.weight, seed + index)
        report = SourceReport(source=source.source, weight=source.weight, rows_read=len(rows),
                              loader_kept=len(rows), rows_after_weight=len(weighted), loader_report=loader_report,
                              places={id(row): place for row, place in zip(rows, places, strict=True)})
        if isinstance(loader_report, dict) and isinstance(loader_report.get("rows_read"), int):
            report.rows_read = loader_report["rows_read"]
            report.loader_dropped.update(loader_report.get("dropped_by_reason") or {})
        print(report.load_summary(), flush=True)
        reports.append(report)
        mixed.extend((index, row) for row in weighted)
    return mixed, reports


# --- tokenising ---------------------------------------------------------------------------------------------


def _reason(err: Exception) -> str:
    """A short, countable reason for a skipped row: the exception type and the message's first clause."""
    text = str(err).split("\n")[0]
    return f"{type(err).__name__}: {text[:120]}"


def _skippable_errors() -> tuple[type[Exception], ...]:
    from tooljudge.data_prep.masking import MaskError

    return (MaskError, DataError, ValueError, KeyError, TypeError)


def _prepared_once(cache: dict[int, tuple[Any, Exception | None]], row: dict, make: Callable[[dict], Any]) -> Any:
    """``make(row)``, computed once per row object: a weight above 1 repeats the same row object, and
    rendering and tokenising it again would give the same result (or the same error, raised again so that each
    copy is counted)."""
    key = id(row)  # the rows stay alive in the mixture for the whole loop
    if key not in cache:
        try:
            cache[key] = (make(row), None)
        except _skippable_errors() as err:
            cache[key] = (None, err)
    result, err = cache[key]
    if err is not None:
        raise err
    return result


def prepare_sft_rows(tokenizer, mixed, reports: list[SourceReport], family: str, max_length: int | None,
                     on_bad_row: str, prepare: Callable | None = None, mask_policy: dict | None = None,
                     ) -> list[dict[str, list[int]]]:
    """``prepare_example`` on every row -> ``[{"input_ids", "assistant_masks"}]``; bad rows skipped or raised."""
    if prepare is None:
        from tooljudge.data_prep.masking import MaskConfig, prepare_example_info

        def prepare(tok, row, family, max_length):
            return prepare_example_info(tok, row, family=family, max_length=max_length,
                                        config=MaskConfig(**(mask_policy or {})))
    errors = _skippable_errors()
    out, cache = [], {}
    for position, (src, row) in enumerate(tqdm(mixed, desc="preparing SFT rows", disable=len(mixed) < 200)):
        try:
            prepared = _prepared_once(cache, row, lambda r: prepare(tokenizer, r, family=family,
                                                                   max_length=max_length))
            if isinstance(prepared, dict):  # a ``prepare`` given by the caller: ids and mask only
                ids, mask = list(prepared["input_ids"]), list(prepared["assistant_masks"])
            else:  # masking.Prepared
                ids, mask = list(prepared.input_ids), list(prepared.assistant_masks)
            if len(ids) != len(mask):
                raise DataError(f"input_ids ({len(ids)}) and assistant_masks ({len(mask)}) differ in length")
            if max_length is not None and len(ids) > max_length:
                raise DataError(f"row has {len(ids)} tokens > max_length {max_length}")
            if not any(mask):
                raise DataError("no trained (assistant) token in the row")
        except errors as err:
            if on_bad_row == "error":
                raise DataError(f"{reports[src].where(row)} (mixture row {position}): {err}") from err
            reports[src].skipped[_reason(err)] += 1
            continue
        reports[src].count_kept(getattr(prepared, "control_text", 0), getattr(prepared, "split_calls", 0),
                                getattr(prepared, "quirks", ()))
        out.append({"input_ids": ids, "assistant_masks": [int(bool(m)) for m in mask]})
    return out


def _one_assistant(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict):
        value = [value]
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)):
        raise DataError(f"{where} must be a list holding one assistant message")
    if value[0].get("role") != "assistant":
        raise DataError(f"{where}[0].role is {value[0].get('role')!r}, expected 'assistant'")
    return value[0]


@dataclass
class PairTokens:
    """One tokenised preference row: the ids TRL gets and what the recipe's mask keys did to the pair."""

    ids: dict[str, list[int]]
    control_text: bool = False  # control-token text in the prompt or a reply, encoded as text
    split_calls: int = 0  # assistant turns of the prompt whose parallel calls were split
    quirks: tuple[str, ...] = ()  # reference quirks followed (masking.QUIRK_REASONS kinds)


def tokenize_pair(tokenizer, row: dict[str, Any], family: str, render_prompt: Callable,
                  render_completion: Callable, config: Any = None) -> dict[str, list[int]]:
    """One preference row -> ``prompt_ids`` / ``chosen_ids`` / ``rejected_ids`` (see :func:`tokenize_pair_info`)."""
    return tokenize_pair_info(tokenizer, row, family, render_prompt, render_completion, config).ids


def tokenize_pair_info(tokenizer, row: dict[str, Any], family: str, render_prompt: Callable,
                       render_completion: Callable, config: Any = None) -> PairTokens:
    """One preference row -> ``prompt_ids`` / ``chosen_ids`` / ``rejected_ids``, with the SFT mask keys.

    The prompt is exactly what eval feeds the model (``render_prompt``), each completion exactly what the model
    must generate (``render_completion``, stop token included). ``config`` (a ``masking.MaskConfig``; default
    its defaults, as for SFT) decides what SFT's ``prepare_example`` decides: ``special_text`` (control-token
    text in content kept as text and counted, or the pair refused), ``parallel_calls`` (the prompt's parallel
    calls split into one turn per call and counted, or the pair refused) and ``reference_quirks``. When the
    prompt's last token merges with a reply's first (``boundary_token``: a reply starting with newlines after
    qwen25's prompt, which ends in one), ``"follow"`` tokenises prompt + reply as SFT tokenises the conversation and scores the reply from the
    token holding its first character (SFT's trained span); ``"reject"`` refuses the pair with SFT's reason.
    ``prompt_ids + chosen_ids`` are then SFT's ids of prompt + chosen through the turn's stop token, and
    ``chosen_ids`` SFT's trained tokens of it. One ``prompt_ids`` serves both replies: when only one reply
    merges, the prompt ends before the merged token and the other reply's ids start with the prompt's last
    token(s). ``boundary: split`` tokenises prompt and reply apart, as SFT's ``split``.
    """
    from tooljudge.data_prep import masking

    from tooljudge.core.control_text import concat_rendered, encode_concat, encode_rendered

    prompt = row.get("prompt")
    if not (isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt)):
        raise DataError("prompt must be a non-empty list of messages")
    tools = row.get("tools") or None
    if isinstance(tools, str):
        tools = json.loads(tools)
    config = config if config is not None else masking.MaskConfig()
    if config.validate:
        # the chosen reply must make a valid conversation of the prompt, as an SFT row must (unknown tool,
        # arguments off the schema, a result without its call, ...: masking.InvalidRow, reason invalid_row). The
        # rejected reply is wrong on purpose (a needless call, an unknown tool, bad arguments) and is not.
        chosen = _one_assistant(row.get("chosen"), "chosen")
        masking.validate_row({"messages": [dict(m) for m in prompt] + [dict(chosen)], "tools": tools or []})
    fam = masking.resolve_family(family, tokenizer)
    # the prompt's turns as the reply's render sees them (the same rules as an SFT row's: masking.conversation_turns)
    found: set[str] = set()
    head, _, split = masking.conversation_turns({"messages": [dict(m) for m in prompt], "tools": tools or []}, fam,
                                                config, found=found)
    prompt_text = render_prompt(tokenizer, prompt, tools=tools, family=family)
    prompt_ids = encode_rendered(tokenizer, prompt_text)  # control-token text in content stays text
    control = bool(getattr(prompt_text, "control_text", 0))
    sides: dict[str, tuple[list[int], int]] = {}
    for side in ("chosen", "rejected"):
        message = _one_assistant(row.get(side), side)
        completion = render_completion(tokenizer, prompt, message, tools=tools, family=family, config=config,
                                       found=found)
        control = control or bool(getattr(completion, "control_text", 0))
        full = encode_concat(tokenizer, prompt_text, completion)
        if config.boundary != "split" and list(full[: len(prompt_ids)]) == list(prompt_ids):
            sides[side] = (list(full), len(prompt_ids))  # the reply starts on a token boundary (ordinary rows)
            continue
        text = concat_rendered(tokenizer, prompt_text, completion)
        ids, mask = masking.spans_to_tokens(tokenizer, text, [(len(prompt_text), len(text), len(head))],
                                            config.boundary, config.reference_quirks, found)
        if not any(mask):
            raise DataError(f"{side}: empty completion")
        start = mask.index(1)
        end = len(mask) - mask[::-1].index(1)
        sides[side] = (list(ids[:end]), start)
    start = min(s for _, s in sides.values())
    (chosen, _), (rejected, _) = sides["chosen"], sides["rejected"]
    if chosen[:start] != rejected[:start]:
        raise DataError("the prompt tokenises differently before chosen and before rejected (tokens merge across "
                        "the boundary)")
    out = {"prompt_ids": chosen[:start]}
    for side, (ids, _) in sides.items():
        if len(ids) <= start:
            raise DataError(f"{side}: empty completion")
        out[f"{side}_ids"] = ids[start:]
    if out["chosen_ids"] == out["rejected_ids"]:
        raise DataError("chosen and rejected render to the same tokens")
    return PairTokens(out, control, split, tuple(sorted(found)))


def rejected_to_first_difference(chosen_ids: list[int], rejected_ids: list[int]) -> list[int]:
    """The rejected answer through its first token that differs from the chosen one.

    Why: in the sigmoid DPO loss the tokens both answers share cancel, so the preference is decided from the
    first difference on; what the rejected answer says after its wrong decision is conditioned on that mistake,
    and pushing it down as well teaches things nobody meant (after a needless call, "do not stop"). A rejected
    answer that is a strict prefix of the chosen one (cut off before it went wrong) is returned whole.
    """
    return cut_at_first_difference(rejected_ids, chosen_ids)


def cut_at_first_difference(answer_ids: list[int], other_ids: list[int]) -> list[int]:
    """``answer_ids`` through its first token that differs from ``other_ids``; whole when it is a prefix of
    ``other_ids``; one token past ``other_ids`` when that is a strict prefix of it."""
    for i, (a, b) in enumerate(zip(answer_ids, other_ids, strict=False)):
        if a != b:
            return list(answer_ids[: i + 1])
    if len(answer_ids) > len(other_ids):
        return list(answer_ids[: len(other_ids) + 1])
    return list(answer_ids)


def move_shared_opening_to_prompt(pair: dict[str, list[int]]) -> int:
    """Move the tokens both answers begin with to the end of the prompt; return how many moved.

    Why: in the sigmoid DPO loss the shared tokens cancel (same context, same tokens, in both answers), so
    the margin is the same either way; but the NLL term of ``loss_type: [sigmoid, sft]`` trains every chosen
    token it sees. When both answers call a tool (a "how" pair: wrong value, missing argument), the shared
    opening is the call itself, and the term then teaches "call" on every such pair, whatever the request.
    In the prompt it is context only: the term trains what the chosen answer says once the two part.
    """
    from tooljudge.core.backends import common_prefix_length

    chosen, rejected = pair["chosen_ids"], pair["rejected_ids"]
    # each answer keeps at least one token of its own (a pair whose one answer is a prefix of the other)
    moved = max(min(common_prefix_length(chosen, rejected), len(chosen) - 1, len(rejected) - 1), 0)
    if moved:
        pair["prompt_ids"] = list(pair["prompt_ids"]) + list(pair["chosen_ids"][:moved])
        pair["chosen_ids"] = list(pair["chosen_ids"][moved:])
        pair["rejected_ids"] = list(pair["rejected_ids"][moved:])
    return moved


def prepare_dpo_rows(tokenizer, mixed, reports: list[SourceReport], family: str, max_length: int | None,
                     on_bad_row: str, render_prompt: Callable | None = None,
                     render_completion: Callable | None = None, mask_policy: dict | None = None,
                     rejected_span: str = "full", chosen_span: str = "full",
                     shared_prefix: str = "answer") -> list[dict[str, list[int]]]:
    """``tokenize_pair`` on every preference row; rows longer than ``max_length`` are skipped, not cut.

    ``rejected_span="to_first_difference"`` cuts each rejected answer after its first token that differs from
    the chosen one (``rejected_to_first_difference``); ``chosen_span="to_first_difference"`` cuts each chosen
    answer the same way against the rejected one, so the loss sees only the shared prefix and the first token
    where the two answers part (the decision), not the rest of the chosen answer. ``shared_prefix="prompt"``
    then moves the tokens both answers begin with into the prompt (``move_shared_opening_to_prompt``). The cuts
    and moves are counted in the source's report.
    """
    if rejected_span not in REJECTED_SPANS:
        raise ValueError(f"rejected_span: {rejected_span!r} is not {'|'.join(REJECTED_SPANS)}")
    if chosen_span not in CHOSEN_SPANS:
        raise ValueError(f"chosen_span: {chosen_span!r} is not {'|'.join(CHOSEN_SPANS)}")
    if shared_prefix not in SHARED_PREFIXES:
        raise ValueError(f"shared_prefix: {shared_prefix!r} is not {'|'.join(SHARED_PREFIXES)}")
    if render_prompt is None or render_completion is None:
        from tooljudge.data_prep import masking

        render_prompt = render_prompt or masking.render_prompt
        render_completion = render_completion or masking.render_completion
    from tooljudge.data_prep.masking import MaskConfig

    config = MaskConfig(**(mask_policy or {}))  # the recipe's mask keys, as for SFT
    errors = _skippable_errors()
    out, cache = [], {}
    for position, (src, row) in enumerate(tqdm(mixed, desc="preparing DPO pairs", disable=len(mixed) < 200)):
        try:
            info = _prepared_once(cache, row, lambda r: tokenize_pair_info(tokenizer, r, family, render_prompt,
                                                                          render_completion, config))
            pair = dict(info.ids)
            removed = chosen_removed = 0
            chosen_ids, rejected_ids = pair["chosen_ids"], pair["rejected_ids"]
            if rejected_span == "to_first_difference":
                pair["rejected_ids"] = rejected_to_first_difference(chosen_ids, rejected_ids)
                removed = len(rejected_ids) - len(pair["rejected_ids"])
            if chosen_span == "to_first_difference":  # against the uncut rejected answer: the same first difference
                pair["chosen_ids"] = cut_at_first_difference(chosen_ids, rejected_ids)
                chosen_removed = len(chosen_ids) - len(pair["chosen_ids"])
            moved = move_shared_opening_to_prompt(pair) if shared_prefix == "prompt" else 0
            longest = len(pair["prompt_ids"]) + max(len(pair["chosen_ids"]), len(pair["rejected_ids"]))
            if max_length is not None and longest > max_length:
                raise DataError(f"pair has {longest} tokens > max_length {max_length}")
        except errors as err:
            if on_bad_row == "error":
                raise DataError(f"{reports[src].where(row)} (mixture row {position}): {err}") from err
            reports[src].skipped[_reason(err)] += 1
            continue
        if removed:
            reports[src].rejected_cut += 1
            reports[src].rejected_tokens_removed += removed
        if chosen_removed:
            reports[src].chosen_cut += 1
            reports[src].chosen_tokens_removed += chosen_removed
        if moved:
            reports[src].shared_moved += 1
            reports[src].shared_tokens_moved += moved
        reports[src].count_kept(info.control_text, info.split_calls, info.quirks)
        out.append(pair)
    return out


def build_datasets(config, tokenizer, **prepare_kwargs):
    """The recipe's train (and eval) ``datasets.Dataset`` plus a JSON-able data report."""
    from datasets import Dataset

    data = config.data
    max_length = data.max_length if data.max_length is not None else config.training.get("max_length")
    prepare_rows = prepare_sft_rows if config.kind == "sft" else prepare_dpo_rows
    if config.kind == "dpo":
        prepare_kwargs = {"rejected_span": data.rejected_span, "chosen_span": data.chosen_span,
                          "shared_prefix": data.shared_prefix, **prepare_kwargs}
    result = {}
    report: dict[str, Any] = {}
    for split, sources in (("train", data.sources), ("eval", data.eval_sources)):
        if not sources:
            continue
        mixed, reports = load_mixture(sources, config.kind, data.seed, data.on_bad_row)
        rows = prepare_rows(tokenizer, mixed, reports, data.family, max_length, data.on_bad_row,
                            mask_policy={"truncation": data.truncation, "boundary": data.boundary,
                                         "special_text": data.special_text, "parallel_calls": data.parallel_calls,
                                         "reference_quirks": data.reference_quirks},
                            **prepare_kwargs)
        report[split] = [r.to_dict() for r in reports]
        if not rows:
            raise DataError(f"no usable {split} rows: " + json.dumps(report[split], default=str))
        result[split] = Dataset.from_list(rows)
    return result.get("train"), result.get("eval"), report


def _load_line(entry: dict[str, Any]) -> str:
    dropped = entry.get("loader_dropped") or {}
    line = (f"{entry['source']}: read {entry.get('rows_read', 0)} rows, kept "
            f"{entry.get('loader_kept', entry.get('rows_read', 0))}, dropped {sum(dropped.values())}")
    if dropped:
        line += " (" + ", ".join(f"{k} x{v}" for k, v in sorted(dropped.items(), key=lambda kv: -kv[1])) + ")"
    return line


_MASK_COUNTS = {"control_text_rows": "with control-token text kept as text",
                "parallel_split_rows": "with parallel calls split"}


def summarize_report(report: dict[str, Any]) -> str:
    """One line per source: rows read / kept / dropped by reason by the reader, then kept / after weight
    after tokenising, and skip reasons."""
    lines = []
    for split, sources in report.items():
        for entry in sources:
            skipped = sum(entry["skipped"].values())
            line = (f"[{split}] {_load_line(entry)}; tokenised: kept {entry['kept']}/"
                    f"{entry['rows_after_weight']}")
            if skipped:
                line += f", skipped {skipped}: " + "; ".join(f"{k} x{v}" for k, v in entry["skipped"].items())
            marks = [f"{entry[k]} {label}" for k, label in _MASK_COUNTS.items() if entry.get(k)]
            marks += [f"{n} following the reference quirk {kind}"
                      for kind, n in (entry.get("reference_quirk_rows") or {}).items()]
            if marks:
                line += " (" + ", ".join(marks) + ")"
            if entry.get("rejected_cut"):
                line += (f"; {entry['rejected_cut']} rejected answers cut at their first difference "
                         f"({entry['rejected_tokens_removed']} tokens left out of the loss)")
            if entry.get("chosen_cut"):
                line += (f"; {entry['chosen_cut']} chosen answers cut at their first difference "
                         f"({entry['chosen_tokens_removed']} tokens left out of the loss)")
            if entry.get("shared_moved"):
                line += (f"; {entry['shared_moved']} pairs' shared opening moved into the prompt "
                         f"({entry['shared_tokens_moved']} tokens, context only)")
            lines.append(line)
    return "\n".join(lines)

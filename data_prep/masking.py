"""Loss masks exactly on the tokens a model generates, for any chat template, without ``{% generation %}``.

The definition: for assistant turn i, the trained tokens are those after
``render(messages[:i], add_generation_prompt=True)`` up to and including the turn's stop token. We render each
generation prompt and the conversation up to each turn, check at the text level that every prompt is a prefix
of the whole conversation, find the turn's stop token (inside the turn, or as the start of the next message for
GLM-4 / Qwen-Agent), tokenise the whole conversation once and map the character spans to tokens through the
tokenizer's offsets. A span that does not start on a token boundary (the prompt's last token merges with the
reply's first) is a reference quirk: the merged token is trained as transformers' ``return_assistant_tokens_mask``
trains it, or, with ``reference_quirks="reject"``, the row gets a :class:`MaskError` (see :data:`QUIRK_REASONS`).
"""

from __future__ import annotations

import bisect
import json
import os
from dataclasses import dataclass, field

from tooljudge.data_prep.families import (
    MERGED_REPLY_KEY,
    MORE_REPLIES_KEY,
    PIECE_CUT,
    PIECE_CUT_OPTION,
    Family,
    FamilyError,
    ParallelCallsUnsupported,
    content_text,
    copy_family,
    get_family,
    reference_path,  # noqa: F401 - re-exported: the masking reference path
    shortcuts_enabled,
)

from tooljudge.core.control_text import (
    ControlTextRejected,
    ControlTextUnsupported,
    Rendered,
    check_split_faithful,
    map_position,
    match_specials,
    protect,
    remove_cuts,
    restore,
    split_encode,
    structural_spans,
    unmark_position,
)


class MaskError(ValueError):
    """The row cannot be masked exactly (template not prefix-preserving, turn without stop token, ...).

    ``reason`` is the code counted in the dataset report (docs/data_prep.md lists them)."""

    reason = "template_error"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class RowTooLong(MaskError):
    """The row does not fit ``max_length`` under the truncation policy (tool schemas are never cut)."""

    reason = "too_long"


class InvalidRow(MaskError):
    """The row fails the semantic validation the CLI loader runs (``schema.check_conversation``): a conversation
    ending in a user turn, a late system message, a missing or duplicate tool result, an unknown tool, ...
    ``problems`` holds the validator's codes."""

    reason = "invalid_row"

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass
class MaskConfig:
    """How ``prepare_example`` treats edge cases.

    ``truncation``: ``"drop_turns"`` drops whole earliest exchanges (user turn up to the next user turn, keeping
    system prompt and tools) until the row fits; ``"drop_row"`` refuses rows over ``max_length``.
    ``boundary``: ``"error"`` raises when a trained span does not start on a token boundary of the whole
    conversation; ``"split"`` tokenises prompt and completion pieces separately (what the model sees at
    inference, where the prompt is tokenised alone) and concatenates them.
    ``verify``: also check, by tokenising every generation prompt, that its tokens are exactly a prefix of the
    conversation's tokens (quadratic; for tests and audits).
    ``special_text``: control-token text inside content (a user writing ``<|eot_id|>``): ``"text"`` encodes it
    as plain text, as the vendors' encoders do (counted as ``control_text`` in the report); ``"reject"`` refuses
    the row (reason ``control_token_text``).
    ``parallel_calls``: for families that cannot write several calls in one turn (``llama31``, ``qwen2_fncall``
    with ``parallel=False``): ``"split"`` makes each call its own assistant turn followed by its result (each
    trained; counted as ``split_calls``), ``"reject"`` refuses the row (reason ``parallel_calls_unsupported``).
    ``validate``: run the semantic validation the CLI loader runs (``schema.check_conversation``: ends in a user
    turn, late system message, missing/duplicate tool result, unknown tool, arguments off the schema, ...) and
    refuse a failing row (:class:`InvalidRow`, reason ``invalid_row``). Skipping it must be asked for.
    ``reference_quirks``: rows the vendor's reference renders in a way our mask definition alone would refuse
    (:data:`QUIRK_REASONS`): ``"follow"`` renders them as the reference does, masks them by the stated rule
    and counts them by kind (``Prepared.quirks``); ``"reject"`` refuses them with the kind's named reason.
    """

    truncation: str = "drop_turns"
    boundary: str = "error"
    verify: bool = False
    special_text: str = "text"
    parallel_calls: str = "split"
    validate: bool = True
    reference_quirks: str = "follow"


# Kinds of reference behaviour followed under ``reference_quirks="follow"`` -> the reason refused under "reject".
QUIRK_REASONS = {
    # the reply's first token also holds the prompt's last characters (whole-text tokenisation, "\n" + "\n\n"):
    # trained, as transformers' return_assistant_tokens_mask trains the token holding a span's first character
    "boundary_token": "template_not_prefix_preserving",
    # the template drops the assistant text written beside a call (Llama 3.1's model template): the calls are trained
    "dropped_text": "template_drops_content",
    # consecutive assistant messages with no stop token between them (GLM-4 writes none): one trained generation,
    # as GLM-4's process_response splits one output on <|assistant|> into several messages
    "one_generation": "no_stop_token",
}


def _quirk(kind: str, policy: str, found: set | None, message: str) -> None:
    """Follow (record ``kind`` in ``found``) or refuse (``MaskError`` with the kind's reason) a reference quirk."""
    if policy not in ("follow", "reject"):
        raise ValueError(f"unknown reference_quirks policy {policy!r} (follow | reject)")
    if policy == "reject":
        raise MaskError(f"{message} (reference_quirks='reject')", reason=QUIRK_REASONS[kind])
    if found is not None:
        found.add(kind)


@dataclass
class Prepared:
    """A prepared row plus what happened to it (for the dataset report)."""

    input_ids: list[int]
    assistant_masks: list[int]
    text: str = ""
    spans: list[tuple[int, int, int]] = field(default_factory=list)  # (char start, char end, message index)
    dropped_messages: int = 0
    untrained_turns: int = 0
    control_text: int = 0  # control-token strings in content, encoded as text
    split_calls: int = 0  # assistant turns with parallel calls split into one turn per call
    quirks: tuple[str, ...] = ()  # reference quirks followed in this row (QUIRK_REASONS kinds)

    def as_dict(self) -> dict:
        return {"input_ids": self.input_ids, "assistant_masks": self.assistant_masks}


# ----------------------------------------------------------------------------- canonical rows
def canonical_row(row: dict, normalized: dict | None = None) -> tuple[list[dict], list[dict] | None]:
    """``(messages, tools)`` of a canonical row (``schema.normalize_conversation``).

    ``"train": false`` flags are kept on the messages (read from the input row when the normaliser drops them).
    ``normalized``: the row's canonical form when the caller already has it (``validate_row`` returns it), so the
    row is not normalised twice.
    """
    from tooljudge.data_prep.schema import normalize_conversation

    norm = normalized if normalized is not None else normalize_conversation(row)
    messages = [dict(m) for m in norm["messages"]]
    original = row.get("messages", [])
    if len(original) == len(messages):
        for m, o in zip(messages, original, strict=True):
            for key in ("train", MERGED_REPLY_KEY, MORE_REPLIES_KEY):
                if isinstance(o, dict) and key in o and key not in m:
                    m[key] = o[key]
            _keep_argument_strings(m, o)
    tools = _keep_missing_descriptions(norm.get("tools") or None, row.get("tools"))
    if not messages:
        raise InvalidRow("the conversation has no messages")
    return messages, tools


def _keep_missing_descriptions(tools, original):
    """A tool the row gives without a description (or without parameters) stays without one (the normaliser writes
    ``""`` / an empty object schema): templates write ``"description": ""`` for the one and nothing for the other."""
    if not tools or not isinstance(original, list) or len(original) != len(tools):
        return tools
    out = []
    for tool, raw in zip(tools, original, strict=True):
        raw_fn = raw.get("function", raw) if isinstance(raw, dict) else {}
        fn = tool.get("function")
        if isinstance(raw_fn, dict) and "description" not in raw_fn and isinstance(fn, dict) \
                and fn.get("description") == "" and raw_fn.get("name") == fn.get("name"):
            tool = {**tool, "function": {k: v for k, v in fn.items() if k != "description"}}
        fn = tool.get("function")
        if isinstance(raw_fn, dict) and "parameters" not in raw_fn and isinstance(fn, dict) and "parameters" in fn \
                and raw_fn.get("name") == fn.get("name"):
            tool = {**tool, "function": {k: v for k, v in fn.items() if k != "parameters"}}
        out.append(tool)
    return out


def _keep_argument_strings(message: dict, original) -> None:
    """Arguments the row gave as a JSON string travel on as ``arguments_json`` (the normaliser parses them), so
    families that write them verbatim (Qwen-Agent) keep ``1e-5`` as ``1e-5``."""
    calls = message.get("tool_calls")
    raw_calls = original.get("tool_calls") if isinstance(original, dict) else None
    if not calls or not isinstance(raw_calls, list) or len(raw_calls) != len(calls):
        return
    new_calls = []
    for call, raw in zip(calls, raw_calls, strict=True):
        fn_raw = raw.get("function", raw) if isinstance(raw, dict) else {}
        text = None
        if isinstance(fn_raw, dict):
            text = fn_raw.get("arguments_json")  # a canonical row passed through again keeps its strings
            if not isinstance(text, str):
                text = fn_raw.get("arguments")
        if isinstance(text, str) and text.strip() and isinstance(call, dict) and isinstance(call.get("function"), dict):
            call = {**call, "function": {**call["function"], "arguments_json": text}}
        new_calls.append(call)
    message["tool_calls"] = new_calls


def merge_assistant_texts(messages: list[dict], family: Family, has_tools: bool = True) -> list[dict]:
    """Directly consecutive text-only replies as one turn, for families whose reference merges them
    (mistral_common joins them with a blank line, Qwen-Agent with nothing), and for GLM-4 and Qwen-Agent a reply
    followed by a call message as the one turn they render it as; the merged turn is trained unless every part is ``train: false``."""
    if family.assistant_join is None and not family.text_then_calls_one_turn:
        return messages
    if family.merges_only_with_tools and not has_tools:
        return messages  # no function prompt (Qwen-Agent): Qwen2's ChatML template, one turn per message
    one_generation = family.text_then_calls_one_turn and family.assistant_join is None  # GLM-4
    out: list[dict] = []
    for m in messages:
        prev = out[-1] if out else None
        both = prev is not None and m["role"] == "assistant" and prev["role"] == "assistant"
        if both and one_generation and not prev.get("tool_calls") and content_text(prev):
            # GLM-4 writes each message as its own <|assistant|> block with no stop token between them: one
            # generation (its process_response splits an output on <|assistant|>), trained as one turn.
            merged = dict(prev, **{MORE_REPLIES_KEY: [*prev.get(MORE_REPLIES_KEY, []), content_text(m)]})
            if m.get("tool_calls"):
                merged["tool_calls"] = m["tool_calls"]
            if prev.get("train", True) is False and m.get("train", True) is not False:
                merged.pop("train", None)
            out[-1] = merged
            continue
        if both and family.text_then_calls_one_turn and not prev.get("tool_calls") and m.get("tool_calls"):
            # Qwen-Agent writes a reply and a following call message (with or without text: it concatenates the
            # texts) as one turn with text and calls
            text = content_text(prev) + (family.assistant_join or "") + content_text(m)
            out[-1] = dict(prev, content=text, tool_calls=m["tool_calls"], **{MERGED_REPLY_KEY: True})
            if prev.get("train", True) is False and m.get("train", True) is not False:
                out[-1].pop("train", None)
            continue
        if (both and family.assistant_join is not None
                and not m.get("tool_calls") and not prev.get("tool_calls")):
            merged = dict(prev, content=content_text(prev) + family.assistant_join + content_text(m))
            if prev.get("train", True) is False and m.get("train", True) is not False:
                merged.pop("train", None)
            out[-1] = merged
        else:
            out.append(m)
    return out


def validate_row(row: dict) -> dict | None:
    """The CLI loader's semantic validation (``schema.check_conversation``), for the Python API too.

    Returns the row's canonical form (what ``normalize_conversation`` returns) for ``canonical_row``."""
    from tooljudge.data_prep.schema import check_conversation

    conv, problems = check_conversation(row)
    problems = [p for p in problems if not _consequence_of_bad_call(p, row)]
    if problems:
        codes = [p.code for p in problems]
        raise InvalidRow("invalid row: " + "; ".join(f"[{p.code}] {p.message}" for p in problems), codes)
    return conv


def _raw_call_ids(row: dict) -> set[str]:
    ids = set()
    for m in row.get("messages") or []:
        for c in (m.get("tool_calls") or []) if isinstance(m, dict) else []:
            if isinstance(c, dict) and isinstance(c.get("id"), str):
                ids.add(c["id"])
    return ids


def _consequence_of_bad_call(problem, row: dict) -> bool:
    """The validator skips a call with bad arguments and then reports its result as coming 'before any tool
    call'; that second report is not true of the row (the call exists) and only repeats the first."""
    if problem.code != "tool_result_without_call":
        return False
    return any(f"(tool_call_id {cid!r})" in problem.message for cid in _raw_call_ids(row))


def check_first_turn(messages: list[dict]) -> None:
    """A training row starts with its system prompt or a user turn: an assistant turn first has no prompt (most
    templates index the first user message and fail inside Jinja)."""
    first = next((m for m in messages if m["role"] != "system"), None)
    if first is not None and first["role"] != "user":
        i = messages.index(first)
        raise MaskError(f"message {i}: the conversation starts with an {first['role']} turn; it must start with a "
                        "user turn (after an optional system prompt)", reason="first_turn_not_user")


def conversation_turns(row: dict, fam: Family, config: MaskConfig, normalized: object = None,
                       found: set | None = None) -> tuple[list[dict], list[dict], int]:
    """The row's turns as the family renders them, shared by SFT rows and DPO prompts: canonical messages and
    tools, the first turn checked, consecutive assistant texts merged, parallel calls split or refused
    (``config.parallel_calls``), consecutive assistant messages followed as one generation or refused
    (``config.reference_quirks``; recorded in ``found``). Returns ``(messages, tools, split turns)``."""
    messages, tools = canonical_row(row, normalized)
    check_first_turn(messages)
    messages, split = split_parallel_calls(merge_assistant_texts(messages, fam, bool(tools)), fam,
                                           config.parallel_calls)
    if any(MORE_REPLIES_KEY in m for m in messages):
        _quirk("one_generation", config.reference_quirks, found, f"the {fam.name} format writes no stop token "
               "between consecutive assistant messages")
    return messages, tools, split


def family_writes_parallel_calls(family: Family) -> bool:
    """Whether ``family`` writes several calls in one turn: its ``parallel_option`` (read from its options, so a
    copy with another value counts) where it has one, else its ``parallel`` field."""
    if family.parallel_option is not None:
        return bool(family.options.get(family.parallel_option, True))
    return family.parallel


def split_parallel_calls(messages: list[dict], family: Family, policy: str = "split") -> tuple[list[dict], int]:
    """For a family that cannot write several calls in one turn: each call becomes its own assistant turn followed
    by its result (results matched by ``tool_call_id``; text beside the calls stays on the first). Returns
    ``(messages, turns split)``; ``policy="reject"`` or a call without its result raises
    :class:`ParallelCallsUnsupported`."""
    if policy not in ("split", "reject"):
        raise ValueError(f"unknown parallel_calls policy {policy!r} (split | reject)")
    if family_writes_parallel_calls(family) or not any(len(m.get("tool_calls") or []) > 1 for m in messages):
        return messages, 0
    out: list[dict] = []
    split = 0
    i = 0
    while i < len(messages):
        m = messages[i]
        calls = m.get("tool_calls") or []
        if m["role"] != "assistant" or len(calls) < 2:
            out.append(m)
            i += 1
            continue
        if policy == "reject":
            raise ParallelCallsUnsupported(
                f"message {i}: the {family.name} format cannot write {len(calls)} calls in one turn "
                "(parallel_calls='reject')")
        j = i + 1
        results = []
        while j < len(messages) and messages[j]["role"] == "tool":
            results.append(messages[j])
            j += 1
        by_id = {r.get("tool_call_id"): r for r in results}
        ids = [c.get("id") for c in calls]
        if len(results) != len(calls) or set(by_id) != set(ids) or len(set(ids)) != len(ids):
            raise ParallelCallsUnsupported(
                f"message {i}: the {family.name} format cannot write {len(calls)} calls in one turn, and they cannot "
                "be split into one turn per call because their results do not follow one per call id")
        for k, call in enumerate(calls):
            turn = {key: v for key, v in m.items() if key not in ("tool_calls", "content")}
            turn.update(role="assistant", content=m.get("content") if k == 0 else "", tool_calls=[call])
            out.append(turn)
            out.append(by_id[call.get("id")])
        split += 1
        i = j
    return out, split


def resolve_family(family, tokenizer) -> Family:
    return get_family(family, tokenizer=tokenizer) if isinstance(family, str) else get_family(family)


# ----------------------------------------------------------------------------- character spans
def _common_prefix_len(a: str, b: str) -> int:
    n = len(os.path.commonprefix([a, b]))
    return n


def _context(text: str, pos: int, width: int = 40) -> str:
    return repr(text[max(0, pos - width): pos]) + " | " + repr(text[pos: pos + width])


def turn_spans(
    tokenizer, family: Family, messages: list[dict], tools: list[dict] | None, special_text: str = "text",
    quirks: str = "follow", found: set | None = None,
) -> tuple[Rendered, list[tuple[int, int, int]]]:
    """Render the conversation and return ``(text, [(start, end, message_index), ...])`` for every assistant
    turn (including ``train: false`` ones; the caller filters).

    Control-token text inside the content is rendered through placeholders (``control_text.protect``), so the
    returned :class:`Rendered` knows where the template's own control tokens are."""
    p_messages, p_tools, protection = protect(tokenizer, messages, tools, family.parses_tool_json)
    if protection.count and special_text == "reject":
        raise ControlTextRejected(
            f"the row holds {protection.count} control-token string(s) inside its content "
            f"({', '.join(sorted(set(protection.placeholders.values())))}) and special_text='reject'"
        )
    if special_text not in ("text", "reject"):
        raise ValueError(f"unknown special_text policy {special_text!r} (text | reject)")
    cut_family, cut = _with_cuts(family, messages, tools)
    text, spans = _turn_spans_raw(tokenizer, cut_family, p_messages, p_tools, quirks, found)
    return _finish_render(tokenizer, text, spans, protection, cut)


def _with_cuts(family: Family, messages=None, tools=None) -> tuple[Family, str | None]:
    """For families whose reference encodes each message piece on its own, a copy that marks the pieces with a
    private-use character the row does not hold (content keeps every character it has), and that mark."""
    if not family.piecewise:
        return family, None
    held = json.dumps([messages, tools], ensure_ascii=False, default=str)
    cut = next((c for c in map(chr, range(ord(PIECE_CUT), ord(PIECE_CUT) + 256)) if c not in held), None)
    if cut is None:
        raise MaskError(f"the row holds every private-use character {family.name} could use to mark where its "
                        "reference encoder starts a new piece", reason="template_error")
    return copy_family(family, **{PIECE_CUT_OPTION: cut}), cut


def _finish_render(tokenizer, text: str, spans, protection, cut: str | None = None) -> tuple[Rendered, list]:
    """Remove piece marks, put control-token text back, and say where the template's control tokens are."""
    text, cuts, marks = remove_cuts(text, cut) if cut else (text, [], [])
    if marks:
        spans = [(unmark_position(marks, a), unmark_position(marks, b), i) for a, b, i in spans]
    if not protection.count:
        if not cuts:
            return Rendered.make(text), spans
        return Rendered.make(text, structural_spans(tokenizer, text), 0, cuts), spans
    try:
        check_split_faithful(tokenizer, text)
    except ControlTextUnsupported as exc:
        raise MaskError(str(exc), reason="control_text_unencodable") from exc
    real, shifts = restore(text, protection, tokenizer)
    real.cuts = tuple(map_position(shifts, c) for c in cuts)
    return real, [(map_position(shifts, a), map_position(shifts, b), i) for a, b, i in spans]


def _turn_spans_raw(
    tokenizer, family: Family, messages: list[dict], tools: list[dict] | None, quirks: str = "follow",
    found: set | None = None,
) -> tuple[str, list[tuple[int, int, int]]]:
    if tools and family.template is None:
        own = family.chat_template(tokenizer)
        if "tools" not in own:
            raise MaskError(
                "the row has tools but the tokenizer's chat template never reads them (they would be silently "
                "dropped); pick a tool-aware family, e.g. family='qwen25' for ChatML models",
                reason="template_ignores_tools",
            )
    render = family.prefix_renderer(tokenizer, messages, tools)
    try:
        full = render(len(messages), False)
    except FamilyError:
        raise
    except Exception as exc:  # template raise_exception, Jinja errors
        raise MaskError(f"the {family.name} template cannot render this conversation: {exc}") from exc
    rendered_whole = full
    if messages[-1]["role"] == "assistant":
        closing = family.final_call_stop if messages[-1].get("tool_calls") else family.final_stop
        full += closing or ""
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        try:
            prompt = render(i, True)
            upto = rendered_whole if i == len(messages) - 1 else render(i + 1, False)
        except FamilyError:
            raise
        except Exception as exc:
            raise MaskError(f"message {i}: the {family.name} template cannot render the prefix: {exc}") from exc
        start = len(prompt)
        if not full.startswith(prompt):
            pos = _common_prefix_len(full, prompt)
            raise MaskError(
                f"message {i}: the {family.name} template is not prefix-preserving: the generation prompt for this "
                f"turn differs from the whole conversation at character {pos}: {_context(prompt, pos)} vs "
                f"{_context(full, pos)}",
                reason="template_not_prefix_preserving",
            )
        if not full.startswith(upto):
            pos = _common_prefix_len(full, upto)
            raise MaskError(
                f"message {i}: the {family.name} template is not prefix-preserving: the conversation up to this "
                f"turn renders differently from the whole conversation at character {pos}: {_context(upto, pos)} vs "
                f"{_context(full, pos)}",
                reason="template_not_prefix_preserving",
            )
        end_region = len(upto)
        if end_region <= start:
            raise MaskError(
                f"message {i}: the assistant turn renders as nothing after its generation prompt",
                reason="empty_turn",
            )
        region = full[start:end_region]
        end = -1
        for stop in family.turn_end_tokens:
            k = region.rfind(stop)
            if k >= 0:
                end = max(end, start + k + len(stop))
        if end < 0:
            for stop in family.next_turn_stops:
                if full.startswith(stop, end_region):
                    end = end_region + len(stop)
                    break
        if end < 0:
            stops = family.turn_end_tokens + family.next_turn_stops
            raise MaskError(
                f"message {i}: no stop token ({', '.join(stops)}) ends this assistant turn: {_context(full, end_region)}",
                reason="no_stop_token",
            )
        _check_turn_kept(family, m, i, full[start:end], quirks, found)
        spans.append((start, end, i))
    return full, spans


def _check_turn_kept(family: Family, message: dict, i: int, span_text: str, quirks: str = "follow",
                     found: set | None = None) -> None:
    """Refuse templates that silently drop an assistant's text or a call. Text beside calls that the template
    writes (Llama 3.1's model template drops it) is a reference quirk: the calls are the trained turn."""
    text = content_text(message).strip()
    if text and text not in span_text:
        msg = f"message {i}: the {family.name} template drops this assistant turn's text {text[:40]!r}"
        if not message.get("tool_calls"):
            raise MaskError(msg, reason="template_drops_content")
        _quirk("dropped_text", quirks, found, msg + " written beside its call")
    for call in message.get("tool_calls") or []:
        name = call.get("function", call).get("name", "")
        if name not in span_text and name not in family.unnamed_calls:
            raise MaskError(
                f"message {i}: the {family.name} template drops the call to {name!r}",
                reason="template_drops_content",
            )


# ----------------------------------------------------------------------------- tokens
def _encode_backend(tokenizer, text: str):
    """The Rust ``Encoding`` of ``text`` (no special tokens added), or None for a tokenizer without a fast backend.
    Its offsets stay in Rust: :func:`_mask_from_encoding` asks for the few it needs."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "encode"):
        match_specials(backend)
        return backend.encode(text, add_special_tokens=False)
    return None


def _first_token_from(enc, pos: int, n_tokens: int, text_len: int) -> int | None:
    """``bisect_left(starts, pos)`` over the token start offsets, read from the few tokens around ``pos``: the
    token starting exactly at ``pos`` (the one before it starting earlier), or ``n_tokens`` at the end of the
    text. None when ``pos`` is not a clean token start (the caller then takes every offset)."""
    if pos >= text_len:
        if n_tokens and enc.token_to_chars(n_tokens - 1)[0] < pos:
            return n_tokens
        return None
    t = enc.char_to_token(pos)
    if t is None or enc.token_to_chars(t)[0] != pos:
        return None
    if t > 0:
        before = enc.token_to_chars(t - 1)
        if before[0] >= pos or before[1] > pos:
            return None
    return t


def _mask_from_encoding(enc, text_len: int, spans) -> tuple[list[int], list[int]] | None:
    """``(ids, mask)`` when every span starts and ends on a clean token start (no boundary quirk), found with
    ``char_to_token`` instead of a Python list of every offset; None otherwise (the offsets path decides). Same
    result as the bisect over all offsets in :func:`spans_to_tokens` (tested on every family's corpus)."""
    ids = enc.ids
    n = len(ids)
    mask = [0] * n
    for start, end, _ in spans:
        j = _first_token_from(enc, start, n, text_len)
        k = _first_token_from(enc, end, n, text_len) if j is not None else None
        if j is None or k is None:
            return None
        if k > j:
            mask[j:k] = [1] * (k - j)
    return ids, mask


def _encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _split_tokens(tokenizer, text: str, spans) -> tuple[list[int], list[int]]:
    """Tokenise untrained and trained pieces separately and concatenate them."""
    ids: list[int] = []
    mask: list[int] = []
    pos = 0
    pieces = []
    for start, end, _ in spans:
        pieces.append((text[pos:start], 0))
        pieces.append((text[start:end], 1))
        pos = end
    pieces.append((text[pos:], 0))
    structural = getattr(text, "structural", None)
    if structural is not None:
        bounds = []
        pos = 0
        for start, end, _ in spans:
            bounds += [(pos, start), (start, end)]
            pos = end
        bounds.append((pos, len(text)))
        cuts = getattr(text, "cuts", ())
        encoded = [split_encode(tokenizer, text[a:b], [(s - a, e - a) for s, e in structural if a <= s and e <= b],
                                [c - a for c in cuts if a < c < b])[0]
                   for a, b in bounds if b > a]
    else:
        texts = [p for p, _ in pieces if p]
        encoded = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    it = iter(encoded)
    for piece, flag in pieces:
        if not piece:
            continue
        toks = list(next(it))
        ids.extend(toks)
        mask.extend([flag] * len(toks))
    return ids, mask


def spans_to_tokens(tokenizer, text: str, spans, boundary: str = "error", quirks: str = "follow",
                    found: set | None = None) -> tuple[list[int], list[int]]:
    """Map character spans to a token mask over one tokenisation of ``text``.

    A token is trained when it starts inside a span. A span should start exactly on a token start (the token
    before it ends at or before the span). When the whole-text tokenisation merges the prompt's last characters
    with the reply's first (``"\n"`` + ``"\n\n"``), ``quirks="follow"`` trains that straddling token as
    transformers' ``return_assistant_tokens_mask`` does (``char_to_token(span start)``; kind ``boundary_token``),
    ``"reject"`` refuses the row. The token holding a span's last character is trained even if it runs past the
    span (a stop word merged with what follows), as ``char_to_token(span end - 1)`` is."""
    structural = getattr(text, "structural", None)
    if boundary == "split":
        return _split_tokens(tokenizer, text, spans)
    if structural is not None:
        ids, offsets = split_encode(tokenizer, str(text), structural, getattr(text, "cuts", ()))
    else:
        enc = _encode_backend(tokenizer, text)
        if enc is not None:
            fast = _mask_from_encoding(enc, len(text), spans) if shortcuts_enabled("encoding") else None
            if fast is not None:
                return fast
            ids, offsets = list(enc.ids), list(enc.offsets)
        else:
            ids, offsets = None, None
    if ids is None:  # slow tokenizer: split, then check it equals the whole-text tokenisation
        ids_split, mask = _split_tokens(tokenizer, text, spans)
        if ids_split != _encode(tokenizer, text):
            raise MaskError(
                "token boundaries of the assistant turns differ from the whole-text tokenisation",
                reason="template_not_prefix_preserving",
            )
        return ids_split, mask
    starts = [s for s, _ in offsets]
    mask = [0] * len(ids)
    for start, end, i in spans:
        j = bisect.bisect_left(starts, start)
        ok = j < len(ids) and starts[j] == start and (j == 0 or offsets[j - 1][1] <= start)
        if not ok:
            msg = (f"message {i}: the assistant turn does not start on a token boundary (the prompt's last token "
                   f"merges with the reply): {_context(text, start)}; the template is not prefix-preserving at the "
                   "token level (use MaskConfig(boundary='split') to tokenise prompt and reply apart)")
            _quirk("boundary_token", quirks, found, msg)
            while j > 0 and offsets[j - 1][1] > start:  # the token(s) holding the span's first character
                j -= 1
        k = bisect.bisect_left(starts, end)
        for t in range(j, k):
            mask[t] = 1
    return ids, mask


def _verify_prefix_tokens(tokenizer, family, messages, tools, ids):
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = render_rendered(tokenizer, family, messages[:i], tools, True, conversation=messages)
        p = encode_rendered(tokenizer, prompt)
        if ids[: len(p)] != p:
            raise MaskError(
                f"message {i}: the generation prompt's tokens are not a prefix of the conversation's tokens",
                reason="template_not_prefix_preserving",
            )


# ----------------------------------------------------------------------------- public API
def _prepare_once(tokenizer, family, messages, tools, config: MaskConfig) -> Prepared:
    found: set = set()
    text, spans = turn_spans(tokenizer, family, messages, tools, config.special_text, config.reference_quirks, found)
    kept = [s for s in spans if messages[s[2]].get("train", True) is not False]
    ids, mask = spans_to_tokens(tokenizer, text, kept, config.boundary, config.reference_quirks, found)
    if config.verify and "boundary_token" not in found:
        _verify_prefix_tokens(tokenizer, family, messages, tools, ids)
    return Prepared(ids, mask, text=str(text), spans=kept, untrained_turns=len(spans) - len(kept),
                    control_text=text.control_text, quirks=tuple(sorted(found)))


def _drop_first_exchange(messages: list[dict]) -> list[dict] | None:
    """Remove the earliest exchange (first non-system message up to the next user message) or None."""
    head = 0
    while head < len(messages) and messages[head]["role"] == "system":
        head += 1
    nxt = next((j for j in range(head + 1, len(messages)) if messages[j]["role"] == "user"), None)
    if nxt is None:
        return None
    return messages[:head] + messages[nxt:]


def prepare_example_info(
    tokenizer, row: dict, family="auto", max_length: int | None = None, config: MaskConfig | None = None
) -> Prepared:
    """Like :func:`prepare_example` but returns a :class:`Prepared` with the text, spans and truncation count."""
    config = config or MaskConfig()
    fam = resolve_family(family, tokenizer)
    normalized = validate_row(row) if config.validate else None
    if not shortcuts_enabled("reuse_normalized"):
        normalized = None  # the reference path normalises the row again
    messages, tools, split = conversation_turns(row, fam, config, normalized)
    prepared = _prepare_once(tokenizer, fam, messages, tools, config)
    dropped = 0
    while max_length is not None and len(prepared.input_ids) > max_length:
        if config.truncation == "drop_row":
            raise RowTooLong(f"{len(prepared.input_ids)} tokens > max_length {max_length} (truncation=drop_row)")
        if config.truncation != "drop_turns":
            raise ValueError(f"unknown truncation policy {config.truncation!r} (drop_turns | drop_row)")
        shorter = _drop_first_exchange(messages)
        if shorter is None:
            raise RowTooLong(
                f"{len(prepared.input_ids)} tokens > max_length {max_length} even with only the last exchange "
                "(system prompt and tool schemas are never cut)"
            )
        dropped += len(messages) - len(shorter)
        messages = shorter
        prepared = _prepare_once(tokenizer, fam, messages, tools, config)
    prepared.dropped_messages = dropped
    prepared.split_calls = split
    if any(MORE_REPLIES_KEY in m for m in messages):
        prepared.quirks = tuple(sorted({*prepared.quirks, "one_generation"}))
    if not any(prepared.assistant_masks):
        raise MaskError(
            "no assistant token is trained in this row (no assistant turn, or all have train=false)",
            reason="nothing_to_train",
        )
    return prepared


def prepare_example(
    tokenizer, row: dict, family="auto", max_length: int | None = None, config: MaskConfig | None = None
) -> dict:
    """``{"input_ids", "assistant_masks"}`` for one canonical conversation row (see the module docstring)."""
    return prepare_example_info(tokenizer, row, family, max_length, config).as_dict()


def _as_messages(messages):
    return [dict(m) for m in messages]


def render_rendered(tokenizer, family: Family, messages, tools, add_generation_prompt: bool,
                    conversation=None) -> Rendered:
    """``family.render`` with control-token text in content kept as text (a :class:`Rendered`)."""
    conversation = messages if conversation is None else conversation
    p_conv, p_tools, protection = protect(tokenizer, conversation, tools, family.parses_tool_json)
    p_msgs = p_conv[: len(messages)]
    cut_family, cut = _with_cuts(family, conversation, tools)
    text = cut_family.render(tokenizer, p_msgs, p_tools, add_generation_prompt=add_generation_prompt,
                             conversation=p_conv)
    return _finish_render(tokenizer, text, [], protection, cut)[0]


def encode_rendered(tokenizer, text) -> list[int]:
    """Token ids of ``render_prompt``/``render_completion`` output: control tokens only where the template wrote
    them (content that merely contains ``<|eot_id|>`` stays text). Use it instead of ``tokenizer(text)``."""
    from tooljudge.core.control_text import encode_rendered as _enc

    return _enc(tokenizer, text)


def render_prompt(tokenizer, messages: list[dict], tools: list[dict] | None = None, family="auto") -> Rendered:
    """The generation prompt for the next assistant turn: what eval feeds the model (same code as training).

    A :class:`Rendered` string: tokenise it with :func:`encode_rendered` so that control-token text inside the
    content stays text."""
    fam = resolve_family(family, tokenizer)
    msgs, tools = canonical_row({"messages": _as_messages(messages), "tools": tools or []})
    msgs, _ = split_parallel_calls(merge_assistant_texts(msgs, fam, bool(tools)), fam)
    return render_rendered(tokenizer, fam, msgs, tools, True)


def render_completion(
    tokenizer, messages: list[dict], assistant_message: dict, tools: list[dict] | None = None, family="auto",
    config: MaskConfig | None = None, found: set | None = None,
) -> Rendered:
    """The exact text the model must generate for ``assistant_message`` after ``messages``, stop token
    included (the trained span of that turn): ``render_prompt(...) + render_completion(...)`` is the training
    text up to the end of the turn (tokenise the pair with ``control_text.encode_concat``). ``config``'s
    ``special_text``, ``parallel_calls`` and ``reference_quirks`` act as in :func:`prepare_example` (DPO pairs);
    quirks followed are added to ``found``."""
    config = config or MaskConfig()
    fam = resolve_family(family, tokenizer)
    msgs, tools = canonical_row(
        {"messages": _as_messages(messages) + [dict(assistant_message, role="assistant")], "tools": tools or []}
    )
    head, _ = split_parallel_calls(merge_assistant_texts(msgs[:-1], fam, bool(tools)), fam, config.parallel_calls)
    if len(msgs[-1].get("tool_calls") or []) > 1 and not family_writes_parallel_calls(fam):
        raise ParallelCallsUnsupported(f"the {fam.name} format cannot write several calls in one completion")
    msgs = head + msgs[-1:]
    text, spans = turn_spans(tokenizer, fam, msgs, tools, config.special_text, config.reference_quirks, found)
    start, end, _ = spans[-1]
    structural = text.structural
    if structural is not None:
        structural = [(a - start, b - start) for a, b in structural if start <= a and b <= end]
    cuts = [c - start for c in text.cuts if start <= c < end]
    return Rendered.make(text[start:end], structural, text.control_text, cuts)

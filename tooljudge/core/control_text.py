"""Control-token text inside content stays text: only the template's own structure yields control tokens.

Why: a fast tokenizer matches its added tokens (``<|eot_id|>``, ``[INST]``, ``</s>``, ``<|im_end|>``) anywhere in a
string, so a user message or tool result that merely *contains* such text would be tokenised as the real control
token, and a model trained on it learns to end a turn mid-sentence. The vendors' own encoders (mistral-common,
llama-models' ``ChatFormat``) encode message content as plain text. We do the same:

1. :func:`protect` replaces every control-token string inside the canonical row (content, arguments, tool
   schemas, names) by a unique ASCII placeholder, so the template renders only its own control tokens;
2. after rendering, :func:`restore` puts the original strings back and remembers where the template's own control
   tokens are (:class:`Rendered`, a ``str`` that carries those positions);
3. :func:`encode_rendered` tokenises the text split at those positions only: structural control tokens map to
   their ids, everything between them is encoded with no added-token matching (exactly how the tokenizer itself
   splits at added tokens). Before trusting the split encoding it checks that, on the placeholder text, it equals
   the tokenizer's own whole-text encoding; otherwise the row is refused.

Rows without control-token text take the ordinary whole-text path and are unchanged.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from functools import lru_cache

SPECIAL_TEXT_POLICIES = ("text", "reject")
_MARKUP = re.compile(r"^(<[^<>\s]+>|\[[A-Z_/]+\]|<\|[^\s]*\|>)$")


class ControlTextRejected(ValueError):
    """``special_text="reject"``: the row holds control-token text inside its content (reason
    ``control_token_text``)."""


class ControlTextUnsupported(ValueError):
    """The tokenizer cannot encode this row's control-token text as text exactly (split encoding differs)."""


class Rendered(str):
    """Rendered text plus the character spans of the template's own control tokens.

    ``structural is None`` means the text holds no control-token text from content: every control token in it is
    structural, and the tokenizer's ordinary encoding is right."""

    structural: tuple[tuple[int, int], ...] | None = None
    control_text: int = 0  # control-token strings found in content
    cuts: tuple[int, ...] = ()  # positions where the reference encoder starts a new piece (Meta's ChatFormat)

    @classmethod
    def make(cls, text: str, structural=None, control_text: int = 0, cuts=()) -> Rendered:
        out = cls(text)
        out.structural = None if structural is None else tuple(structural)
        out.control_text = control_text
        out.cuts = tuple(cuts)
        return out


def control_strings(tokenizer) -> tuple[str, ...]:
    """The tokenizer's control-token strings: special added tokens and markup-like added tokens, longest first."""
    if tokenizer is None:
        return ()
    key = id(getattr(tokenizer, "backend_tokenizer", tokenizer))
    return _control_strings_cached(key, tokenizer)


_CACHE: dict[int, tuple] = {}


def _control_strings_cached(key: int, tokenizer) -> tuple[str, ...]:
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is tokenizer:
        return hit[1]
    found: set[str] = set()
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    for tok in decoder.values():
        content = getattr(tok, "content", str(tok))
        if content and (getattr(tok, "special", False) or _MARKUP.match(content)):
            found.add(content)
    for content in getattr(tokenizer, "all_special_tokens", []) or []:
        if content:
            found.add(content)
    out = tuple(sorted(found, key=lambda s: (-len(s), s)))
    _CACHE[key] = (tokenizer, out)
    return out


@lru_cache(maxsize=64)
def _pattern(strings: tuple[str, ...]):
    return re.compile("|".join(re.escape(s) for s in strings)) if strings else None


@lru_cache(maxsize=64)
def _has_json_escapes(strings: tuple[str, ...]) -> bool:
    """Whether a control string holds a character JSON escapes (per tokenizer, not per row)."""
    return any(c in s for s in strings for c in '"\\')


# ----------------------------------------------------------------------------- protect / restore
@dataclass
class Protection:
    """Placeholder -> control string for one row (empty when the row holds no control-token text)."""

    placeholders: dict[str, str]
    count: int = 0


def _walk(obj, fn):
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, list):
        return [_walk(x, fn) for x in obj]
    if isinstance(obj, dict):
        return {_walk(k, fn) if isinstance(k, str) else k: _walk(v, fn) for k, v in obj.items()}
    return obj


def _decoded_tool_results(messages: list[dict], pat) -> list[dict]:
    """Tool results that are JSON whose decoded strings hold control text (``"\u003c/s\u003e"``) rewritten as
    ``json.dumps(decoded, ensure_ascii=False)``, which is what a family that parses results (mistral_common) writes
    anyway, so the control text is visible to the placeholders."""
    out = []
    for m in messages:
        content = m.get("content")
        if m.get("role") == "tool" and isinstance(content, str) and "\\u" in content:
            try:
                decoded = json.loads(content)
            except (json.JSONDecodeError, ValueError):
                decoded = None
            if decoded is not None:
                text = json.dumps(decoded, ensure_ascii=False)
                if len(pat.findall(text)) > len(pat.findall(content)):
                    m = dict(m, content=text)
        out.append(m)
    return out


def protect(tokenizer, messages: list[dict], tools: list[dict] | None, parses_tool_json: bool = False):
    """``(messages, tools, Protection)`` with control-token strings in every string replaced by placeholders.

    ``parses_tool_json``: the family decodes JSON tool results before writing them (mistral_v3), so control text
    hidden behind JSON escapes is looked for too."""
    strings = control_strings(tokenizer)
    pat = _pattern(strings)
    if pat is None:
        return messages, tools, Protection({})
    if parses_tool_json:
        messages = _decoded_tool_results(messages, pat)
    blob = json.dumps([messages, tools], ensure_ascii=False, default=str)
    escaped = _has_json_escapes(strings)  # JSON escapes these: search the strings themselves
    if not escaped and not pat.search(blob):
        return messages, tools, Protection({})
    n = 0
    while f"TJCT{n}Q" in blob:
        n += 1
    base = f"TJCT{n}Q"
    placeholders: dict[str, str] = {}
    reverse: dict[str, str] = {}
    count = 0

    def sub(text: str) -> str:
        nonlocal count

        def one(m):
            nonlocal count
            count += 1
            s = m.group(0)
            if s not in reverse:
                ph = f"{base}{len(reverse)}Z"
                reverse[s] = ph
                placeholders[ph] = s
            return reverse[s]

        return pat.sub(one, text)

    new_messages = _walk(messages, sub)
    new_tools = _walk(tools, sub) if tools is not None else None
    if not count:
        return messages, tools, Protection({})
    return new_messages, new_tools, Protection(placeholders, count)


def restore(text: str, protection: Protection, tokenizer) -> tuple[Rendered, list[tuple[int, int]]]:
    """Put the control strings back; ``(Rendered, shifts)`` where ``shifts`` maps placeholder-text positions.

    The structural control tokens are those found in the placeholder text (content holds none there)."""
    pat = _pattern(control_strings(tokenizer))
    if not protection.placeholders:
        return Rendered.make(text), []
    ph_pat = re.compile("|".join(re.escape(p) for p in protection.placeholders))
    pieces = []
    shifts: list[tuple[int, int]] = []  # (placeholder-text position after a replacement, cumulative delta)
    pos = 0
    delta = 0
    for m in ph_pat.finditer(text):
        pieces.append(text[pos:m.start()])
        real = protection.placeholders[m.group(0)]
        pieces.append(real)
        delta += len(real) - (m.end() - m.start())
        shifts.append((m.end(), delta))
        pos = m.end()
    pieces.append(text[pos:])
    real_text = "".join(pieces)

    structural = [(map_position(shifts, m.start()), map_position(shifts, m.start()) + len(m.group(0)))
                  for m in pat.finditer(text)] if pat else []
    found = len(ph_pat.findall(text))
    return Rendered.make(real_text, structural, found), shifts


def map_position(shifts: list[tuple[int, int]], p: int) -> int:
    """A position in the placeholder text -> the same position in the restored text (outside placeholders)."""
    if not shifts:
        return p
    k = bisect.bisect_right([s for s, _ in shifts], p) - 1
    return p + (shifts[k][1] if k >= 0 else 0)


# ----------------------------------------------------------------------------- encoding
def _backend(tokenizer):
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    return backend if backend is not None and hasattr(backend, "encode") else None


def _never_prepend(node):
    if isinstance(node, dict):
        return {k: ("never" if k == "prepend_scheme" and v == "first" else _never_prepend(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_never_prepend(x) for x in node]
    return node


@lru_cache(maxsize=16)
def _text_backends_from_json(spec: str, controls: tuple[str, ...]):
    """Two copies of the backend that match none of ``controls``: one for text at position 0, one for text after a
    control token (a Metaspace ``prepend_scheme="first"`` prepends only at the very start of the string)."""
    from tokenizers import Tokenizer

    data = json.loads(spec)
    data["added_tokens"] = [t for t in data.get("added_tokens", []) if t["content"] not in controls]
    first = Tokenizer.from_str(json.dumps(data))
    data["pre_tokenizer"] = _never_prepend(data.get("pre_tokenizer"))
    data["normalizer"] = _never_prepend(data.get("normalizer"))
    rest = Tokenizer.from_str(json.dumps(data))
    return first, rest


def _needs_copy(tokenizer, backend, controls: tuple[str, ...]) -> bool:
    """A rebuilt copy is needed when a control string is a non-special added token (``encode_special_tokens``
    does not cover it) or the pre-tokenizer prepends only at the start (Metaspace ``prepend_scheme="first"``)."""
    specials = {getattr(t, "content", str(t)) for t in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values()
                if getattr(t, "special", False)}
    if any(c not in specials for c in controls):
        return True
    pre = backend.pre_tokenizer
    state = pre.__getstate__() if pre is not None else b""
    state = state.decode() if isinstance(state, bytes) else str(state)
    return '"prepend_scheme":"first"' in state.replace(" ", "")


def _text_backends(tokenizer):
    """``(backend for text at position 0, backend for text after a control token, encode_special_tokens flag)``.

    Usually the tokenizer's own backend with ``encode_special_tokens=True`` (no copy); otherwise rebuilt copies
    without the control tokens."""
    backend = _backend(tokenizer)
    cached = getattr(tokenizer, "_tj_text_backends", None)
    if cached is not None and cached[0] == id(backend):
        return cached[1]
    controls = control_strings(tokenizer)
    if _needs_copy(tokenizer, backend, controls):
        first, rest = _copied_text_backends(tokenizer)
        out = (first, rest, False)
    else:
        out = (backend, backend, True)
    try:
        tokenizer._tj_text_backends = (id(backend), out)
    except AttributeError:
        pass
    return out


def _copied_text_backends(tokenizer):
    return _text_backends_from_json(_backend(tokenizer).to_str(), control_strings(tokenizer))


def split_encode(tokenizer, text: str, structural, cuts=()) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and character offsets of ``text`` with control tokens only at ``structural`` spans, and the text
    encoded in separate pieces at ``cuts`` (where the reference encoder encodes pieces on their own)."""
    first, rest, as_text = _text_backends(tokenizer)
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    pos = 0

    def text_piece(a: int, b: int):
        if b <= a:
            return
        backend = first if a == 0 else rest
        if as_text:
            backend.encode_special_tokens = True
        try:
            enc = backend.encode(text[a:b], add_special_tokens=False)
        finally:
            if as_text:
                backend.encode_special_tokens = False
        ids.extend(enc.ids)
        offsets.extend((a + s, a + e) for s, e in enc.offsets)

    points = sorted([(a, b, True) for a, b in structural] + [(c, c, False) for c in cuts])
    for a, b, is_token in points:
        if a < pos:
            continue
        text_piece(pos, a)
        pos = a
        if not is_token:
            continue
        tid = tokenizer.convert_tokens_to_ids(text[a:b])
        if tid is None or (tokenizer.unk_token_id is not None and tid == tokenizer.unk_token_id
                           and text[a:b] != tokenizer.unk_token):
            raise ControlTextUnsupported(f"control token {text[a:b]!r} has no id")
        ids.append(tid)
        offsets.append((a, b))
        pos = b
    text_piece(pos, len(text))
    return ids, offsets


def structural_spans(tokenizer, text: str) -> list[tuple[int, int]]:
    """Every control token in ``text`` (all structural: for text whose content holds no control-token text)."""
    pat = _pattern(control_strings(tokenizer))
    return [(m.start(), m.end()) for m in pat.finditer(text)] if pat else []


def remove_cuts(text: str, cut: str) -> tuple[str, list[int], list[int]]:
    """``(text without cut marks, cut positions in it, the marks' positions in the original text)``."""
    if cut not in text:
        return text, [], []
    pieces = text.split(cut)
    cuts, marks, pos, raw = [], [], 0, 0
    for piece in pieces[:-1]:
        pos += len(piece)
        raw += len(piece)
        cuts.append(pos)
        marks.append(raw)
        raw += len(cut)
    return "".join(pieces), cuts, marks


def unmark_position(marks: list[int], p: int) -> int:
    """A position in the marked text -> the position once the marks (one character each) are removed."""
    return p - bisect.bisect_left(marks, p)


def match_specials(backend) -> None:
    """transformers leaves ``encode_special_tokens`` on after a ``split_special_tokens=True`` call; the template's
    own control tokens must be matched."""
    if getattr(backend, "encode_special_tokens", False):
        backend.encode_special_tokens = False


def whole_encode(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]] | tuple[None, None]:
    backend = _backend(tokenizer)
    if backend is None:
        return None, None
    match_specials(backend)
    enc = backend.encode(text, add_special_tokens=False)
    return list(enc.ids), list(enc.offsets)


def check_split_faithful(tokenizer, placeholder_text: str) -> None:
    """The split encoding must equal the tokenizer's own encoding on the placeholder text (same structure, no
    control text); otherwise it cannot be trusted for the real text."""
    pat = _pattern(control_strings(tokenizer))
    structural = [(m.start(), m.end()) for m in pat.finditer(placeholder_text)] if pat else []
    want, _ = whole_encode(tokenizer, placeholder_text)
    got, _ = split_encode(tokenizer, placeholder_text, structural)
    if want != got:
        raise ControlTextUnsupported(
            "this tokenizer's encoding cannot be split at its control tokens exactly, so control-token text in the "
            "content cannot be kept as text (use special_text='reject' to drop such rows)"
        )


def encode_rendered(tokenizer, text: str) -> list[int]:
    """Token ids of rendered text: control tokens only where the template wrote them (a :class:`Rendered` from
    ``render_prompt``/``render_completion``); plain strings are encoded by the tokenizer as usual."""
    structural = getattr(text, "structural", None)
    if structural is None or _backend(tokenizer) is None:
        return list(tokenizer(str(text), add_special_tokens=False)["input_ids"])
    ids, _ = split_encode(tokenizer, str(text), structural, getattr(text, "cuts", ()))
    return ids


def concat_rendered(tokenizer, *texts: str) -> str:
    """Rendered texts joined into one :class:`Rendered`, the control-token spans and piece cuts of each part kept
    (a part without recorded spans is scanned); plain strings in, a plain string out."""
    joined = "".join(str(t) for t in texts)
    if all(getattr(t, "structural", None) is None and not getattr(t, "cuts", ()) for t in texts):
        return joined
    structural: list[tuple[int, int]] = []
    cuts: list[int] = []
    pos = 0
    for t in texts:
        spans = getattr(t, "structural", None)
        if spans is None:
            spans = structural_spans(tokenizer, str(t))
        structural += [(pos + a, pos + b) for a, b in spans]
        cuts += [pos + c for c in getattr(t, "cuts", ())]
        pos += len(t)
    return Rendered.make(joined, structural, sum(getattr(t, "control_text", 0) for t in texts), cuts)


def encode_concat(tokenizer, *texts: str) -> list[int]:
    """Token ids of the concatenation of rendered texts (prompt + completion), structure kept from each part."""
    if not any(getattr(t, "structural", None) is not None for t in texts):
        return list(tokenizer("".join(str(t) for t in texts), add_special_tokens=False)["input_ids"])
    joined = concat_rendered(tokenizer, *texts)
    ids, _ = split_encode(tokenizer, str(joined), joined.structural, joined.cuts)
    return ids

"""Mask inspector: one prepared row with every token marked trained or not, as text, JSON or HTML.

Why: a wrong mask silently ruins training, and a person must be able to see it. Like axolotl's
``preprocess --debug`` but readable: decoded text in runs (not one token per line), special tokens and newlines
made visible, ids only on request, and a per-turn check that each trained run is exactly the text
``render_completion`` says that assistant turn must produce (stop token included).

Usage: ``python data_prep/inspect_mask.py --model PATH --dataset FILE --index N [--format text|json|html]``
(also ``python data_prep/prepare.py ... --inspect N``).
"""

from __future__ import annotations

import html
import json
import sys
from dataclasses import dataclass, field

from tooljudge.data_prep.mask_dataset import PrepareConfig
from tooljudge.data_prep.masking import (
    MaskConfig,
    canonical_row,
    merge_assistant_texts,
    prepare_example_info,
    render_completion,
    render_prompt,
    resolve_family,
    split_parallel_calls,
)

from tooljudge.config import cli_parser, like, setting

GREEN, DIM, RESET, BOLD, RED = "\033[42;30m", "\033[2m", "\033[0m", "\033[1m", "\033[31m"


@dataclass
class Run:
    trained: bool
    start: int  # token index
    end: int
    text: str
    ids: list[int]


@dataclass
class Inspection:
    """Runs of equally-masked tokens plus per-turn checks and totals."""

    runs: list[Run]
    tokens: list[dict]
    turns: list[dict] = field(default_factory=list)
    total: int = 0
    trained: int = 0
    dropped_messages: int = 0

    def to_dict(self) -> dict:
        return {
            "total_tokens": self.total, "trained_tokens": self.trained, "dropped_messages": self.dropped_messages,
            "turns": self.turns,
            "runs": [{"trained": r.trained, "start": r.start, "end": r.end, "text": r.text} for r in self.runs],
            "tokens": self.tokens,
        }


def inspect_row(tokenizer, row: dict, family="auto", max_length: int | None = None,
                config: MaskConfig | None = None) -> Inspection:
    """Prepare ``row`` and describe its mask."""
    info = prepare_example_info(tokenizer, row, family=family, max_length=max_length, config=config)
    ids, mask = info.input_ids, info.assistant_masks
    runs: list[Run] = []
    start = 0
    for t in range(1, len(ids) + 1):
        if t == len(ids) or mask[t] != mask[start]:
            chunk = ids[start:t]
            runs.append(Run(bool(mask[start]), start, t, tokenizer.decode(chunk, skip_special_tokens=False), chunk))
            start = t
    tokens = [{"id": i, "text": tokenizer.decode([i], skip_special_tokens=False), "trained": bool(m)}
              for i, m in zip(ids, mask, strict=True)]
    messages, tools = canonical_row(row)
    fam = resolve_family(family, tokenizer)  # the turns as prepare_example trains them (merged, split)
    messages, _ = split_parallel_calls(merge_assistant_texts(messages, fam, bool(tools)), fam,
                                       (config or MaskConfig()).parallel_calls)
    family = fam
    turns = []
    trained_runs = [r for r in runs if r.trained]
    # The row may have lost its earliest exchanges to truncation: check the turns that are still there.
    head = 0
    while head < len(messages) and messages[head]["role"] == "system":
        head += 1
    kept = messages[:head] + messages[head + info.dropped_messages:]
    idx = [i for i, m in enumerate(kept) if m["role"] == "assistant" and m.get("train", True) is not False]
    for n, i in enumerate(idx):
        expected = render_completion(tokenizer, kept[:i], kept[i], tools, family=family)
        got = trained_runs[n].text if n < len(trained_runs) else ""
        # SentencePiece decoders drop the leading space of a decoded run (Mistral's " answer")
        ok = got == expected or (expected.startswith(" ") and got == expected[1:])
        if not ok and "boundary_token" in info.quirks and got.endswith(str(expected)) and got != str(expected):
            # the reply's first token also holds the prompt's last characters (trained, reference_quirks)
            extra = got[: len(got) - len(str(expected))]
            ok = str(render_prompt(tokenizer, kept[:i], tools, family=family)).endswith(extra)
        turns.append({"message": i, "expected": str(expected), "trained": got, "ok": ok})
    return Inspection(runs, tokens, turns, len(ids), int(sum(mask)), info.dropped_messages)


def _visible(text: str) -> str:
    return text.replace("\n", "↵\n").replace("\t", "→")


def format_text(ins: Inspection, show_ids: bool = False, color: bool = True) -> str:
    """Coloured terminal view: trained runs on green, untrained dimmed; then the per-turn checks."""
    parts = []
    for r in ins.runs:
        body = _visible(r.text)
        if show_ids:
            body = " ".join(f"{_visible(t['text'])}[{t['id']}]" for t in ins.tokens[r.start:r.end])
        if color:
            parts.append((GREEN if r.trained else DIM) + body + RESET)
        else:
            parts.append(("⟦" + body + "⟧") if r.trained else body)
    legend = (f"{GREEN}trained{RESET} {DIM}not trained{RESET}" if color else "⟦trained⟧ not trained")
    lines = ["".join(parts), "", legend,
             f"tokens {ins.total}, trained {ins.trained} ({ins.trained / max(ins.total, 1):.1%})"
             + (f", {ins.dropped_messages} earliest messages dropped by truncation" if ins.dropped_messages else "")]
    for t in ins.turns:
        mark = "ok" if t["ok"] else ((RED if color else "") + "MISMATCH" + (RESET if color else ""))
        lines.append(f"assistant message {t['message']}: {mark}  trained {t['trained']!r}")
        if not t["ok"]:
            lines.append(f"    expected {t['expected']!r}")
    return "\n".join(lines)


def format_html(ins: Inspection, title: str = "tooljudge mask") -> str:
    """A standalone HTML page: trained tokens highlighted, every token's id in its tooltip."""
    spans = []
    for t in ins.tokens:
        cls = "t" if t["trained"] else "u"
        spans.append(f'<span class="{cls}" title="id {t["id"]}">{html.escape(t["text"])}</span>')
    rows = "".join(
        f"<tr><td>{t['message']}</td><td>{'ok' if t['ok'] else 'MISMATCH'}</td>"
        f"<td><code>{html.escape(t['trained'])}</code></td></tr>" for t in ins.turns
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "pre{white-space:pre-wrap;font:13px monospace}.t{background:#b6f2b6}.u{color:#888}"
        "span:hover{outline:1px solid #333}table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 6px}"
        f"</style></head><body><h3>{html.escape(title)}</h3><p>tokens {ins.total}, trained {ins.trained}; "
        "<span class='t'>trained</span> <span class='u'>not trained</span> (hover a token for its id)</p>"
        f"<pre>{''.join(spans)}</pre><table><tr><th>message</th><th>check</th><th>trained text</th></tr>{rows}"
        "</table></body></html>"
    )


def render_inspection(ins: Inspection, fmt: str = "text", show_ids: bool = False, color: bool | None = None) -> str:
    if fmt == "json":
        return json.dumps(ins.to_dict(), ensure_ascii=False, indent=1)
    if fmt == "html":
        return format_html(ins)
    if fmt != "text":
        raise ValueError(f"--format must be text, json or html, not {fmt!r}")
    return format_text(ins, show_ids, sys.stdout.isatty() if color is None else color)


@dataclass(kw_only=True)
class InspectView:
    """How an inspected row is shown (this CLI and ``prepare.py --inspect``)."""

    format: str = setting("text", "output format of the inspected row", choices=("text", "json", "html"))
    ids: bool = setting(False, "show every token's id")
    color: str = setting("auto", "colour the text view: auto (on a terminal), always or never",
                         choices=("auto", "always", "never"))


@dataclass(kw_only=True)
class InspectArgs:
    """The options of this CLI besides ``InspectView``; family and max_length are ``PrepareConfig``'s fields."""

    model: str = setting(help="tokenizer path or id (with its chat template)")
    dataset: str = setting(help="conversations file or datasets source")
    index: int = setting(0, "the row to show")
    family: str = like(PrepareConfig, "family")
    max_length: int | None = like(PrepareConfig, "max_length")
    output: str | None = setting(None, "write here instead of stdout (e.g. mask.html)")


def build_parser():
    return cli_parser(InspectArgs, InspectView, description=__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> None:
    from tooljudge.data_prep.mask_dataset import load_rows
    from transformers import AutoTokenizer

    a = build_parser().parse_args(argv)
    tok = AutoTokenizer.from_pretrained(a.model)
    rows, _ = load_rows(a.dataset)
    ins = inspect_row(tok, rows[a.index], family=a.family, max_length=a.max_length)
    color = {"auto": None, "always": True, "never": False}[a.color]
    text = render_inspection(ins, a.format, a.ids, color)
    if a.output:
        with open(a.output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {a.output}")
    else:
        print(text)


if __name__ == "__main__":
    main()

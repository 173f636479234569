"""GLM-4-9b-chat parity against the seed: its worked example and its copy of the model's chat template.

GLM-4 has no reference package on PyPI; the seed (``/work/shared/seeds/004_*.txt``) quotes the model's chat
template and one rendered conversation. The seed is a scraped web page: it drops empty lines, writes full-width
'，：' as ASCII ',:' and indents with no-break spaces. ``seed_normal`` applies exactly those three changes to both
sides before comparing; nothing else is forgiven.

Calls: the worked example writes the call as JSON content (``glm4_call_style="content_json"``); GLM-4's own API
server sends calls through the message metadata, ``<|assistant|>name\\n{json args}`` (``"metadata"``, our default).
Both go through the same seed template below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tooljudge.data_prep.families import get_family
from tooljudge.data_prep.mask_corpus import CorpusOptions, make_corpus
from tooljudge.data_prep.masking import prepare_example, render_completion, render_prompt
from tooljudge.data_prep.reference_tokenizers import reference_tokenizer

SEED = Path("/work/shared/seeds/004_29d30317ff19c1a0.txt")
pytestmark = pytest.mark.skipif(not SEED.exists(), reason="the seed article is not on this machine")


def seed_normal(text: str) -> str:
    text = text.replace("\xa0", " ").replace("，", ",").replace("：", ":")
    return re.sub(r"\n\s*\n", "\n", text)


def _numbered_block(lines: list[str], start: int) -> list[str]:
    """The numbered code lines ('  12. text') that follow line ``start``, up to the next '复制代码'."""
    out = []
    for line in lines[start + 1:]:
        if line.startswith("复制代码"):
            break
        m = re.match(r"^\s*\d+\. ?(.*)$", line)
        if m is None:
            break
        out.append(m.group(1))
    return out


@pytest.fixture(scope="module")
def seed_parts():
    lines = SEED.read_text(encoding="utf-8").splitlines()
    t = next(i for i, line in enumerate(lines) if "GLM 使用的 chat template 如下" in line)
    # The scrape dropped the template's empty lines. After a line ending in a block tag, Jinja's trim_blocks eats
    # the one newline left, so the empty line is restored there (elsewhere seed_normal forgives the difference).
    block = _numbered_block(lines, t)
    template = "".join(line + ("\n\n" if line.endswith("%}") else "\n") for line in block)[:-1]
    template = template.replace("\xa0", " ")
    e = next(i for i, line in enumerate(lines) if i > t and line.strip().endswith("# inputs ="))
    block = []
    for line in lines[e + 1:]:
        m = re.match(r"^\s*\d+\. ?(.*)$", line)
        block.append(m.group(1) if m else line)
        if len(block) > 1 and block[-1].strip() == '"""':
            break
    expected = "\n".join(block[1:-1])
    return template, expected


SEED_TOOL = {"type": "function", "function": {
    "name": "get_recommended_books", "description": "Get recommended books based on user's interests",
    "parameters": {"type": "object", "properties": {"interests": {
        "type": "array", "items": {"type": "string"}, "description": "The interests to recommend books for"}},
        "required": ["interests"]}}}
SEED_ROW = {"messages": [  # the seed's example, transcribed as a canonical conversation
    {"role": "user", "content": "Hi, I am looking for some book recommendations. I am interested in history and "
                                "science fiction."},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "get_recommended_books", "arguments": {"interests": ["history", "science fiction"]}}}]},
    {"role": "tool", "tool_call_id": "c1", "name": "get_recommended_books",
     "content": '{"books": ["Sapiens: A Brief History of Humankind by Yuval Noah Harari", "A Brief History of Time '
                'by Stephen Hawking", "Dune by Frank Herbert", "The Martian by Andy Weir"]}'},
    {"role": "assistant", "content": 'Based on your interests in history and science fiction, I would recommend the '
     'following books: "Sapiens: A Brief History of Humankind" by Yuval Noah Harari, "A Brief History of Time" by '
     'Stephen Hawking, "Dune" by Frank Herbert, and "The Martian" by Andy Weir.'}],
    "tools": [SEED_TOOL]}


@pytest.fixture(scope="module")
def tok():
    return reference_tokenizer("glm4")


def test_worked_example(seed_parts, tok):
    _, expected = seed_parts
    fam = get_family("glm4", glm4_call_style="content_json")
    ours = fam.render(tok, SEED_ROW["messages"], SEED_ROW["tools"])
    assert expected.startswith("[gMASK]<sop><|system|>") and expected.endswith("Andy Weir.")
    assert seed_normal(ours) == seed_normal(expected)


def glm_messages(row: dict, style: str) -> list[dict]:
    """Canonical conversation -> the message list GLM-4's own template takes (tools on the system item)."""
    msgs = row["messages"]
    out = []
    if msgs[0]["role"] == "system":
        out.append({"role": "system", "content": msgs[0]["content"], "tools": row["tools"]})
        msgs = msgs[1:]
    else:
        out.append({"role": "system", "content": "", "tools": row["tools"]})
    for m in msgs:
        if m["role"] == "assistant":
            if m["content"] or not m.get("tool_calls"):
                out.append({"role": "assistant", "content": m["content"]})
            for c in m.get("tool_calls") or []:
                args = c["function"]["arguments"]
                args = json.loads(args) if isinstance(args, str) else args
                if style == "metadata":
                    out.append({"role": "assistant", "metadata": c["function"]["name"],
                                "content": json.dumps(args, ensure_ascii=False)})
                else:
                    out.append({"role": "assistant", "content": json.dumps(
                        {"name": c["function"]["name"], "arguments": args}, ensure_ascii=False)})
        elif m["role"] == "tool":
            out.append({"role": "observation", "content": m["content"]})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


CORPUS = make_corpus(26, CorpusOptions(parallel=True, text_with_calls=True, chinese=True), seed=11)


@pytest.mark.parametrize("style", ["metadata", "content_json"])
@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_matches_seed_template(index, style, seed_parts, tok):
    template, _ = seed_parts
    row = CORPUS[index]
    expected = tok.apply_chat_template(glm_messages(row, style), chat_template=template, tokenize=False,
                                       add_generation_prompt=True)
    ours = render_prompt(tok, row["messages"], row["tools"], family=get_family("glm4", glm4_call_style=style))
    assert seed_normal(ours) == seed_normal(expected)


def test_metadata_call_hand_checked(tok):
    """Hand-written expected text of the default (metadata) form and its mask."""
    fam = get_family("glm4")
    msgs = SEED_ROW["messages"]
    assert render_prompt(tok, msgs[:1], SEED_ROW["tools"], family=fam).endswith(
        "<|user|>\nHi, I am looking for some book recommendations. I am interested in history and science fiction."
        "<|assistant|>"
    )
    completion = render_completion(tok, msgs[:1], msgs[1], SEED_ROW["tools"], family=fam)
    assert completion == 'get_recommended_books\n{"interests": ["history", "science fiction"]}<|observation|>'
    final = render_completion(tok, msgs[:3], msgs[3], SEED_ROW["tools"], family=fam)
    assert final == "\n" + msgs[3]["content"] + "<|user|>"
    ex = prepare_example(tok, SEED_ROW, family=fam)
    trained = tok.decode([t for t, f in zip(ex["input_ids"], ex["assistant_masks"], strict=True) if f])
    assert trained == completion + final

"""GLM-4-9b-chat parity against the model's own chat template, byte for byte (no normalisation).

Reference: ``tests/data/glm4_9b_chat_template.jinja``, the ``chat_template`` of THUDM/glm-4-9b-chat's
``tokenizer_config.json``; bfcl-eval ships the same text in its GLM handler, and when bfcl-eval is installed the test
checks that our copy equals it. GLM-4 has no reference encoder on PyPI; our GLM-4 tokenizer is SmolLM2's BPE plus
GLM-4's special tokens, so the token comparison checks that control tokens are atomic and content stays text.

Calls: GLM-4's API server sends calls through the message metadata, ``<|assistant|>name\\n{json args}``
(``"metadata"``, our default); ``glm4_call_style="content_json"`` writes them as ``{"name", "arguments"}`` content.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from mask_corpus import CorpusOptions, make_corpus
from reference_encoders import glm4_reference_template, glm_messages
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.families import get_family
from tooljudge.data_prep.masking import prepare_example, render_completion, render_prompt


def bfcl_glm_template() -> str | None:
    """The chat template quoted in bfcl-eval's GLM handler docstring (an installed package), or None."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model_handler" / "local_inference" / "glm.py"
    if not path.exists():
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = next(ast.get_docstring(n, clean=False) for n in ast.walk(tree)
               if isinstance(n, ast.FunctionDef) and n.name == "_format_prompt")
    start = doc.index('"chat_template": "') + len('"chat_template": "')
    return doc[start:doc.rindex('",')]


def test_reference_copy_is_bfcl_eval_quote():
    quoted = bfcl_glm_template()
    if quoted is None:
        pytest.skip("bfcl-eval is not installed")
    assert glm4_reference_template() == quoted


def test_bundled_template_is_the_model_template():
    """Ours is the model's template with only the identity line made a variable."""
    ours = get_family("glm4").template
    body = ours[ours.index("[gMASK]"):]
    identity = "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，你的任务是针对用户的问题和要求提供适当的答复和支持。"
    assert body.replace("{{ glm4_identity }}", identity) == glm4_reference_template()


SEED_TOOL = {"type": "function", "function": {
    "name": "get_recommended_books", "description": "Get recommended books based on user's interests",
    "parameters": {"type": "object", "properties": {"interests": {
        "type": "array", "items": {"type": "string"}, "description": "The interests to recommend books for"}},
        "required": ["interests"]}}}
SEED_ROW = {"messages": [  # a published GLM-4 function-calling example
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


CORPUS = make_corpus(26, CorpusOptions(parallel=True, text_with_calls=True, chinese=True), seed=11)


@pytest.mark.parametrize("style", ["metadata", "content_json"])
@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_matches_model_template(index, style, tok):
    row = CORPUS[index]
    expected = tok.apply_chat_template(glm_messages(row, style), chat_template=glm4_reference_template(), tokenize=False,
                                       add_generation_prompt=True)
    ours = render_prompt(tok, row["messages"], row["tools"], family=get_family("glm4", glm4_call_style=style))
    assert ours == expected


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

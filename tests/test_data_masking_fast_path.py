"""The fast masking path gives exactly what the reference path gives, for every family.

Fast path (issue 21): bundled templates rendered in a plain Jinja environment with a dict lookup shortcut, ``tojson``
memoised across one conversation's prefix renders, the validator's canonical row reused. Reference path: every
template compiled by transformers' sandboxed environment (as ``apply_chat_template`` does), no memo, the row
normalised again after validation. Compared exactly: ids, mask, text, spans and counts, or the same refusal
(reason and message), on the tricky corpus and on generated conversations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from reference_tokenizers import reference_tokenizer
from test_data_masking_properties import FAMILIES as PROPERTY_FAMILIES
from test_data_masking_properties import conversations
from test_data_masking_speed import outcome, reference_path  # every shortcut off, the one reference
from tooljudge.data_prep.families import get_family
from tooljudge.data_prep.masking import render_prompt

CORPUS = Path(__file__).parent / "data" / "tricky_conversations.jsonl"
ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
# (reference tokenizer, family, options): every family, with the options that change rendering
FAMILIES = [
    ("smollm2", "chatml", {}),
    ("smollm2", "qwen25", {}),
    ("llama31", "llama31", {}),
    ("llama31", "llama31_meta", {}),
    ("mistral_v3", "mistral_v3", {}),
    ("glm4", "glm4", {}),
    ("glm4", "glm4", {"glm4_call_style": "content_json"}),
    ("qwen2", "qwen2_fncall", {"lang": "en", "parallel": True}),
    ("qwen2", "qwen2_fncall", {"lang": "zh", "parallel": False}),
]
IDS = [f"{f}-{'-'.join(map(str, o.values())) or 'default'}" for _, f, o in FAMILIES]


@pytest.mark.parametrize("tok_name,family_name,options", FAMILIES, ids=IDS)
def test_tricky_corpus_fast_equals_reference(tok_name, family_name, options):
    tok = reference_tokenizer(tok_name)
    family = get_family(family_name, **options)
    kept = 0
    for row in ROWS:
        fast = outcome(tok, row, family)
        with reference_path():
            ref = outcome(tok, row, family)
        assert fast == ref, row["id"]
        kept += fast[0] == "kept"
    assert kept > 0  # the comparison covers prepared rows, not only refusals


@pytest.mark.parametrize("tok_name,family_name,options", FAMILIES, ids=IDS)
def test_eval_prompt_fast_equals_reference(tok_name, family_name, options):
    tok = reference_tokenizer(tok_name)
    family = get_family(family_name, **options)
    for row in ROWS[:20]:
        msgs = row["messages"][:-1] if row["messages"][-1]["role"] == "assistant" else row["messages"]
        try:
            fast = render_prompt(tok, msgs, row.get("tools"), family=family)
        except Exception as exc:  # noqa: BLE001
            fast = ("refused", type(exc).__name__, str(exc))
        with reference_path():
            try:
                ref = render_prompt(tok, msgs, row.get("tools"), family=family)
            except Exception as exc:  # noqa: BLE001
                ref = ("refused", type(exc).__name__, str(exc))
        assert fast == ref, row["id"]


@pytest.mark.parametrize("tok_name,fam_name,options,parallel,text_with_calls", PROPERTY_FAMILIES,
                         ids=[f"{f[1]}-{'-'.join(map(str, f[2].values())) or 'default'}" for f in PROPERTY_FAMILIES])
def test_generated_conversations_fast_equals_reference(tok_name, fam_name, options, parallel, text_with_calls):
    tok = reference_tokenizer(tok_name)
    family = get_family(fam_name, **options)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conversations(parallel, text_with_calls))
    def check(row):
        fast = outcome(tok, row, family)
        with reference_path():
            ref = outcome(tok, row, family)
        assert fast == ref

    check()


def test_plain_chat_with_the_tokenizers_own_template():
    """``chatml`` renders with the tokenizer's template (sandboxed in both paths): still identical."""
    tok = reference_tokenizer("smollm2")
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                        {"role": "user", "content": "and?"}, {"role": "assistant", "content": "bye"}]}
    fast = outcome(tok, row, "chatml")
    with reference_path():
        assert outcome(tok, row, "chatml") == fast
    assert fast[0] == "kept"

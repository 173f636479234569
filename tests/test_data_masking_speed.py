"""The masking speed-ups (issue 21) change no mask: the fast path equals a reference path with every shortcut off.

Shortcuts (``families.SHORTCUTS``): bundled templates in a plain Jinja environment (dict lookups without
``hasattr`` on each attribute), ``tojson``, special tokens and llama-models' plain Jinja texts (the tool listing)
reused within one conversation's prefix renders, a family's Python step once per conversation (mistral_v3, the
Qwen-Agent tool prompt, llama31_meta's texts), the validator's canonical row reused, the mask read from the Rust
``Encoding`` at the span bounds. Reference (``masking.reference_path()``): transformers' sandboxed compile for every
template, no per-conversation memo at all (``json_memo`` does nothing), the Python step on every prefix, the row
normalised again after validation, offsets as a Python list. Compared exactly (ids, mask, text, spans, counts, or the same refusal) on generated conversations
for every family, and the reuse itself is checked to happen.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_tokenizers import reference_tokenizer
from test_data_masking_properties import FAMILIES as TOOL_FAMILIES
from test_data_masking_properties import conversations
from tooljudge.data_prep import families as families_module
from tooljudge.data_prep.families import LLAMA_META_JSON_TOOLS_TEMPLATE, _plain_jinja, get_family, json_memo
from tooljudge.data_prep.mask_dataset import reason_of
from tooljudge.data_prep.masking import prepare_example_info, reference_path  # every shortcut off

# every family: the tool families with their options, and chatml (the tokenizer's own template) on plain chat
FAMILIES = [(tok, fam, opts, parallel, text) for tok, fam, opts, parallel, text in TOOL_FAMILIES]
FAMILIES.append(("smollm2", "chatml", {}, False, False))
IDS = [f"{f[1]}-{'-'.join(map(str, f[2].values())) or 'default'}" for f in FAMILIES]
TEXT = st.text(alphabet="abcdefghij XYZ.,?!é\n{}\"", min_size=1, max_size=24).filter(lambda s: s.strip())


@st.composite
def plain_chats(draw):
    msgs = [{"role": "system", "content": draw(TEXT)}] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 4))):
        msgs.append({"role": "user", "content": draw(TEXT)})
        msgs.append({"role": "assistant", "content": draw(TEXT)})
        if draw(st.booleans()):
            msgs[-1]["train"] = False
    return {"messages": msgs, "tools": []}


def outcome(tok, row, family):
    try:
        info = prepare_example_info(tok, row, family=family)
    except Exception as exc:  # noqa: BLE001 - the refusal itself is compared
        return ("refused", reason_of(exc), str(exc))
    return ("kept", info.input_ids, info.assistant_masks, info.text, info.spans, info.dropped_messages,
            info.untrained_turns, info.control_text, info.split_calls, getattr(info, "quirks", ()))


@pytest.mark.parametrize("tok_name,fam_name,options,parallel,text_with_calls", FAMILIES, ids=IDS)
def test_fast_path_equals_reference_without_any_shortcut(tok_name, fam_name, options, parallel, text_with_calls):
    tok = reference_tokenizer(tok_name)
    family = get_family(fam_name, **options)
    kept = []

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plain_chats() if fam_name == "chatml" else conversations(parallel, text_with_calls))
    def check(row):
        fast = outcome(tok, row, family)
        with reference_path():
            ref = outcome(tok, row, family)
        assert fast == ref
        kept.append(fast[0] == "kept")

    check()
    assert any(kept)  # prepared rows were compared, not only refusals


def test_reference_path_turns_every_shortcut_off():
    smol = reference_tokenizer("smollm2")
    with reference_path():
        calls = []
        original = families_module._plain_template

        def counting(source):
            calls.append(source)
            return original(source)

        families_module._plain_template = counting
        try:
            row = {"messages": [{"role": "user", "content": "hi"},
                                {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
                                {"role": "tool", "content": "ok"}, {"role": "assistant", "content": "done"}],
                   "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                               "parameters": {"type": "object", "properties": {}}}}]}
            prepare_example_info(reference_tokenizer("llama31"), row, family="llama31_meta")
        finally:
            families_module._plain_template = original
    # without the memo the tool listing is rendered for the whole conversation and for every prefix
    assert calls.count(LLAMA_META_JSON_TOOLS_TEMPLATE) >= 4
    assert outcome(smol, {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
                   "qwen25")[0] == "kept"


def test_plain_jinja_text_is_reused_within_one_conversation_only():
    data = {"custom_tools": [{"tool_name": "f", "description": "d", "parameters": {}}]}
    alone = _plain_jinja(LLAMA_META_JSON_TOOLS_TEMPLATE, data)
    memo: dict = {}
    with json_memo(memo):
        first = _plain_jinja(LLAMA_META_JSON_TOOLS_TEMPLATE, data)
        again = _plain_jinja(LLAMA_META_JSON_TOOLS_TEMPLATE, {"custom_tools": [dict(data["custom_tools"][0])]})
        other = _plain_jinja(LLAMA_META_JSON_TOOLS_TEMPLATE, {"custom_tools": [{**data["custom_tools"][0],
                                                                                "description": "e"}]})
    assert first == alone and again is first  # equal data: the text is reused
    assert other != first  # different data: rendered anew
    assert sum(1 for k in memo if k[0] == "plain_jinja") == 2


def test_plain_environment_lookups_follow_jinjas_rule():
    """Attribute first, then item, as Jinja does: a dict key named like a dict method still gives the method."""
    env = families_module._plain_environment_class()()
    d = {"role": "user", "items": "key", "mro": "key"}
    assert env.getattr(d, "role") == "user"
    assert env.getattr(d, "items") == d.items  # the method, as in Jinja's default environment
    assert env.getattr(d, "mro") == "key"  # a dict instance has no attribute mro (its type has): the item
    assert env.from_string("{{ m.role }}|{{ m.missing is defined }}").render(m=d) == "user|False"


def _sandbox_lookups(fn) -> int:
    """How many attribute lookups transformers' sandbox checked while ``fn()`` ran."""
    from jinja2.sandbox import SandboxedEnvironment

    seen = []
    original = SandboxedEnvironment.getattr

    def counting(self, obj, attribute):
        seen.append(attribute)
        return original(self, obj, attribute)

    SandboxedEnvironment.getattr = counting
    try:
        fn()
    finally:
        SandboxedEnvironment.getattr = original
    return len(seen)


def test_reference_path_renders_bundled_templates_in_the_sandbox_and_the_fast_path_does_not():
    smol = reference_tokenizer("smollm2")
    row = {"messages": [{"role": "user", "content": "hi"},
                        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
                        {"role": "tool", "content": "ok"}, {"role": "assistant", "content": "done"}],
           "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                       "parameters": {"type": "object",
                                                                      "properties": {"x": {"type": "integer"}}}}}]}
    fast = []
    assert _sandbox_lookups(lambda: fast.append(outcome(smol, row, "qwen25"))) == 0
    ref = []

    def in_reference():
        with reference_path():
            ref.append(outcome(smol, row, "qwen25"))

    assert _sandbox_lookups(in_reference) > 0
    assert fast == ref and fast[0][0] == "kept"


def test_a_tokenizers_own_template_stays_in_the_sandbox_on_the_fast_path():
    """The fast path's dict shortcut never opens what the sandbox closes: an unsafe attribute in a tokenizer's
    template is refused on both paths."""
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    tok = AutoTokenizer.from_pretrained(str(smollm2_checkpoint(progress=False)))
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                         "{{ m.__class__.__init__.__globals__ }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    row = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    fast = outcome(tok, row, "chatml")
    with reference_path():
        ref = outcome(tok, row, "chatml")
    assert fast == ref and fast[0] == "refused" and "unsafe" in fast[2]


def test_mistral_prefixes_from_one_conversion_equal_converting_each_prefix():
    """mistral_v3 converts the conversation once and takes each prefix's state; consecutive user messages (one
    [INST] block, the earlier item extended later) and a system prompt are where a stale item would show."""
    tok = reference_tokenizer("mistral_v3")
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}
    row = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one"},
                        {"role": "user", "content": "two"}, {"role": "assistant", "tool_calls": [call]},
                        {"role": "tool", "tool_call_id": "c1", "content": "{\"y\": 2}"},
                        {"role": "assistant", "content": "done"}, {"role": "user", "content": "three"},
                        {"role": "user", "content": "four"}, {"role": "assistant", "content": "ok"}],
           "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
               "type": "object", "properties": {"x": {"type": "integer"}}}}}]}
    fast = outcome(tok, row, "mistral_v3")
    with reference_path():
        ref = outcome(tok, row, "mistral_v3")
    assert fast == ref and fast[0] == "kept"
    assert "one\n\ntwo" in fast[3] and "three\n\nfour" in fast[3]
    # every prefix, also those masking never renders (ending inside a user group, whose item a later user extends)
    convert = families_module._pre_mistral_v3
    msgs, tools = row["messages"], row["tools"]
    for k in range(1, len(msgs) + 1):
        alone = convert(msgs[:k], tools, {}, False, msgs)
        with json_memo({}):
            assert convert(msgs[:k], tools, {}, False, msgs) == alone, k


@pytest.mark.parametrize("tok_name", ["smollm2", "llama31", "mistral_v3", "glm4"])
def test_mask_from_the_encoding_equals_the_offsets_list_for_any_span(tok_name):
    """Spans anywhere (inside a token, on a multi-byte character, at the ends, empty): the mask read at the span
    bounds from the Rust Encoding equals the bisect over every offset (or leaves the row to it)."""
    from tooljudge.data_prep.masking import spans_to_tokens

    tok = reference_tokenizer(tok_name)
    text_st = st.text(alphabet="ab \n<|>_é中😀{}\"", min_size=1, max_size=40).map(
        lambda s: s.replace("<|>", tok.eos_token or ""))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text_st, st.data())
    def check(text, data):
        n = len(text)
        cuts = sorted(data.draw(st.lists(st.integers(0, n), min_size=2, max_size=6)))
        spans = [(cuts[k], cuts[k + 1], k) for k in range(0, len(cuts) - 1, 2)]
        fast = spans_to_tokens(tok, text, spans)
        with reference_path("encoding"):
            ref = spans_to_tokens(tok, text, spans)
        assert fast == ref

    check()


def test_reference_path_names_its_speed_ups():
    from tooljudge.data_prep.families import SHORTCUTS, shortcuts_enabled

    with reference_path("encoding"):
        assert not shortcuts_enabled("encoding") and shortcuts_enabled("memo")
        with reference_path():
            assert not any(shortcuts_enabled(name) for name in SHORTCUTS)
        assert shortcuts_enabled("memo")
    assert all(shortcuts_enabled(name) for name in SHORTCUTS)
    with pytest.raises(ValueError, match="unknown masking shortcut"):
        with reference_path("encodings"):
            pass

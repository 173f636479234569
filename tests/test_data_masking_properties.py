"""Property tests over generated conversations, for every family.

For random conversations (system prompt or not, 1-3 rounds, text answers, single and parallel calls with
results, some turns ``train: false``): trained runs are exactly the trained assistant turns; each decodes to that
turn's text and calls and ends with a stop token of the family; no system, user or tool-result text (tagged with
markers that never occur in assistant text) is ever trained; the mask has the length of the ids.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_encoders import mask_runs
from reference_tokenizers import reference_tokenizer
from tooljudge.data_prep.families import get_family
from tooljudge.data_prep.masking import prepare_example_info

ALPHABET = list("abcdefghijklmnop qrstuvwxyz ABC 0123456789 .,!?'-é東京ü") + ["\n"]
TEXT = st.text(alphabet=ALPHABET, min_size=1, max_size=24).map(str.strip).filter(bool)
TOOLS = [{"type": "function", "function": {"name": n, "description": f"tool {n}", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q"]}}}
    for n in ("lookup_item", "count_things", "fetch_page")]
MARKERS = ("SYSMARK", "USRMARK", "TOOLMARK")

# (reference tokenizer, family name, family options, can express: parallel calls, text beside calls)
FAMILIES = [
    ("smollm2", "qwen25", {}, True, True),
    ("llama31", "llama31", {}, False, False),
    ("llama31", "llama31_meta", {}, True, True),
    ("mistral_v3", "mistral_v3", {}, True, False),
    ("glm4", "glm4", {}, True, True),
    ("glm4", "glm4", {"glm4_call_style": "content_json"}, True, True),
    ("qwen2", "qwen2_fncall", {"lang": "en", "parallel": True}, True, True),
    ("qwen2", "qwen2_fncall", {"lang": "zh", "parallel": False}, False, True),
]


@st.composite
def conversations(draw, parallel: bool, text_with_calls: bool):
    msgs = []
    if draw(st.booleans()):
        msgs.append({"role": "system", "content": "SYSMARK " + draw(TEXT)})
    n = 0
    for _ in range(draw(st.integers(1, 3))):
        msgs.append({"role": "user", "content": "USRMARK " + draw(TEXT)})
        if draw(st.booleans()):
            k = draw(st.integers(1, 3 if parallel else 1))
            calls = []
            for _ in range(k):
                n += 1
                args = {"q": draw(TEXT)}
                if draw(st.booleans()):
                    args["n"] = draw(st.integers(-5, 10_000))
                name = draw(st.sampled_from([t["function"]["name"] for t in TOOLS]))
                calls.append({"id": f"call{n:05d}x", "type": "function", "function": {
                    "name": name, "arguments": args if draw(st.booleans()) else json.dumps(args)}})
            text = draw(TEXT) if text_with_calls and draw(st.booleans()) else ""
            msgs.append({"role": "assistant", "content": text, "tool_calls": calls,
                         **({"train": False} if draw(st.integers(0, 5)) == 0 else {})})
            for c in calls:
                msgs.append({"role": "tool", "tool_call_id": c["id"], "name": c["function"]["name"],
                             "content": "TOOLMARK " + draw(TEXT)})
        msgs.append({"role": "assistant", "content": draw(TEXT)})
    return {"messages": msgs, "tools": TOOLS}


def check_row(tok, family, row):
    info = prepare_example_info(tok, row, family=family)
    assert len(info.input_ids) == len(info.assistant_masks)
    trained_turns = [m for m in row["messages"] if m["role"] == "assistant" and m.get("train", True) is not False]
    runs = [tok.decode(r, skip_special_tokens=False) for r in mask_runs(info.input_ids, info.assistant_masks)]
    assert len(runs) == len(trained_turns)
    stops = [s.strip() for s in family.turn_end_tokens + family.next_turn_stops]
    for run, msg in zip(runs, trained_turns, strict=True):
        assert any(run.endswith(s) for s in stops), (run, stops)
        assert msg["content"].strip() in run
        for c in msg.get("tool_calls") or []:
            assert c["function"]["name"] in run
            args = c["function"]["arguments"]
            args = json.loads(args) if isinstance(args, str) else args
            if "n" in args:
                assert str(args["n"]) in run
        for marker in MARKERS:
            assert marker not in run
    untrained_text = tok.decode([t for t, f in zip(info.input_ids, info.assistant_masks, strict=True) if not f],
                                skip_special_tokens=False)
    for m in row["messages"]:
        if m["role"] in ("system", "user", "tool"):
            assert m["content"].split(" ", 1)[0] in untrained_text


@pytest.mark.parametrize("tok_name,fam_name,options,parallel,text_with_calls", FAMILIES,
                         ids=[f"{f[1]}-{'-'.join(map(str, f[2].values())) or 'default'}" for f in FAMILIES])
def test_mask_properties(tok_name, fam_name, options, parallel, text_with_calls):
    tok = reference_tokenizer(tok_name)
    family = get_family(fam_name, **options)

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(conversations(parallel, text_with_calls))
    def run(row):
        check_row(tok, family, row)

    run()

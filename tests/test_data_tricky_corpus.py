"""A corpus of tricky tool conversations against every family's reference, exactly: ids and mask, or both refuse.

``tests/data/tricky_conversations.jsonl`` (58 rows, one kind of trouble each: control-token text in user
messages, tool results (also behind JSON escapes), arguments, replies, system prompts, tool descriptions and
built-in tool calls, and partial control strings; unicode; an empty tool result; ``1e-5`` and ``3.0`` given as JSON
strings and as numbers; nested/null/boolean arguments; a late system message; consecutive user messages;
consecutive replies (merged as the references merge them); text beside (parallel) calls; parallel calls with
results out of order and ids Mistral must map; a function name with a dot; leading spaces and newlines;
``train: false``; a tool without a description; ligatures and full-width text; rows the validator refuses;
private-use characters (our piece mark's), raw U+2028/U+0085 and C0 controls; whitespace beside a call; a reply then
a call message with text; consecutive replies without tools; newline-edged results and replies; unicode argument
keys and ``1E+2``/``-0.0`` in string arguments; a tool without parameters and a result without a name). Adversarial corpora generated from these (random shapes, odd
byte sequences inserted into every string) were run through the same comparisons with ``TOOLJUDGE_TRICKY_CORPUS``.
References, with no normalisation:

- ``mistral_v3``: ``mistral_common`` (v3 model, finetuning mode) ``encode_chat_completion``: ids; each trained run
  is its ``encode_assistant_message``.
- ``llama31_meta``: llama-models' ``ChatFormat`` with Meta's tiktoken tokenizer and its prompt generators' text:
  ids; each trained run is ``encode_message(assistant)`` minus the header.
- ``qwen2_fncall``: Qwen-Agent's ``format_plaintext_train_samples`` (language detected as Qwen-Agent's chat does)
  rendered with Qwen2's template; ``glm4``: the model's chat template; ``llama31``: TRL's ``llama3_1.jinja`` (the
  model repository template; parallel calls split into one turn per call first, as ``parallel_calls="split"``
  defines); ``qwen25``: TRL's ``qwen2_5.jinja`` with SmolLM2's tokenizer. For these the text must be identical
  and the ids those of the text with control tokens only where
  the template wrote them, computed independently here: the reference is rendered a second time with every
  control string in the content altered in one character (same length), the control tokens left in that render
  are the structural ones, and the text between them is encoded with ``split_special_tokens=True``.

A row refused by the reference must be refused by us with a named reason. A row we refuse although the reference
renders it is listed in ``OUR_REFUSALS`` with the reason: the validator's rows (``REFERENCE_REFUSES`` says which
of them each reference refuses too) and GLM-4's empty tool result (its template drops the whole observation, so
the call's stop token ``<|observation|>`` is never written: training it would teach a call that never waits for
its result). Rows where we follow a reference quirk (``REFERENCE_QUIRKS``, ``masking.QUIRK_REASONS``) must equal
the reference by default, report the quirk's kind, and be refused with its reason under
``reference_quirks="reject"``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
from reference_encoders import (
    args_dict,
    args_json,
    glm4_reference_template,
    glm_messages,
    load_qwen_agent,
    mask_runs,
    meta_messages,
    qwen_agent_messages,
    qwen_agent_reference_text,
)
from reference_tokenizers import (
    QWEN2_TEMPLATE,
    mistral_v3_model_path,
    reference_tokenizer,
)
from tooljudge.data_prep.families import LLAMA_BUILTIN_TOOLS, get_family, mistral_call_id
from tooljudge.data_prep.mask_dataset import reason_of
from tooljudge.data_prep.masking import (
    QUIRK_REASONS,
    MaskConfig,
    prepare_example,
    prepare_example_info,
    render_prompt,
)

OWN_CORPUS = Path(__file__).parent / "data" / "tricky_conversations.jsonl"
# Another corpus (same row shape: id, messages, tools) can be run through the same comparisons:
# TOOLJUDGE_TRICKY_CORPUS=path.jsonl pytest tests/test_data_tricky_corpus.py
CORPUS_PATH = Path(os.environ.get("TOOLJUDGE_TRICKY_CORPUS") or OWN_CORPUS)


def _jsonl(path: Path) -> list[dict]:
    """JSON Lines: one row per "\n" (``str.splitlines`` would also split at a raw U+2028 or U+0085 in a string)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


ROWS = _jsonl(CORPUS_PATH)
BY_ID = {r["id"]: r for r in ROWS}
EXTERNAL = CORPUS_PATH != OWN_CORPUS
OWN = {r["id"]: r for r in _jsonl(OWN_CORPUS)}
VALIDATOR_ROWS = {"late_system", "ends_with_user", "starts_with_assistant", "unknown_tool", "missing_result",
                  "duplicate_result"}
OUR_REFUSALS = {  # (row, family) -> reason, where the reference renders something we refuse to train on
    **{(r, f): ("first_turn_not_user" if r == "starts_with_assistant" else "invalid_row")
       for r in VALIDATOR_ROWS for f in ("mistral_v3", "llama31_meta", "qwen2_fncall", "glm4", "llama31", "qwen25")},
    # the template drops an empty observation, <|observation|> included: the call's stop is never written
    ("empty_result", "glm4"): "format_cannot_express",
}
# The validator's rows that the reference itself refuses too (mistral_common's validator in finetuning mode;
# Qwen-Agent's prompt builder on a conversation that starts with an assistant turn). Every other reference renders
# every validator row: there only our validation refuses it.
REFERENCE_REFUSES = {("late_system", "mistral_v3"), ("ends_with_user", "mistral_v3"), ("missing_result", "mistral_v3"),
                     ("duplicate_result", "mistral_v3"), ("starts_with_assistant", "qwen2_fncall")}
REFERENCE_QUIRKS = {  # (row, family) -> the kind followed: identical to the reference, counted, refusable
    # "\n\nreply" after "assistant\n": the whole-text tokenisation merges prompt and reply newlines in one token
    ("whitespace", "qwen25"): "boundary_token",
    ("whitespace", "qwen2_fncall"): "boundary_token",
    # the model repository template drops the text beside a call; the call is the trained turn
    ("text_beside_calls", "llama31"): "dropped_text",
    ("text_beside_parallel", "llama31"): "dropped_text",
    ("code_interp_text", "llama31"): "dropped_text",
    # GLM-4 writes no stop token between consecutive assistant messages: one generation, one trained span
    ("consecutive_replies", "glm4"): "one_generation",
    ("consecutive_replies_then_call", "glm4"): "one_generation",
    ("reply_then_text_and_call", "glm4"): "one_generation",
    ("consecutive_replies_no_tools", "glm4"): "one_generation",
    ("reply_then_text_and_call", "llama31"): "dropped_text",
    ("whitespace_beside_call", "qwen25"): "boundary_token",  # "\n" beside a call after "assistant\n"
    ("newline_reply_after_result", "qwen25"): "boundary_token",
}


def _reason(fn):
    try:
        return fn(), None
    except Exception as err:  # noqa: BLE001 - every refusal must carry a named reason
        return None, reason_of(err)


def _trained(row: dict, runs: list) -> list:
    """The runs of the assistant turns that are trained (``"train": false`` turns are in the text, not the mask)."""
    flags = [m.get("train", True) is not False for m in row["messages"] if m["role"] == "assistant"]
    assert len(flags) == len(runs)
    return [r for r, keep in zip(runs, flags, strict=True) if keep]


# On another corpus, the refusals we make by design while the reference renders the row: the validator's
# (a training row must pass it) and the formats' documented limits.
DESIGNED_REFUSALS = {"invalid_row", "first_turn_not_user"}
DESIGNED_FORMAT_REFUSALS = {("glm4", "format_cannot_express")}  # an empty observation or message: dropped


GENERATED_ID = "_generated"  # hypothesis rows: checked as an unseen corpus is (test_generated_rows_match_references)


def _check(row_id: str, family: str, ours, ours_reason, ref, ref_error):
    external = EXTERNAL or row_id == GENERATED_ID
    if (row_id, family) in OUR_REFUSALS and not external:
        assert ours_reason == OUR_REFUSALS[(row_id, family)], (ours_reason, ref_error)
        assert (ref_error is not None) == ((row_id, family) in REFERENCE_REFUSES), ref_error
        return False
    if not external and ours_reason is None:
        quirk = REFERENCE_QUIRKS.get((row_id, family))
        quirks = getattr(ours, "quirks", None)
        if quirks is not None:
            assert quirks == ((quirk,) if quirk else ()), quirks
    if external and ref_error is None and (ours_reason in DESIGNED_REFUSALS
                                           or (family, ours_reason) in DESIGNED_FORMAT_REFUSALS):
        return False
    if ref_error is not None:
        assert ours_reason not in (None, "mask_error"), f"reference refuses ({ref_error}); we gave {ours_reason}"
        return False
    assert ours_reason is None, f"we refuse ({ours_reason}) what the reference renders"
    return True


# ----------------------------------------------------------------------------- mistral v3
@pytest.fixture(scope="module")
def mistral():
    pytest.importorskip("mistral_common")
    from mistral_common.protocol.instruct.validator import ValidationMode
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    return MistralTokenizer.from_file(str(mistral_v3_model_path()), mode=ValidationMode.finetuning)


def mistral_request(row: dict):
    from mistral_common.protocol.instruct.messages import (
        AssistantMessage,
        SystemMessage,
        ToolMessage,
        UserMessage,
    )
    from mistral_common.protocol.instruct.request import ChatCompletionRequest
    from mistral_common.protocol.instruct.tool_calls import Function, FunctionCall, Tool, ToolCall

    ids, msgs, n = {}, [], 0
    for m in row["messages"]:
        if m["role"] == "system":
            msgs.append(SystemMessage(content=m["content"]))
        elif m["role"] == "user":
            msgs.append(UserMessage(content=m["content"]))
        elif m["role"] == "assistant":
            calls = []
            for c in m.get("tool_calls") or []:
                ids[c["id"]] = mistral_call_id(c["id"], n)
                n += 1
                calls.append(ToolCall(id=ids[c["id"]], function=FunctionCall(name=c["function"]["name"],
                                                                           arguments=args_json(c))))
            msgs.append(AssistantMessage(content=m["content"] or None, tool_calls=calls or None))
        else:
            msgs.append(ToolMessage(content=m["content"], tool_call_id=ids.get(m["tool_call_id"], "unknown00"),
                                    name=m.get("name")))
    tools = [Tool(function=Function(**t["function"])) for t in row["tools"]]
    return ChatCompletionRequest(messages=msgs, tools=tools or None)


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_mistral_v3(row_id, mistral):
    from mistral_common.protocol.instruct.messages import AssistantMessage

    row = BY_ID[row_id]
    tok = reference_tokenizer("mistral_v3")

    def reference():
        req = mistral_request(row)
        tokens = mistral.encode_chat_completion(req).tokens
        normalised = mistral.instruct_tokenizer  # runs: each assistant message as mistral_common encodes it
        merged = mistral._instruct_request_normalizer.from_chat_completion_request(req).messages
        runs = [normalised.encode_assistant_message(m, False) for m in merged if isinstance(m, AssistantMessage)]
        n_row = sum(m["role"] == "assistant" for m in row["messages"])
        return tokens, (_trained(row, runs) if len(runs) == n_row else runs)  # merged replies: all trained

    ref, ref_error = _reason(reference)
    ours, ours_reason = _reason(lambda: prepare_example_info(tok, row, family="mistral_v3"))
    if _check(row_id, "mistral_v3", ours, ours_reason, ref, ref_error):
        assert ours.input_ids == ref[0]
        assert mask_runs(ours.input_ids, ours.assistant_masks) == ref[1]


# ----------------------------------------------------------------------------- llama31_meta
@pytest.fixture(scope="module")
def meta():
    chat_format = pytest.importorskip("llama_models.llama3.chat_format")
    from llama_models.llama3.tokenizer import Tokenizer as MetaTokenizer

    return chat_format.ChatFormat(MetaTokenizer.get_instance())


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_llama31_meta(row_id, meta):
    from llama_models.datatypes import ToolPromptFormat

    row = BY_ID[row_id]
    tok = reference_tokenizer("llama31")

    def reference():
        raw = meta_messages(row)
        tokens = meta.encode_dialog_prompt(raw).tokens
        header = len(meta._encode_header("assistant"))
        runs = [meta.encode_message(m, ToolPromptFormat.json)[0][header:] for m in raw if m.role == "assistant"]
        return tokens, _trained(row, runs)

    ref, ref_error = _reason(reference)
    ours, ours_reason = _reason(lambda: prepare_example_info(tok, row, family="llama31_meta"))
    if _check(row_id, "llama31_meta", ours, ours_reason, ref, ref_error):
        # Meta's encoder ends with an open assistant header; the conversation is its prefix.
        assert ours.input_ids == ref[0][: len(ours.input_ids)]
        assert len(ref[0]) - len(ours.input_ids) == len(meta._encode_header("assistant"))
        assert mask_runs(ours.input_ids, ours.assistant_masks) == ref[1]


# ----------------------------------------------------------------------------- HF-template references
def _control_strings(tok) -> list[str]:
    return sorted(tok.get_added_vocab(), key=len, reverse=True)


def _alter(obj, controls):
    """Every control string inside the content with its first character replaced (same length, no control)."""
    if isinstance(obj, str):
        for s in controls:
            obj = obj.replace(s, "\u2039" + s[1:])
        return obj
    if isinstance(obj, list):
        return [_alter(x, controls) for x in obj]
    if isinstance(obj, dict):
        return {k: _alter(v, controls) for k, v in obj.items()}
    return obj


def content_as_text_ids(tok, render, payload) -> tuple[str, list[int], list[tuple[int, int]], str]:
    """``render(payload)``, its ids with control tokens only where the template wrote them, each token's character
    offsets, and the render with content control strings altered (where only the template's own are left)."""
    controls = _control_strings(tok)
    text = render(payload)
    altered = render(_alter(payload, controls))
    assert len(altered) == len(text)
    ids, offsets, pos, i = [], [], 0, 0

    def plain(a: int, b: int) -> None:
        enc = tok(text[a:b], add_special_tokens=False, split_special_tokens=True, return_offsets_mapping=True)
        ids.extend(enc["input_ids"])
        offsets.extend((a + s, a + e) for s, e in enc["offset_mapping"])

    while i < len(altered):
        hit = next((s for s in controls if altered.startswith(s, i)), None)
        if hit is None:
            i += 1
            continue
        if i > pos:
            plain(pos, i)
        ids.append(tok.convert_tokens_to_ids(hit))
        offsets.append((i, i + len(hit)))
        i = pos = i + len(hit)
    if pos < len(text):
        plain(pos, len(text))
    return text, ids, offsets, altered


def overlap_mask(offsets, spans) -> list[int]:
    """transformers' ``return_assistant_tokens_mask`` rule: a token is trained when it overlaps a trained character
    span (so a token holding the prompt's last and the reply's first characters is trained)."""
    return [int(any(e > a and s < b for a, b in spans)) for s, e in offsets]


def prefix_spans(render_prefix, messages: list[dict], text: str, altered: str, stops: tuple[str, ...],
                 run_trained: list[bool] | None = None, one_generation: bool = False) -> list[tuple[int, int]]:
    """The mask definition, computed on the reference's own renders: for every assistant message (with
    ``one_generation``, every run of consecutive assistant messages: GLM-4) the characters after
    ``render_prefix(messages[:i], add_generation_prompt=True)`` up to and including the first structural stop
    string after them (found in the render whose content control strings are altered). Runs whose messages all
    have ``"train": false`` (or, given, ``run_trained`` False in run order) are left out."""
    spans, i, run = [], 0, 0
    while i < len(messages):
        if messages[i]["role"] != "assistant":
            i += 1
            continue
        j = i
        while one_generation and j + 1 < len(messages) and messages[j + 1]["role"] == "assistant":
            j += 1
        prompt = render_prefix(messages[:i])
        assert text.startswith(prompt), (i, prompt[-80:])
        start = len(prompt)
        ends = [k + len(s) for s in stops if (k := altered.find(s, start)) >= 0]
        assert ends, (i, altered[start:start + 80])
        trained = (run_trained[run] if run_trained is not None
                   else any(m.get("train", True) is not False for m in messages[i:j + 1]))
        if trained:
            spans.append((start, min(ends)))
        i, run = j + 1, run + 1
    return spans


def assistant_runs_trained(messages: list[dict]) -> list[bool]:
    """Per run of consecutive assistant messages of a row: is any of them trained."""
    out, prev = [], None
    for m in messages:
        if m["role"] == "assistant":
            if prev != "assistant":
                out.append(False)
            out[-1] = out[-1] or m.get("train", True) is not False
        prev = m["role"]
    return out


def _decoded_args(row: dict) -> dict:
    """The row with every JSON-string argument decoded (the template references write arguments from dicts)."""
    row = json.loads(json.dumps(row))
    for m in row["messages"]:
        for c in m.get("tool_calls") or []:
            c["function"]["arguments"] = args_dict(c)
    return row


@functools.cache
def _load_qwen_agent():
    prompt = load_qwen_agent()
    from qwen_agent.utils.utils import has_chinese_messages

    return prompt, has_chinese_messages


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_qwen2_fncall(row_id):
    prompt, has_chinese = _load_qwen_agent()
    row = BY_ID[row_id]
    tok = reference_tokenizer("qwen2")

    def render(r):
        if not r["tools"]:  # no function prompt: Qwen2's template on the conversation as it is
            return tok.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in r["messages"]],
                                           chat_template=QWEN2_TEMPLATE, tokenize=False)
        lang = "zh" if has_chinese(qwen_agent_messages(r)) else "en"  # Qwen-Agent's default (system, user messages)
        return qwen_agent_reference_text(prompt, tok, r, lang, parallel=True)

    ref, ref_error = _reason(lambda: content_as_text_ids(tok, render, row))
    ours, ours_reason = _reason(lambda: prepare_example_info(tok, row, family="qwen2_fncall"))
    if _check(row_id, "qwen2_fncall", ours, ours_reason, ref, ref_error):
        text, ids, offsets, _ = ref
        assert ours.text == text
        assert ours.input_ids == ids
        # Mask: in each assistant sample, what the model writes: up to and including the first "\n✿RESULT✿" after
        # its own text (it stops there), then from the ": " after the executor's "\n✿RETURN✿" on, "<|im_end|>"
        # included. Structure found in a render with content control strings and "✿" altered (same length).
        structural = render(_alter(_alter(row, _control_strings(tok)), ("✿",)))
        assert len(structural) == len(text)
        spans = qwen_fncall_spans(structural)
        flags = (assistant_runs_trained(row["messages"]) if row["tools"]
                 else [m.get("train", True) is not False for m in row["messages"] if m["role"] == "assistant"])
        assert len(spans) == len(flags)
        assert ours.assistant_masks == overlap_mask(offsets, [sp for sp, keep in zip(spans, flags, strict=True)
                                                              if keep])


def qwen_fncall_spans(structural: str) -> list[tuple[int, int]]:
    """Character spans the model writes in Qwen-Agent's plaintext samples (see test_qwen2_fncall), in order."""
    head, end, result, ret = "<|im_start|>assistant\n", "<|im_end|>", "\n✿RESULT✿", "\n✿RETURN✿"
    spans, pos = [], 0
    while (k := structural.find(head, pos)) >= 0:
        a = k + len(head)
        stop = structural.index(end, a) + len(end)
        while (r := structural.find(result, a, stop)) >= 0:
            spans.append((a, r + len(result)))
            a = structural.index(ret, r, stop) + len(ret)
        spans.append((a, stop))
        pos = stop
    return spans


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_glm4(row_id):
    row = BY_ID[row_id]
    tok = reference_tokenizer("glm4")
    template = glm4_reference_template()

    def render(r):
        return tok.apply_chat_template(glm_messages(r, "metadata"), chat_template=template, tokenize=False)

    ref, ref_error = _reason(lambda: content_as_text_ids(tok, render, _decoded_args(row)))
    ours, ours_reason = _reason(lambda: prepare_example_info(tok, row, family="glm4"))
    if _check(row_id, "glm4", ours, ours_reason, ref, ref_error):
        # The template writes nothing after the last turn; our training text adds the stop it trains (<|user|>).
        text, ids, offsets, altered = ref
        assert ours.text == text + "<|user|>"
        assert ours.input_ids == ids + [tok.convert_tokens_to_ids("<|user|>")]
        # Mask: consecutive assistant messages are one generation (GLM-4's process_response splits one output on
        # <|assistant|>); each ends with the next <|user|> / <|observation|>.
        glm = glm_messages(_decoded_args(row), "metadata")
        spans = prefix_spans(lambda msgs: tok.apply_chat_template(msgs, chat_template=template, tokenize=False,
                                                                  add_generation_prompt=True),
                             glm, text + "<|user|>", altered + "<|user|>", ("<|user|>", "<|observation|>"),
                             assistant_runs_trained(row["messages"]), one_generation=True)
        end = len(text)
        assert ours.assistant_masks == overlap_mask(offsets + [(end, end + len("<|user|>"))], spans)


def split_parallel(messages: list[dict]) -> list[dict]:
    """parallel_calls="split": each call its own assistant turn followed by its result (matched by id)."""
    out, i = [], 0
    while i < len(messages):
        m = messages[i]
        calls = m.get("tool_calls") or []
        if m["role"] != "assistant" or len(calls) < 2:
            out.append(m)
            i += 1
            continue
        j = i + 1
        results = {}
        while j < len(messages) and messages[j]["role"] == "tool":
            results[messages[j]["tool_call_id"]] = messages[j]
            j += 1
        for k, c in enumerate(calls):
            turn = {"role": "assistant", "content": m["content"] if k == 0 else "", "tool_calls": [c]}
            out += [{**turn, "train": m["train"]} if "train" in m else turn, results[c["id"]]]
        i = j
    return out


def hf_tool_messages(messages: list[dict]) -> list[dict]:
    """Messages as TRL's templates take them: no empty ``tool_calls``, each call ``{type, function: {name, arguments
    as a dict}}``."""
    msgs = []
    for m in messages:
        m = {k: v for k, v in m.items() if k != "tool_calls" or v}
        if m.get("tool_calls"):
            m["tool_calls"] = [{"type": "function", "function": {"name": c["function"]["name"],
                                                                 "arguments": args_dict(c)}}
                               for c in m["tool_calls"]]
        msgs.append(m)
    return msgs


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_llama31(row_id):
    import trl

    row = BY_ID[row_id]
    tok = reference_tokenizer("llama31")
    trl_tpl = (Path(trl.__file__).parent / "chat_templates" / "llama3_1.jinja").read_text()

    def messages(r):
        return hf_tool_messages(split_parallel(r["messages"]))

    def render_messages(r, msgs, gen=False):
        custom = [t for t in r["tools"] if t["function"]["name"] not in LLAMA_BUILTIN_TOOLS]
        builtin = [t["function"]["name"] for t in r["tools"] if t["function"]["name"] in LLAMA_BUILTIN_TOOLS]
        kwargs = {"builtin_tools": builtin} if builtin else {}
        return tok.apply_chat_template(msgs, tools=custom or None, chat_template=trl_tpl, tokenize=False,
                                       add_generation_prompt=gen, **kwargs)

    payload, _ = _reason(lambda: _decoded_args(row))  # arguments that are not JSON: the reference refuses
    ref, ref_error = _reason(lambda: content_as_text_ids(tok, lambda r: render_messages(r, messages(r)), payload))
    ours, ours_reason = _reason(lambda: prepare_example_info(tok, row, family="llama31"))
    if _check(row_id, "llama31", ours, ours_reason, ref, ref_error):
        text, ids, offsets, altered = ref
        assert ours.text == text
        assert ours.input_ids == ids
        spans = prefix_spans(lambda msgs: render_messages(payload, msgs, gen=True), messages(payload), text, altered,
                             ("<|eot_id|>", "<|eom_id|>"))
        assert ours.assistant_masks == overlap_mask(offsets, spans)


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_qwen25(row_id):
    import trl

    row = BY_ID[row_id]
    tok = reference_tokenizer("smollm2")
    trl_tpl = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()

    def messages(r):
        return hf_tool_messages(r["messages"])

    def render(r):
        return tok.apply_chat_template(messages(r), tools=r["tools"] or None, chat_template=trl_tpl, tokenize=False)

    payload, _ = _reason(lambda: _decoded_args(row))  # arguments that are not JSON: the reference refuses
    ref, ref_error = _reason(lambda: content_as_text_ids(tok, render, payload))
    ours, ours_reason = _reason(lambda: prepare_example_info(tok, row, family="qwen25"))
    if _check(row_id, "qwen25", ours, ours_reason, ref, ref_error):
        text, ids, offsets, altered = ref
        assert ours.text == text
        assert ours.input_ids == ids
        # Mask: TRL's training template's {% generation %} spans ('\n' + reply + '<|im_end|>\n') less what
        # add_generation_prompt writes (the leading '\n') and what follows the stop (the trailing '\n'), tokens
        # by transformers' overlap rule; the same spans as the prefix definition on the reference's own renders.
        from transformers.utils.chat_template_utils import render_jinja_template

        training = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja").read_text()
        rendered, generation = render_jinja_template([messages(payload)], tools=row["tools"] or None,
                                                     chat_template=training, return_assistant_tokens_mask=True)
        assert rendered[0] == text
        flags = [m.get("train", True) is not False for m in row["messages"] if m["role"] == "assistant"]
        assert len(generation[0]) == len(flags)
        spans = []
        for (a, b), keep in zip(generation[0], flags, strict=True):
            assert text[a] == "\n" and text[b - len("<|im_end|>\n"):b] == "<|im_end|>\n"
            if keep:
                spans.append((a + 1, b - 1))
        assert spans == prefix_spans(
            lambda msgs: tok.apply_chat_template(msgs, tools=row["tools"] or None, chat_template=trl_tpl,
                                                 tokenize=False, add_generation_prompt=True),
            messages(payload), text, altered, ("<|im_end|>",))
        assert ours.assistant_masks == overlap_mask(offsets, spans)


# ----------------------------------------------------------------------------- options and coverage
TOKENIZER_OF = {"mistral_v3": "mistral_v3", "llama31_meta": "llama31", "llama31": "llama31", "glm4": "glm4",
                "qwen2_fncall": "qwen2", "qwen25": "smollm2"}


@pytest.mark.parametrize("row_id,family", sorted(REFERENCE_QUIRKS))
def test_reference_quirks_counted_and_refusable(row_id, family):
    """A quirk followed by default is reported by kind; ``reference_quirks="reject"`` refuses it with its reason."""
    tok = reference_tokenizer(TOKENIZER_OF[family])
    kind = REFERENCE_QUIRKS[(row_id, family)]
    assert prepare_example_info(tok, OWN[row_id], family=family).quirks == (kind,)
    _, reason = _reason(lambda: prepare_example(tok, OWN[row_id], family=family,
                                                config=MaskConfig(reference_quirks="reject")))
    assert reason == QUIRK_REASONS[kind]


def test_prepare_report_counts_quirk_rows():
    from tooljudge.data_prep.mask_dataset import PrepareConfig, prepare_rows

    tok = reference_tokenizer("glm4")
    rows = [OWN["consecutive_replies"], OWN["consecutive_replies_then_call"], OWN["multi_round"]]
    _, report = prepare_rows(tok, rows, PrepareConfig(family="glm4"), progress=False)
    assert report.kept == 3 and report.reference_quirk_rows == {"one_generation": 2}
    _, report = prepare_rows(tok, rows, PrepareConfig(family="glm4", reference_quirks="reject"), progress=False)
    assert report.kept == 1 and report.dropped_by_reason == {"no_stop_token": 2}


def test_corpus_covers_every_kind():
    if EXTERNAL:
        pytest.skip("another corpus")
    kinds = {r["kind"] for r in ROWS}
    assert kinds >= {"control_text", "unicode", "empty_result", "numbers", "nested_args", "late_system",
                     "consecutive_users", "text_with_calls", "parallel", "function_name", "validation", "byte_level",
                     "consecutive_assistants", "whitespace"}


@pytest.mark.parametrize("family,tok_name", [("mistral_v3", "mistral_v3"), ("llama31_meta", "llama31"),
                                             ("qwen2_fncall", "qwen2"), ("glm4", "glm4"), ("llama31", "llama31")])
def test_special_text_reject_names_the_reason(family, tok_name):
    tok = reference_tokenizer(tok_name)
    row = OWN["ctl_user"]  # <|eot_id|>, [INST], </s>, [TOOL_CALLS], <|im_end|>, <|user|>: each family has one
    info = prepare_example_info(tok, row, family=family)
    assert info.control_text > 0
    with pytest.raises(Exception) as err:
        prepare_example(tok, row, family=family, config=MaskConfig(special_text="reject"))
    assert reason_of(err.value) == "control_token_text"
    clean = OWN["multi_round"]
    assert prepare_example_info(tok, clean, family=family).control_text == 0


def test_eval_prompt_keeps_control_text_as_text():
    """render_prompt's output, encoded by the eval backends' encoder, has no control token from the content."""
    from tooljudge.core.control_text import encode_rendered

    tok = reference_tokenizer("llama31")
    row = OWN["ctl_tool_result"]
    prompt = render_prompt(tok, row["messages"][:3], row["tools"], family="llama31_meta")
    ids = encode_rendered(tok, prompt)
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    plain = tok(str(prompt), add_special_tokens=False)["input_ids"]
    assert plain.count(eot) == ids.count(eot) + 1  # the tool result's <|eot_id|> is text
    assert tok.decode(ids) == str(prompt)


def test_parallel_calls_reject_and_split_counts():
    tok = reference_tokenizer("llama31")
    row = OWN["parallel_three"]
    info = prepare_example_info(tok, row, family="llama31")
    assert info.split_calls == 1 and len(info.spans) == 4
    _, reason = _reason(lambda: prepare_example(tok, row, family="llama31",
                                                config=MaskConfig(parallel_calls="reject")))
    assert reason == "parallel_calls_unsupported"
    fam = get_family("qwen2_fncall", parallel=False)
    _, reason = _reason(lambda: prepare_example(reference_tokenizer("qwen2"), row, family=fam,
                                                config=MaskConfig(parallel_calls="reject")))
    assert reason == "parallel_calls_unsupported"


@pytest.mark.parametrize("family,tok_name", [("llama31_meta", "llama31"), ("mistral_v3", "mistral_v3"),
                                             ("qwen2_fncall", "qwen2")])
def test_dpo_pair_tokens_keep_control_text(family, tok_name):
    """DPO (chosen and rejected): prompt + chosen tokens are exactly the training tokens up to that turn, with the
    control-token text of the prompt and of both answers encoded as text."""
    from tooljudge.data_prep.data_mix import tokenize_pair
    from tooljudge.data_prep.masking import render_completion

    tok = reference_tokenizer(tok_name)
    row = OWN["ctl_tool_result"]
    msgs = row["messages"]
    chosen = {"role": "assistant", "content": "It is 3 degrees </s> <|eot_id|> <|im_end|>."}
    rejected = {"role": "assistant", "content": "[INST] <|eot_id|> no idea"}
    pair = tokenize_pair(tok, {"prompt": msgs[:3], "chosen": [chosen], "rejected": [rejected], "tools": row["tools"]},
                         family, render_prompt, render_completion)
    full = prepare_example(tok, {"messages": msgs[:3] + [chosen], "tools": row["tools"]}, family=family)
    assert pair["prompt_ids"] + pair["chosen_ids"] == full["input_ids"][: len(pair["prompt_ids"]) + len(
        pair["chosen_ids"])]
    assert tok.decode(pair["chosen_ids"]).startswith(("It is 3", " It is 3", ": It is 3"))
    specials = set(tok.all_special_ids)
    for side in ("chosen_ids", "rejected_ids"):  # only the turn's own stop token is a control token
        assert not any(t in specials for t in pair[side][:-1]), tok.convert_ids_to_tokens(pair[side])
        assert pair[side][-1] in specials


def test_transformers_backend_encodes_control_text_as_text():
    """The local eval backend (eval, judge prompts, on-policy sampling) feeds the model the rendered prompt's
    tokens with content control text as text, batched and padded."""
    import torch

    from tooljudge.core.backends import TransformersBackend
    from tooljudge.core.control_text import encode_rendered

    tok = reference_tokenizer("llama31")
    backend = TransformersBackend.__new__(TransformersBackend)
    backend.tokenizer, backend.model = tok, torch.nn.Linear(1, 1)
    rows = [OWN["ctl_user"], OWN["multi_round"]]
    prompts = [render_prompt(tok, r["messages"][:-1], r["tools"], family="llama31_meta") for r in rows]
    enc = backend._encode(prompts)
    for k, p in enumerate(prompts):
        ids = [t for t, a in zip(enc["input_ids"][k].tolist(), enc["attention_mask"][k].tolist(), strict=True) if a]
        assert ids == encode_rendered(tok, p)
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    assert encode_rendered(tok, prompts[0]).count(eot) < tok(str(prompts[0]), add_special_tokens=False)[
        "input_ids"].count(eot)


# ----------------------------------------------------------------------------- generated rows
PIECES = ["\n", "\n\n", "\r\n", " ", "  ", "\t", "\u00a0", "\u2028", "\u0085", "\ufeff", "\x00", "\x1b", "e\u0301",
          "\u6771\u4eac", "\U0001f326\ufe0f", "\ufb01", "\"", "\\", "\\n", "\\u003c", "{{", "{%", "}}", "<|eot_id|>",
          "<|im_end|>", "<|im_start|>", "</s>", "[INST]", "[TOOL_CALLS]", "[/TOOL_RESULTS]", "<|user|>",
          "<|observation|>", "<|assistant|>", "<|python_tag|>", "<tool_call>", "\u273fRESULT\u273f", "\u273fRETURN\u273f",
          ": ", "```", "1e-5", "3.0", "null", "{\"a\": 1}", "\ue00f", "word", " answer", "12345", "x"]

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def generated_rows():
    """Conversations whose every string is made of the pieces above (control strings, line breaks the JSONL reader
    must not split at, whitespace that merges across the prompt/reply boundary, our piece mark, Qwen-Agent's
    markers), in the shapes: system?, user, (assistant calls + results)?, reply, (user, reply)?."""
    from hypothesis import strategies as st

    def text(allow_empty=False):
        joined = st.lists(st.sampled_from(PIECES), min_size=0 if allow_empty else 1, max_size=4).map("".join)
        return joined if allow_empty else joined.map(lambda t: t if t.strip() else t + "q")

    @st.composite
    def rows(draw):
        msgs = []
        if draw(st.booleans()):
            msgs.append({"role": "system", "content": draw(text())})
        msgs.append({"role": "user", "content": draw(text())})
        n_calls = draw(st.integers(0, 2))
        calls = []
        for k in range(n_calls):
            args = {"city": draw(text())}
            as_string = draw(st.booleans())
            calls.append({"id": f"callGEN0{k}", "type": "function", "function": {
                "name": "get_weather", "arguments": json.dumps(args, ensure_ascii=draw(st.booleans())) if as_string
                else args}})
        if calls:
            msgs.append({"role": "assistant", "content": "", "tool_calls": calls})
            msgs += [{"role": "tool", "tool_call_id": c["id"], "name": "get_weather", "content": draw(text(True))}
                     for c in calls]
        msgs.append({"role": "assistant", "content": draw(text())})
        if draw(st.booleans()):
            msgs += [{"role": "user", "content": draw(text())}, {"role": "assistant", "content": draw(text())}]
        return {"id": GENERATED_ID, "kind": "generated", "messages": msgs, "tools": [WEATHER]}

    return rows()


def test_generated_rows_match_references(mistral, meta):
    """Hypothesis rows through every family's comparison above, as an unseen corpus is checked: identical ids and
    mask, or refused by both (or by us for a documented reason)."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=int(os.environ.get("TOOLJUDGE_TRICKY_EXAMPLES", "12")), deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(row=generated_rows())
    def check(row):
        BY_ID[GENERATED_ID] = row
        try:
            test_mistral_v3(GENERATED_ID, mistral)
            test_llama31_meta(GENERATED_ID, meta)
            test_qwen2_fncall(GENERATED_ID)
            test_glm4(GENERATED_ID)
            test_llama31(GENERATED_ID)
            test_qwen25(GENERATED_ID)
        finally:
            BY_ID.pop(GENERATED_ID, None)

    check()

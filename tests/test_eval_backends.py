"""Backends: batched left-padded generation equals a hand-written greedy loop; label_probs equals a softmax
over the labels' logits computed by hand; the OpenAI backend against a local canned HTTP server."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from tooljudge.core.backends import (
    GenerationBackend,
    OpenAIBackend,
    TransformersBackend,
    VLLMBackend,
    cut_at_stop,
    greedy_decode,
    greedy_decode_rows,
    make_backend,
    normalise_logprobs,
    plain_greedy,
)

PROMPTS = [
    "<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou call tools.<|im_end|>\n<|im_start|>user\nBook a table for two at eight.<|im_end|>\n<|im_start|>assistant\n",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.models import smollm2_checkpoint, tiny_model_dir

    tok = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    path = tiny_model_dir(tok, tmp_path_factory.mktemp("tiny") / "m", seed=3, hidden=16)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return model, AutoTokenizer.from_pretrained(path), path


def manual_greedy(model, tok, prompt, n):
    ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(ids).logits[0, -1].argmax())
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return out


def test_protocol_and_factory(tiny):
    model, tok, path = tiny
    backend = TransformersBackend(model, tok, batch_size=2)
    assert isinstance(backend, GenerationBackend)
    assert isinstance(OpenAIBackend("http://127.0.0.1:1", "m"), GenerationBackend)
    assert isinstance(make_backend("transformers", str(path)), TransformersBackend)
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend("nope", "x")


def test_batched_generate_matches_manual_greedy(tiny):
    model, tok, _ = tiny
    n = 4
    backend = TransformersBackend(model, tok, batch_size=3)
    got = backend.generate(PROMPTS, max_new_tokens=n, stop=[])
    for prompt, text in zip(PROMPTS, got, strict=True):
        ref = manual_greedy(model, tok, prompt, n)
        eos = tok.eos_token_id
        ref = ref[: ref.index(eos)] if eos in ref else ref
        assert text == tok.decode(ref, skip_special_tokens=False)
    # batch size 1 (no padding) gives the same texts: left padding is handled
    assert TransformersBackend(model, tok, batch_size=1).generate(PROMPTS, max_new_tokens=n) == got


def test_stop_strings_and_tokens_cut(tiny):
    model, tok, _ = tiny
    backend = TransformersBackend(model, tok, batch_size=2)
    full = backend.generate(PROMPTS[:1], max_new_tokens=8)[0]
    ref_ids = manual_greedy(model, tok, PROMPTS[0], 8)
    # a vocabulary token generated at step 3 used as stop: output is the 3 tokens before it
    stop_tok = tok.convert_ids_to_tokens(ref_ids[3])
    stop_text = tok.decode([ref_ids[3]])
    if ref_ids[3] not in ref_ids[:3]:
        cut = backend.generate(PROMPTS[:1], max_new_tokens=8, stop=[stop_text])[0]
        assert cut == tok.decode(ref_ids[:3])
        assert stop_tok  # token exists in the vocabulary
    # a multi-token stop string is cut textually
    if len(full) > 4:
        s = full[2:5]
        assert backend.generate(PROMPTS[:1], max_new_tokens=8, stop=[s])[0] == full[: full.find(s)]


MORE_PROMPTS = PROMPTS + [
    "<|im_start|>user\nList three fruits, one per line, then stop.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nTools: get_time(zone).<|im_end|>\n<|im_start|>user\nTime in Tokyo and in Lima?"
    "<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nOk<|im_end|>\n<|im_start|>assistant\n",
]


def hf_sequential(model, tok, prompts, n, end_ids):
    """The reference: ``model.generate`` one prompt at a time (no padding), greedy, ended rows cut."""
    outs = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
            seq = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                                 eos_token_id=end_ids, pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
            cut = next((k for k, t in enumerate(seq) if t in end_ids), len(seq))
            outs.append(seq[:cut])
    return outs


@pytest.fixture(scope="module")
def lively(tiny):
    """The tiny model with weights redrawn at std 0.3: at init scale it repeats one token, which would hide rows
    that end at different steps."""
    import copy

    model, tok, _ = tiny
    model = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return model, tok


def test_own_greedy_loop_equals_sequential_generate_while_rows_leave(lively):
    """Continuous batching whose rows end at different steps gives, row by row, the tokens of ``model.generate`` run
    one prompt at a time; prompts are prefilled one at a time (no padding), ended rows leave the decode batch and
    waiting rows take their slots (decode steps never exceed the batch size, and reach it again after a row left)."""
    model, tok = lively
    n = 10
    free = hf_sequential(model, tok, MORE_PROMPTS, n, [tok.eos_token_id])
    # end tokens taken from the rows' own continuations, so that rows end at different steps
    ends = sorted({free[0][2], free[3][5], tok.eos_token_id})
    ref = hf_sequential(model, tok, MORE_PROMPTS, n, ends)
    assert len({len(r) for r in ref}) > 1  # rows really end at different steps
    shapes: list[tuple[int, int]] = []
    handle = model.register_forward_pre_hook(lambda mod, args, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                             with_kwargs=True)
    try:
        model.generation_config.eos_token_id = ends
        got = TransformersBackend(model, tok, batch_size=4).generate(MORE_PROMPTS, max_new_tokens=n)
    finally:
        handle.remove()
        model.generation_config.eos_token_id = tok.eos_token_id
    assert got == [tok.decode(r, skip_special_tokens=False) for r in ref]
    assert all(b == 1 for b, width in shapes if width > 1)  # prefill: one prompt at a time
    steps = [b for b, width in shapes if width == 1]
    assert max(steps) == 4 and min(steps) < 4  # decode: full batch, shrinking once no row waits
    first_step = next(k for k, (_, width) in enumerate(shapes) if width == 1)
    assert any(width > 1 for _, width in shapes[first_step:])  # a waiting row was prefilled into a freed slot
    assert TransformersBackend(model, tok, batch_size=1).generate(MORE_PROMPTS, max_new_tokens=n) == \
        TransformersBackend(model, tok, batch_size=6).generate(MORE_PROMPTS, max_new_tokens=n)


def test_prefix_order_prefills_each_distinct_prefix_once():
    """Prefilling in ``prefix_order`` on the previous row's cache computes exactly the rows' trie: every distinct
    prefix once (checked against the set of all prefixes), one token at least per row."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tooljudge.core.backends import common_prefix_length, prefix_order

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=8), min_size=1, max_size=8, unique_by=tuple))
    def check(rows):
        order = prefix_order(rows)
        assert sorted(order) == list(range(len(rows)))
        computed = len(rows[order[0]]) + sum(len(rows[b]) - common_prefix_length(rows[a], rows[b])
                                             for a, b in zip(order, order[1:], strict=False))
        assert computed == len({tuple(r[:k]) for r in rows for k in range(1, len(r) + 1)})

    check()


def test_shared_prefix_prefilled_once_and_tokens_equal_generate(lively):
    """Prompts sharing a long system prompt (and one prompt repeated, one a prefix of another): the shared part is
    prefilled once, and every row's tokens still equal ``model.generate`` one prompt at a time."""
    model, tok = lively
    system = "<|im_start|>system\nYou call tools. Tools: get_time(zone), get_weather(city), add(a, b).<|im_end|>\n"
    users = ["What time is it in Lima?", "Weather in Oslo?", "Add 2 and 3.", "Weather in Oslo?"]
    prompts = [f"{system}<|im_start|>user\n{u}<|im_end|>\n<|im_start|>assistant\n" for u in users] + [system]
    n = 6
    ref = hf_sequential(model, tok, prompts, n, [tok.eos_token_id])
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    prefill_tokens: list[int] = []
    handle = model.register_forward_pre_hook(
        lambda mod, args, kw: prefill_tokens.append(kw["input_ids"].shape[1]) if kw["input_ids"].shape[1] > 1
        else None, with_kwargs=True)
    try:
        got = TransformersBackend(model, tok, batch_size=3).generate(prompts, max_new_tokens=n)
    finally:
        handle.remove()
    assert got == [tok.decode(r, skip_special_tokens=False) for r in ref]
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    distinct_prefixes = {tuple(r[:k]) for r in ids for k in range(1, len(r) + 1)}
    # every distinct prefix once; the repeated prompt recomputes its last token only (a one-token forward)
    assert sum(prefill_tokens) == len(distinct_prefixes)
    assert sum(prefill_tokens) < sum(lengths) // 2


def test_greedy_decode_rows_stop_scan_limits_and_immediate_end(lively):
    model, tok = lively
    rows = [tok(p, add_special_tokens=False)["input_ids"] for p in MORE_PROMPTS]
    with torch.inference_mode():
        assert greedy_decode_rows(model, rows, 0, [], batch_size=2) == [[] for _ in rows]
        full = greedy_decode_rows(model, rows, 5, [], batch_size=2)
        assert [len(r) for r in full] == [5] * len(rows)
        assert greedy_decode_rows(model, rows, 5, [], batch_size=1) == full
        # a scan that fires after the 2nd token of every row stops each row there
        short = greedy_decode_rows(model, rows, 5, [], batch_size=2, stop_scan=lambda row: len(row) >= 2)
        assert short == [r[:2] for r in full]
        # a row whose first token is an end token never enters the decode batch; the others are unaffected
        ended = greedy_decode_rows(model, rows, 5, [full[0][0]], batch_size=2)
        assert ended[0] == []
        assert all(r == (f[: f.index(full[0][0])] if full[0][0] in f else f) for r, f in zip(ended, full, strict=True))
        with pytest.raises(ValueError, match="empty prompt"):
            greedy_decode_rows(model, [[]], 3, [], batch_size=1)


def test_generating_keeps_no_model_alive(tiny):
    """After a backend generated with a model, nothing of tooljudge's holds the model: a one-process run
    (train/rounds.py evaluates base, SFT and DPO models in turn) frees each one when its stage ends. A cache keyed
    on the model once kept every evaluated model resident (+0.5 GiB per eval in the demo)."""
    import copy
    import gc
    import weakref

    base, tok, _ = tiny
    model = copy.deepcopy(base)
    backend = TransformersBackend(model, tok, batch_size=2)
    backend.generate(["Hello", "Say one word"], max_new_tokens=3)
    gone = weakref.ref(model)
    del backend, model
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize("headroom", [0, 1, 3])
def test_decode_with_little_headroom_moves_or_grows_the_kv_slots_and_still_equals_generate(lively, monkeypatch,
                                                                                         headroom):
    """With almost no decode columns at first, the KV slots move their window left or grow while rows join and
    leave (batch 2, rows of different lengths); every row's tokens still equal ``model.generate``."""
    import tooljudge.core.backends as backends
    from tooljudge.core.kv_slots import KVSlots

    model, tok = lively
    n = 12
    free = hf_sequential(model, tok, MORE_PROMPTS, n, [tok.eos_token_id])
    ends = sorted({free[1][3], tok.eos_token_id})
    ref = hf_sequential(model, tok, MORE_PROMPTS, n, ends)
    moved: list[str] = []
    real = KVSlots.make_room

    def make_room(self, columns, keep_left):
        capacity, end = self.capacity, self.end
        real(self, columns, keep_left)
        if self.capacity != capacity:
            moved.append("grow")
        elif self.end != end:
            moved.append("shift")

    monkeypatch.setattr(backends, "DECODE_HEADROOM", headroom)
    monkeypatch.setattr(KVSlots, "make_room", make_room)
    rows = [tok(p, add_special_tokens=False)["input_ids"] for p in MORE_PROMPTS]
    with torch.inference_mode():
        assert greedy_decode_rows(model, rows, n, ends, batch_size=2) == ref
    assert "grow" in moved or "shift" in moved


def test_greedy_decode_stop_scan_and_limits(tiny):
    model, tok, _ = tiny
    enc = tok(PROMPTS[:2], return_tensors="pt", padding=True, add_special_tokens=False)
    tok.padding_side = "left"
    enc = tok(PROMPTS[:2], return_tensors="pt", padding=True, add_special_tokens=False)
    tok.padding_side = "right"
    with torch.inference_mode():
        assert greedy_decode(model, enc, 0, []) == [[], []]
        full = greedy_decode(model, enc, 6, [])
        assert [len(r) for r in full] == [6, 6]
        # a scan that fires after the 2nd token of every row stops each row there
        calls: list[int] = []
        short = greedy_decode(model, enc, 6, [], stop_scan=lambda row: calls.append(len(row)) or len(row) >= 2)
    assert short == [r[:2] for r in full] and max(calls) == 2


def test_generation_config_with_processors_uses_generate(tiny):
    """A repetition penalty changes greedy tokens: the backend then leaves decoding to ``model.generate``."""
    model, tok, _ = tiny
    assert plain_greedy(model.generation_config)
    model.generation_config.repetition_penalty = 5.0
    try:
        assert not plain_greedy(model.generation_config)
        got = TransformersBackend(model, tok, batch_size=1).generate(PROMPTS, max_new_tokens=8, stop=[])
        ref = []
        with torch.inference_mode():
            for prompt in PROMPTS:
                ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
                seq = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False,
                                     pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
                eos = tok.eos_token_id
                ref.append(tok.decode(seq[: seq.index(eos)] if eos in seq else seq, skip_special_tokens=False))
        assert got == ref
    finally:
        model.generation_config.repetition_penalty = None


def test_sampling_is_seeded(tiny):
    model, tok, _ = tiny
    backend = TransformersBackend(model, tok, batch_size=3)
    a = backend.generate(PROMPTS, max_new_tokens=4, temperature=1.0, seed=7)
    b = backend.generate(PROMPTS, max_new_tokens=4, temperature=1.0, seed=7)
    assert a == b
    greedy = backend.generate(PROMPTS, max_new_tokens=4)
    assert a != greedy  # sampling actually samples (random 49k-vocab model: near-flat distribution)


def test_training_mode_and_padding_side_restored(tiny):
    model, tok, _ = tiny
    model.train()
    tok.padding_side = "right"
    TransformersBackend(model, tok).generate(PROMPTS[:1], max_new_tokens=2)
    assert model.training and tok.padding_side == "right"
    model.eval()


def test_label_probs_match_hand_softmax(tiny):
    model, tok, _ = tiny
    labels = ["A", "B", "C"]
    backend = TransformersBackend(model, tok, batch_size=3)
    got = backend.label_probs(PROMPTS, labels)
    ids = [tok(lab, add_special_tokens=False)["input_ids"][0] for lab in labels]
    for prompt, probs in zip(PROMPTS, got, strict=True):
        enc = tok(prompt, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).logits[0, -1]
        ref = torch.softmax(logits[ids], dim=-1).tolist()
        assert probs == pytest.approx(ref, abs=1e-5)
        assert sum(probs) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="share a first token"):
        backend.label_probs(PROMPTS[:1], ["Answer A", "Answer B"])


def test_helpers():
    assert cut_at_stop("abc<|im_end|>def", ["<|im_end|>"]) == "abc"
    assert cut_at_stop("a</s>b<x>", ["<x>", "</s>"]) == "a"
    assert cut_at_stop("abc", None) == "abc"
    p = normalise_logprobs([math.log(0.2), math.log(0.6)])
    assert p == pytest.approx([0.25, 0.75])
    assert normalise_logprobs([-math.inf, 0.0]) == [0.0, 1.0]


def test_vllm_missing_gives_clear_error():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="needs vllm"):
            VLLMBackend("any")
    else:
        if not torch.cuda.is_available():
            with pytest.raises(RuntimeError, match="CUDA GPU"):
                VLLMBackend("any")


# ---------------------------------------------------------------------------------- OpenAI-compatible


class _Canned(BaseHTTPRequestHandler):
    requests: list = []
    fail_first: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, dict(self.headers), body))
        if type(self).fail_first:
            code = type(self).fail_first.pop(0)
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"error": "canned failure"}')
            return
        if self.path == "/v1/completions" and body.get("echo"):
            choices = []
            for i, p in enumerate(body["prompt"]):
                # one token per character, except that a double space merges with the label (the tokenizer
                # "merges the boundary"); label token logprob -1.0 for A, -2.0 for B
                lp = -1.0 if p.endswith("A") else -2.0
                offsets = list(range(len(p) - 2)) + [len(p) - 2] if "  " in p else list(range(len(p)))
                values = [None] + [-0.5] * (len(offsets) - 2) + [lp]
                choices.append({"index": i, "text": p + "x", "logprobs": {
                    "text_offset": offsets + [len(p)], "token_logprobs": values + [-3.0]}})
            resp = {"choices": choices}
        elif self.path == "/v1/completions":
            # reversed order with explicit indexes: the client must reorder
            n = len(body["prompt"])
            resp = {"choices": [{"index": i, "text": f"out{i}<|im_end|>tail"} for i in reversed(range(n))]}
        elif self.path == "/v1/chat/completions":
            resp = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(resp).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server():
    _Canned.requests = []
    _Canned.fail_first = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_openai_generate(server):
    be = OpenAIBackend(server, "served", api_key="k", batch_size=2)
    out = be.generate(["p0", "p1", "p2"], max_new_tokens=5, stop=["<|im_end|>"], seed=3)
    # batches of 2 then 1; per batch the reversed choices are put back by index
    assert out == ["out0", "out1", "out0"]
    path, headers, body = _Canned.requests[0]
    assert path == "/v1/completions"
    assert headers["Authorization"] == "Bearer k"
    assert body["prompt"] == ["p0", "p1"] and body["max_tokens"] == 5 and body["stop"] == ["<|im_end|>"]
    assert body["model"] == "served" and body["temperature"] == 0.0 and body["seed"] == 3
    assert body["skip_special_tokens"] is False  # keep [TOOL_CALLS] / <|python_tag|> (vLLM extension)
    OpenAIBackend(server, "served", extra_body={}).generate(["p"], max_new_tokens=1)
    assert "skip_special_tokens" not in _Canned.requests[-1][2]


def test_openai_base_url_with_v1_and_chat(server):
    be = OpenAIBackend(server + "/v1/", "served")
    msg = be.chat([{"role": "user", "content": "hi"}], tools=[{"type": "function", "function": {"name": "f"}}])
    assert msg["tool_calls"][0]["function"]["name"] == "f"
    assert _Canned.requests[0][0] == "/v1/chat/completions"
    assert _Canned.requests[0][2]["tools"][0]["function"]["name"] == "f"


def test_openai_label_probs(server):
    be = OpenAIBackend(server, "served")
    probs = be.label_probs(["Q: "], ["A", "B"])
    e1, e2 = math.exp(-1.0), math.exp(-2.0)
    assert probs[0] == pytest.approx([e1 / (e1 + e2), e2 / (e1 + e2)])
    assert _Canned.requests[0][2]["echo"] is True
    # the label starts at offset 3 = len(prompt); a prompt whose end is merged raises clearly
    with pytest.raises(RuntimeError, match="merges the prompt end"):
        be.label_probs(["Q:  "], ["A", "B"])


def test_openai_retries_5xx_and_fails_fast_on_4xx(server):
    be = OpenAIBackend(server, "served", retries=1)
    _Canned.fail_first = [503]
    assert be.generate(["p"], max_new_tokens=1) == ["out0<|im_end|>tail"]  # no stop given: text kept whole
    _Canned.fail_first = [400]
    with pytest.raises(RuntimeError, match="HTTP 400"):
        be.generate(["p"], max_new_tokens=1)
    _Canned.fail_first = [500, 500]
    with pytest.raises(RuntimeError, match="HTTP 500"):
        be.generate(["p"], max_new_tokens=1)


@pytest.mark.slow
def test_real_model_batched_equals_sequential_on_builtin_rows():
    """SmolLM2-135M in float32 on built-in eval prompts: every row's batched text equals ``model.generate`` run one
    prompt at a time (padding changes float rounding; a flipped near-tie would show here)."""
    from tooljudge.data_prep.masking import render_prompt
    from tooljudge.data_prep.synthetic import build_fc_eval_set
    from tooljudge.eval.fc_eval import subsample
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    path = smollm2_checkpoint()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    rows = subsample(build_fc_eval_set(), 6, seed=0)
    prompts = [render_prompt(tok, r["messages"], r["tools"], family="qwen25") for r in rows]
    end = [tok.convert_tokens_to_ids("<|im_end|>")]
    ref = hf_sequential(model, tok, prompts, 24, end)
    # token ids, exactly: shared prefixes reused, batch of 4 refilled as rows end
    token_rows = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    with torch.inference_mode():
        assert greedy_decode_rows(model, token_rows, 24, end, batch_size=4) == ref
    got = TransformersBackend(model, tok, batch_size=4).generate(prompts, max_new_tokens=24, stop=["<|im_end|>"])
    assert got == [tok.decode(r, skip_special_tokens=False) for r in ref]

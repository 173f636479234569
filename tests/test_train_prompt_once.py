"""``data.prompt_once``: each DPO pair's prompt computed once in a packed row (train/prompt_once.py).

The reference is each row of TRL's batch run through the model alone (no padding, no packing): every token's
hidden state, and so its log-prob and gradient, must match it up to float rounding (float32, 1e-5).
"""

from __future__ import annotations

import json
import types
from contextlib import contextmanager

import pytest
import train_support as ts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tooljudge.train.dpo import run_dpo
from tooljudge.train.prompt_once import check_kernel, pack_pairs, prompt_once
from tooljudge.train.recipe import RecipeError, recipe_from_dict

VOCAB = 40


def _tiny_llama(kernel: str):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attn_implementation=kernel)
    return LlamaForCausalLM(config).eval()


MODELS = {kernel: _tiny_llama(kernel) for kernel in ("sdpa", "eager")}

@contextmanager
def embedding_inputs(model):
    """The shapes of the token batches the backbone embedded while inside: shows that packing really ran (a
    switch that did nothing would also give equal numbers)."""
    shapes: list[tuple[int, ...]] = []
    handle = model.model.embed_tokens.register_forward_pre_hook(lambda _m, args: shapes.append(tuple(args[0].shape)))
    try:
        yield shapes
    finally:
        handle.remove()


# one pair: prompt, chosen answer, rejected answer (token ids); the rejected one may begin like the chosen one
pair_strategy = st.tuples(
    st.lists(st.integers(1, VOCAB - 1), min_size=1, max_size=9),
    st.lists(st.integers(1, VOCAB - 1), min_size=1, max_size=6),
    st.lists(st.integers(1, VOCAB - 1), min_size=0, max_size=6),
    st.integers(0, 6),
).map(lambda t: (t[0], t[1], t[1][: t[3]] + t[2] or t[1][:1]))


def _trl_batch(pairs):
    """TRL's DPO layout: ``[prompt + chosen ...; prompt + rejected ...]``, right-padded with id 0."""
    import torch

    rows = [p + c for p, c, _ in pairs] + [p + r for p, _, r in pairs]
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return rows, ids, mask


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(pair_strategy, min_size=1, max_size=4), kernel=st.sampled_from(sorted(MODELS)))
def test_packed_hidden_states_equal_each_row_alone(pairs, kernel):
    import torch

    model = MODELS[kernel]
    rows, ids, mask = _trl_batch(pairs)
    packing = pack_pairs(ids, mask)
    assert packing is not None
    for k, (prompt, chosen, rejected) in enumerate(pairs):
        shared = len(prompt) + next((j for j, (a, b) in enumerate(zip(chosen, rejected, strict=False)) if a != b),
                                    min(len(chosen), len(rejected)))
        assert int(packing.shared[k]) == shared
    assert packing.input_ids.shape[1] == max(2 * len(p) + len(c) + len(r) - int(s)
                                             for (p, c, r), s in zip(pairs, packing.shared.tolist(), strict=True))
    with torch.no_grad(), prompt_once(model), embedding_inputs(model) as shapes:
        packed = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert shapes == [tuple(packing.input_ids.shape)]  # one packed row per pair went through the model
    assert "forward" not in model.model.__dict__  # the backbone is itself again
    for i, row in enumerate(rows):
        with torch.no_grad():
            alone = model.model(input_ids=torch.tensor([row])).last_hidden_state[0]
        torch.testing.assert_close(packed[i, : len(row)], alone, atol=1e-5, rtol=1e-5)


def test_gradients_equal_trl_rows():
    """The summed log-prob of every label token: the same value and the same weight gradients packed or not."""
    import torch

    model = MODELS["sdpa"]
    pairs = [([1, 2, 3, 4, 5], [6, 7], [6, 8, 9]), ([3, 3], [4], [5, 6, 7, 8]), ([9, 8, 7], [1, 2, 3], [1, 2, 3])]
    _, ids, mask = _trl_batch(pairs)
    labels = ids.masked_fill(mask == 0, -100)

    def summed_logprob():
        model.zero_grad()
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
        logps = torch.log_softmax(model.lm_head(hidden), dim=-1)
        target = labels[:, 1:]
        picked = logps.gather(2, target.clamp(min=0).unsqueeze(2)).squeeze(2)
        value = (picked * (target != -100)).sum()
        value.backward()
        return value.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    plain_value, plain_grads = summed_logprob()
    with prompt_once(model), embedding_inputs(model) as shapes:
        packed_value, packed_grads = summed_logprob()
    assert shapes == [tuple(pack_pairs(ids, mask).input_ids.shape)]
    torch.testing.assert_close(packed_value, plain_value, atol=1e-5, rtol=1e-5)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(packed_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_other_layouts_run_unpacked():
    """An odd number of rows or left padding is not TRL's DPO layout: the backbone runs as it is."""
    import torch

    _, ids, mask = _trl_batch([([1, 2, 3], [4], [5, 6])])
    assert pack_pairs(ids[:1], mask[:1]) is None
    left = torch.tensor([[0, 1, 1], [1, 1, 1]])
    assert pack_pairs(torch.ones(2, 3, dtype=torch.long), left) is None
    model = MODELS["sdpa"]
    with torch.no_grad():
        plain = model.model(input_ids=ids[:1], attention_mask=mask[:1]).last_hidden_state
        with prompt_once(model):
            same = model.model(input_ids=ids[:1], attention_mask=mask[:1]).last_hidden_state
    assert torch.equal(plain, same)


def test_kernels_without_a_dense_mask_are_refused():
    inner = types.SimpleNamespace(config=types.SimpleNamespace(_attn_implementation="flash_attention_2"),
                                  base_model=None)
    with pytest.raises(ValueError, match="flash_attention_2"):
        check_kernel(inner)
    assert check_kernel(MODELS["eager"]) == "eager"


def test_prompt_once_is_a_dpo_setting(tmp_path):
    raw = ts.recipe_dict("sft", "m", tmp_path / "x.jsonl", tmp_path / "out")
    raw["data"]["prompt_once"] = True
    with pytest.raises(RecipeError, match="prompt_once is a DPO setting"):
        recipe_from_dict(raw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ts.tiny_model(tmp_path_factory.getbasetemp() / "models")


@pytest.mark.parametrize("setup", ["lora", "full_precomputed"])
def test_dpo_run_logs_the_same_losses(tiny, tmp_path, setup, monkeypatch):
    """The same DPO run (gradient checkpointing on) with and without ``data.prompt_once``: every logged loss,
    reward margin and chosen log-prob agrees to float rounding."""
    data = ts.write_jsonl(tmp_path / "pref.jsonl", [ts.pref_row(i) for i in range(4)])
    import tooljudge.train.prompt_once as module

    logs, packed = {}, {}
    real = module.pack_pairs
    for prompt_once_on in (False, True):
        calls: list[int] = []
        monkeypatch.setattr(module, "pack_pairs", lambda *a, calls=calls: calls.append(1) or real(*a))
        extra = {"precompute_ref_log_probs": True} if setup == "full_precomputed" else {}
        raw = ts.recipe_dict("dpo", tiny, data, tmp_path / f"out_{prompt_once_on}", max_steps=3,
                             learning_rate=1e-2 if setup == "lora" else 1e-4, gradient_checkpointing=True, **extra)
        if setup == "lora":
            raw["lora"] = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
        raw["data"]["prompt_once"] = prompt_once_on
        out = run_dpo(recipe_from_dict(raw))
        history = json.loads((out / "run_info.json").read_text())["log_history"]
        logs[prompt_once_on] = [e for e in history if "loss" in e]
        packed[prompt_once_on] = len(calls)
    assert packed[False] == 0 and packed[True] >= 3  # off: TRL's batch as is; on: packed in every step
    assert len(logs[True]) == len(logs[False]) == 3
    for plain, packed in zip(logs[False], logs[True], strict=True):
        for key in ("loss", "rewards/margins", "logps/chosen", "logps/rejected"):
            assert packed[key] == pytest.approx(plain[key], rel=1e-4, abs=1e-4), (key, plain, packed)
    assert logs[True][-1]["loss"] < logs[True][0]["loss"]  # it trains


def test_precomputed_reference_log_probs_are_packed_too(tiny, tmp_path, monkeypatch):
    """TRL computes precomputed reference log-probs inside its constructor: the switch must already be on there."""
    import tooljudge.train.prompt_once as module
    from tooljudge.train.dpo import build_dpo_trainer

    packed = []
    real = module.pack_pairs
    monkeypatch.setattr(module, "pack_pairs", lambda *a: packed.append(1) or real(*a))
    data = ts.write_jsonl(tmp_path / "pref.jsonl", [ts.pref_row(i) for i in range(4)])
    raw = ts.recipe_dict("dpo", tiny, data, tmp_path / "out", precompute_ref_log_probs=True)
    raw["data"]["prompt_once"] = True
    trainer, _, _ = build_dpo_trainer(recipe_from_dict(raw))
    assert packed and trainer.prompt_once

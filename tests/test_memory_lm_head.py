"""CPU LM-head tiles (``trl_seam.fit_lm_head_tiles``): the small tiles that keep CPU training's memory down give
the losses and gradients of TRL's own tiles and of the full logits (an independent reference: ``log_softmax``
over the whole vocabulary), for the kernel, an SFT step and a DPO step on the tiny model; and on CPU the head
scores only the labelled positions (TRL does so on Triton devices), with the same numbers."""

from __future__ import annotations

import pytest
import torch
import train_support as ts
from tooljudge.train import trl_seam
from trl.kernels import chunked_logprob
from trl.trainer import utils as trl_utils

TRL_DEFAULT = (chunked_logprob.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)
SMALL = (3, 100)  # the tiny model's 512-row vocabulary in 6 tiles, its tokens 3 at a time
TOL = {"rtol": 1e-4, "atol": 1e-5}  # float32, additions in another order


@pytest.fixture
def tiles(monkeypatch):
    """Set TRL's tile sizes for one test; restored afterwards."""
    monkeypatch.setattr(chunked_logprob, "TOKEN_CHUNK_SIZE", chunked_logprob.TOKEN_CHUNK_SIZE)
    monkeypatch.setattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE", trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE)

    def use(tile: tuple[int, int]) -> None:
        chunked_logprob.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = tile

    return use


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ts.tiny_model(tmp_path_factory.getbasetemp() / "models")


def test_cpu_gets_the_small_tiles_and_triton_devices_keep_trls(tiles):
    tiles(TRL_DEFAULT)
    assert trl_seam.fit_lm_head_tiles("cpu") == trl_seam.CPU_LM_HEAD_TILE
    assert trl_seam.lm_head_tile() == trl_seam.CPU_LM_HEAD_TILE
    tiles(TRL_DEFAULT)
    if chunked_logprob._use_triton(torch.device("cuda")):  # Triton installed: the CUDA kernel is left alone
        assert trl_seam.fit_lm_head_tiles("cuda") == TRL_DEFAULT


def _kernel(hidden, weight, targets):
    h = hidden.clone().requires_grad_(True)
    out = chunked_logprob.ChunkedLogProbFunction.apply(h, weight, None, targets, 1.0,
                                                       trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE, None, 1.0,
                                                       ("log_probs", "entropy", "is_top1"))
    log_probs, entropy, _, _, is_top1 = out
    (log_probs.sum() + 0.5 * entropy.sum()).backward()
    return log_probs.detach(), entropy.detach(), is_top1, h.grad


def test_kernel_small_tiles_match_trls_tiles_and_the_full_logits(tiles):
    torch.manual_seed(0)
    hidden, weight = torch.randn(37, 16), torch.randn(1000, 16)
    targets = torch.randint(0, 1000, (37,))
    tiles(TRL_DEFAULT)
    default = _kernel(hidden, weight, targets)
    tiles((5, 128))
    small = _kernel(hidden, weight, targets)
    h = hidden.clone().requires_grad_(True)
    log_p = torch.log_softmax(h @ weight.T, dim=-1)
    ref_lp = log_p.gather(-1, targets[:, None]).squeeze(-1)
    ref_ent = -(log_p.exp() * log_p).sum(-1)
    (ref_lp.sum() + 0.5 * ref_ent.sum()).backward()
    reference = (ref_lp.detach(), ref_ent.detach(), (log_p.argmax(-1) == targets), h.grad)
    for got in (default, small):
        for a, b in zip(got, reference, strict=True):
            if a.dtype == torch.bool:
                assert torch.equal(a, b)
            else:
                torch.testing.assert_close(a, b, **TOL)


def _grads(model) -> dict[str, torch.Tensor]:
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


def _step(trainer, inputs, set_tiles, tile) -> tuple:
    """One loss and its gradients through the trainer's own ``compute_loss`` with TRL's LM head on ``tile``."""
    set_tiles(tile)
    loss = trainer.compute_loss(trainer.model, dict(inputs))
    loss.backward()
    return loss.detach(), _grads(trainer.model)


def _assert_same(a: tuple, b: tuple) -> None:
    torch.testing.assert_close(a[0], b[0], **TOL)
    assert a[1].keys() == b[1].keys() and a[1]
    for name in a[1]:
        torch.testing.assert_close(a[1][name], b[1][name], **TOL, msg=name)


def test_sft_step_same_loss_and_gradients_with_small_tiles(tiny, tmp_path, tiles):
    from tooljudge.train.recipe import recipe_from_dict
    from tooljudge.train.sft import build_sft_trainer

    data = ts.write_jsonl(tmp_path / "sft.jsonl", [ts.sft_row(i) for i in range(2)])
    raw = ts.recipe_dict("sft", tiny, data, tmp_path / "out")
    raw["lora"] = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
    trainer, _, _ = build_sft_trainer(recipe_from_dict(raw))
    assert trl_seam.lm_head_tile() == trl_seam.CPU_LM_HEAD_TILE  # set by the seam on this CPU run
    model = trainer.model
    model.train()
    for _, p in model.named_parameters():  # LoRA B starts at zero: move it so every gradient is exercised
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.05)
    inputs = trainer._prepare_inputs(trainer.data_collator(list(trainer.train_dataset)[:2]))

    default, small = (_step(trainer, inputs, tiles, tile) for tile in (TRL_DEFAULT, SMALL))
    full = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                 labels=inputs["labels"])  # transformers' own loss over the full logits
    full.loss.backward()
    reference = (full.loss.detach(), _grads(model))
    _assert_same(small, default)
    _assert_same(small, reference)


def test_dpo_step_same_loss_and_gradients_with_small_tiles(tiny, tmp_path, tiles):
    import torch.nn.functional as F

    trainer, _, _ = ts.tiny_lora_dpo_trainer(tiny, tmp_path, [ts.pref_row(i) for i in range(2)])
    model = trainer.model
    model.train()
    for _, p in model.named_parameters():  # policy != reference: a non-trivial DPO loss
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.05)
    inputs = trainer._prepare_inputs(trainer.data_collator(list(trainer.train_dataset)[:2]))

    default, small = (_step(trainer, inputs, tiles, tile) for tile in (TRL_DEFAULT, SMALL))

    def sequence_logps(logits):  # full logits: summed log-probs of the completion tokens
        ids, mask = inputs["input_ids"][:, 1:], inputs["completion_mask"][:, 1:].bool()
        per_token = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[..., None]).squeeze(-1)
        return (per_token * mask).sum(-1)

    kwargs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    policy = sequence_logps(model(**kwargs).logits)
    with torch.no_grad(), model.disable_adapter():
        reference_logps = sequence_logps(model(**kwargs).logits)
    chosen, rejected = (policy - reference_logps).chunk(2)
    loss = -F.logsigmoid(trainer.beta * (chosen - rejected)).mean()
    loss.backward()
    _assert_same(small, default)
    _assert_same(small, (loss.detach(), _grads(model)))


# --- CPU: only the labelled positions go through the head (trl_seam.score_labelled_positions_only) ---


@pytest.fixture
def head_rows(monkeypatch):
    """Record how many rows each call of TRL's LM-head kernel scored; TRL's compact switch restored afterwards."""
    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)
    kernel, rows = trl_utils._ChunkedLogProbFunction, []

    class Counting:
        @staticmethod
        def apply(hidden, *args):
            rows.append(hidden.shape[0])
            return kernel.apply(hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Counting)
    return rows


def _scored(trainer, inputs, head_rows, switch) -> tuple:
    """One loss + gradients with TRL's compact switch set to ``switch``; also the rows the head scored."""
    trl_utils._use_triton = switch
    head_rows.clear()
    loss = trainer.compute_loss(trainer.model, dict(inputs))
    loss.backward()
    return (loss.detach(), _grads(trainer.model)), list(head_rows)


def _switched_on():
    """The switch the seam installed when it built the trainer (TRL's own one is ``chunked_logprob._use_triton``)."""
    assert trl_seam.score_labelled_positions_only("cpu") is True
    assert trl_utils._use_triton is not chunked_logprob._use_triton
    return trl_utils._use_triton


def _moved_off_zero(trainer, rows: int):
    """The trainer's model in training mode with its trainable weights moved off LoRA's zero start (so every
    gradient is exercised and policy != reference), and its first ``rows`` rows as one collated batch."""
    model = trainer.model
    model.train()
    for _, p in model.named_parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.05)
    return model, trainer._prepare_inputs(trainer.data_collator(list(trainer.train_dataset)[:rows]))


def test_sft_step_scores_only_labelled_positions_same_numbers(tiny, tmp_path, head_rows):
    from tooljudge.train.recipe import recipe_from_dict
    from tooljudge.train.sft import build_sft_trainer

    data = ts.write_jsonl(tmp_path / "sft.jsonl", [ts.sft_row(i) for i in range(3)])
    raw = ts.recipe_dict("sft", tiny, data, tmp_path / "out")
    raw["lora"] = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
    trainer, _, _ = build_sft_trainer(recipe_from_dict(raw))
    switched = _switched_on()
    model, inputs = _moved_off_zero(trainer, 3)
    labelled = int((inputs["labels"][:, 1:] != -100).sum())
    every = inputs["labels"][:, 1:].numel()
    assert 0 < labelled < every  # prompts and padding exist, so the switch has something to leave out

    compact, compact_rows = _scored(trainer, inputs, head_rows, switched)
    full, full_rows = _scored(trainer, inputs, head_rows, chunked_logprob._use_triton)
    assert compact_rows == [labelled] and full_rows == [every]
    _assert_same(compact, full)
    reference = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=inputs["labels"])
    reference.loss.backward()  # transformers' own loss over the full logits
    _assert_same(compact, (reference.loss.detach(), _grads(model)))


def test_dpo_step_scores_only_labelled_positions_same_numbers(tiny, tmp_path, head_rows):
    trainer, _, _ = ts.tiny_lora_dpo_trainer(tiny, tmp_path, [ts.pref_row(i) for i in range(2)])
    switched = _switched_on()
    model, inputs = _moved_off_zero(trainer, 2)
    labelled = int(inputs["completion_mask"][:, 1:].sum())
    every = inputs["input_ids"][:, 1:].numel()
    assert 0 < labelled < every

    compact, compact_rows = _scored(trainer, inputs, head_rows, switched)
    full, full_rows = _scored(trainer, inputs, head_rows, chunked_logprob._use_triton)
    assert labelled in compact_rows and every not in compact_rows  # policy and reference: labelled rows only
    assert every in full_rows
    _assert_same(compact, full)


def test_compact_switch_only_on_eager_cpu_and_only_where_trl_has_it(monkeypatch):
    monkeypatch.setattr(trl_utils, "_use_triton", chunked_logprob._use_triton)
    assert trl_seam.score_labelled_positions_only("cuda") is False
    assert trl_seam.score_labelled_positions_only("cpu", compiled=True) is False
    assert trl_utils._use_triton is chunked_logprob._use_triton  # left alone
    assert trl_seam.score_labelled_positions_only("cpu") is True
    switched = trl_utils._use_triton
    assert switched(torch.device("cpu")) is True
    assert switched(torch.device("meta")) is False
    assert trl_seam.score_labelled_positions_only("cpu") is True and trl_utils._use_triton is switched  # once
    assert trl_seam.score_labelled_positions_only("cpu", compiled=True) is False
    assert trl_utils._use_triton is chunked_logprob._use_triton  # a compiled trainer after an eager one: undone
    monkeypatch.setattr(trl_utils, "_use_triton", chunked_logprob._use_triton)
    monkeypatch.setattr(trl_utils, "add_fused_lm_head", lambda model, **kw: None)  # a TRL without the switch
    with pytest.warns(UserWarning, match="no compact switch"):
        assert trl_seam.score_labelled_positions_only("cpu") is False
    assert trl_utils._use_triton is chunked_logprob._use_triton

"""The one thin seam between tooljudge and TRL's API (alignment-handbook broke on every TRL rename).

Everything that depends on TRL internals lives here: building the config object, constructing the trainers,
feeding pre-tokenised DPO rows past TRL's own tokenisation, and checking that TRL turned our
``assistant_masks`` into exactly the labels we meant (also after packing). Tested with the range below; other
versions get a warning, and the label check still refuses a run whose masks did not survive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

from packaging.version import Version

if TYPE_CHECKING:
    import numpy as np

TESTED_TRL = (Version("1.0"), Version("1.17"))  # [low, high)
DPO_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")


def check_trl_version() -> str:
    import trl

    version = Version(trl.__version__)
    if not (TESTED_TRL[0] <= version < TESTED_TRL[1]):
        warnings.warn(f"tooljudge is tested with trl>={TESTED_TRL[0]},<{TESTED_TRL[1]}; found {version}",
                      stacklevel=2)
    return trl.__version__


def _bf16_available() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()) or (
        hasattr(torch, "xpu") and torch.xpu.is_available())


def native_bf16(use_cpu: bool) -> bool:
    """Whether bf16 autocast runs on native instructions where this run trains.

    On a CPU without avx512_bf16 or AMX, torch emulates bf16: a LoRA matmul measured 30x slower than float32 on
    an AVX2 EPYC (benchmarks/README.md), so a CPU recipe asks for ``bf16: auto`` instead of ``true``.
    """
    import torch

    if not use_cpu and _accelerator_available():
        return _bf16_available()
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def _accelerator_available() -> bool:
    import torch

    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        return bool(accelerator.is_available())
    return bool(torch.cuda.is_available())


def make_trl_config(kind: str, training: dict[str, Any], forced: dict[str, Any] | None = None):
    """``SFTConfig``/``DPOConfig`` from the recipe's ``training`` section plus values tooljudge must set.

    On a machine without an accelerator ``use_cpu`` defaults to true: ``accelerate launch`` starts CPU processes
    through torchrun without telling the Trainer, which then ran each process as a separate single-process
    training on all the data; with ``use_cpu`` they form one data-parallel run over gloo (checked by
    :func:`check_distributed`).
    """
    from tooljudge.train.recipe import trl_config_class

    cls = trl_config_class(kind)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {k: v for k, v in training.items() if k != "resume_from_checkpoint"}
    kwargs.setdefault("report_to", "none")
    if "use_cpu" not in kwargs and not _accelerator_available():
        kwargs["use_cpu"] = True
    if kwargs.get("bf16") == "auto":
        kwargs["bf16"] = native_bf16(bool(kwargs.get("use_cpu")))
    if "bf16" not in kwargs and "fp16" not in kwargs and not _bf16_available():
        # TRL defaults to bf16=True, which transformers refuses on a CPU-only machine: a recipe that leaves the
        # precision unset runs on a GPU in bf16 and on a CPU in float32, unchanged.
        kwargs["bf16"] = False
    for key, value in (forced or {}).items():
        if key in names:
            kwargs[key] = value
    _rename_deprecated(kwargs, cls)
    try:
        return cls(**kwargs)
    except ValueError as err:  # TRL / transformers refuse a setting: the user fixes the recipe
        from tooljudge.train.recipe import RecipeError

        raise RecipeError(f"training: {err}") from err


# Recipe keys that transformers renamed: recipes keep the name users know from TRL and transformers' docs, and the
# seam passes the new name where the installed version has it, so a run does not print a FutureWarning per launch.
RENAMED = {"gradient_checkpointing": "activation_checkpointing",
           "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs"}


def _rename_deprecated(kwargs: dict[str, Any], cls: type) -> None:
    """Move each old key of :data:`RENAMED` to its new name when ``cls`` has it. A key the recipe leaves out gets
    ``cls``'s default for the old name under the new one (TRL defaults ``gradient_checkpointing`` to true, which
    transformers would move, with the warning). Both given and different is a recipe error: transformers would
    silently keep the new one."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for old, new in RENAMED.items():
        if new not in fields or old not in fields:
            continue
        if old not in kwargs:
            default = fields[old].default
            if new not in kwargs and default is not None and default is not dataclasses.MISSING:
                kwargs[new] = default
            continue
        value = kwargs.pop(old)
        if new in kwargs and kwargs[new] != value:
            from tooljudge.train.recipe import RecipeError

            raise RecipeError(f"training: {old}={value!r} and {new}={kwargs[new]!r} disagree ({new} is its new name)")
        kwargs[new] = value


class LaunchError(RuntimeError):
    """Several processes were launched but the Trainer does not train them as one distributed run."""


def launched_world_size() -> int:
    """How many processes the launcher started (torchrun / accelerate launch set ``WORLD_SIZE``)."""
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))


def check_distributed(args) -> dict[str, Any]:
    """World size, backend and device of the run; refuse a launch whose processes would train apart.

    Without this, ``accelerate launch --num_processes 2`` on a CPU machine ran two full single-process
    trainings writing one folder, and a broken multi-GPU setup could do the same.
    """
    from transformers.training_args import ParallelMode

    launched = launched_world_size()
    state = args.distributed_state
    layout = {
        "world_size": int(args.world_size),
        "launched_processes": launched,
        "distributed_type": str(state.distributed_type) if state is not None else "NO",
        "backend": getattr(state, "backend", None) if state is not None else None,
        "device": str(args.device),
        "parallel_mode": str(args.parallel_mode.value if hasattr(args.parallel_mode, "value") else args.parallel_mode),
    }
    if launched > 1 and (args.parallel_mode != ParallelMode.DISTRIBUTED or args.world_size != launched):
        from tooljudge.train.cli import UserError

        raise UserError(
            f"{launched} processes were launched but the trainer runs them as world size {args.world_size} "
            f"({layout['parallel_mode']}, device {layout['device']}): each would train alone on all the data. "
            "On a machine without GPUs leave training.use_cpu unset (or true); on GPUs check that every "
            "process sees its GPU (CUDA_VISIBLE_DEVICES) and that the accelerate config's num_processes "
            "matches them.")
    return layout


# TRL's fused LM head (trl.kernels.chunked_logprob) scores the hidden states in [4,096 tokens x 32,768 vocabulary
# columns] tiles. Without Triton (CPU, MPS) its torch fallback makes about ten float32 copies of a tile: one
# 1,300-token micro-batch of SmolLM2 (vocabulary 49,152) took 1.5 GiB in the head alone, 0.2 GiB with 512 x 4,096
# tiles, the same log-probs and gradients (benchmarks/README.md, "Peak memory of the demo's stages").
CPU_LM_HEAD_TILE = (512, 4096)  # (tokens, vocabulary columns)


def lm_head_tile() -> tuple[int, int] | None:
    """TRL's current LM-head tile (tokens, vocabulary columns); None if this TRL has no such settings."""
    from trl.kernels import chunked_logprob
    from trl.trainer import utils as trl_utils

    tokens = getattr(chunked_logprob, "TOKEN_CHUNK_SIZE", None)
    vocab = getattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE", None)
    return (tokens, vocab) if tokens is not None and vocab is not None else None


def fit_lm_head_tiles(device, tile: tuple[int, int] = CPU_LM_HEAD_TILE) -> tuple[int, int] | None:
    """Shrink TRL's LM-head tiles where its kernel runs as torch ops (no Triton), for the whole process.

    Same values: each token's log-sum-exp is folded online over the vocabulary tiles, so smaller tiles change
    only the order of float additions (``tests/test_memory_lm_head.py`` compares losses and gradients). Where
    TRL's Triton kernel runs (CUDA, XPU) nothing changes: it holds one tile and no copies. Returns the tile in
    force for ``device``, or None where TRL has no such settings (then a warning: more memory, same math).
    """
    import torch
    from trl.kernels import chunked_logprob
    from trl.trainer import utils as trl_utils

    use_triton = getattr(chunked_logprob, "_use_triton", None)
    if use_triton is not None and use_triton(torch.device(device)):
        return lm_head_tile()
    if lm_head_tile() is None:
        warnings.warn("this TRL has no LM-head tile settings (TOKEN_CHUNK_SIZE, _CHUNKED_LOGPROB_CHUNK_SIZE): "
                      "CPU training keeps TRL's tiles and needs more memory", stacklevel=2)
        return None
    chunked_logprob.TOKEN_CHUNK_SIZE, trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = tile
    return tile


def score_labelled_positions_only(device, compiled: bool = False) -> bool:
    """Let TRL's fused LM head score only the positions that carry a label on CPU, as it already does on Triton
    devices. Returns whether it does so on ``device`` (for the whole process, like the tiles).

    Why: without Triton TRL scores every position, prompt and padding included, so that compilers (Neuron's) see
    one tile shape per batch. On CPU in eager mode nothing recompiles, and those positions are most of a batch: 88%
    of the effect preset's SFT positions (tool schemas), 99.8% of its DPO pairs cut to their first differing token.
    Measured on the preset's SFT: 1.07x faster steps, identical losses (the float32 head over ~3,000 positions is
    about 5 of 57 s; ``benchmarks/results/cpu_2026-12-03_lm_head_labelled_only/``). The labelled rows are scored
    as before: the same log-probs and gradients (``tests/test_memory_lm_head.py``). Undone for ``torch_compile``
    (shapes would change per batch); left alone where this TRL lacks the switch (a warning).
    """
    import inspect

    import torch
    from trl.trainer import utils as trl_utils

    current = getattr(trl_utils, "_use_triton", None)
    if compiled and hasattr(current, "trls_own"):  # an earlier eager CPU trainer in this process switched it
        trl_utils._use_triton = current.trls_own
    if torch.device(device).type != "cpu" or compiled:
        return False
    if hasattr(current, "trls_own"):
        return True
    fused = getattr(trl_utils, "add_fused_lm_head", None)
    if current is None or fused is None or "compact = _use_triton(" not in inspect.getsource(fused):
        warnings.warn("this TRL's fused LM head has no compact switch (trl.trainer.utils._use_triton): CPU "
                      "training scores every position, prompt and padding included (slower, same numbers)",
                      stacklevel=2)
        return False

    def compact_on_cpu_too(dev) -> bool:  # read only by add_fused_lm_head's `compact`; the kernel keeps its own
        return current(dev) or dev.type == "cpu"

    compact_on_cpu_too.trls_own = current
    trl_utils._use_triton = compact_on_cpu_too
    return True


def on_cpu(model) -> bool:
    """Whether every parameter and buffer of ``model`` is in CPU memory."""
    import itertools

    return all(t.device.type == "cpu" for t in itertools.chain(model.parameters(), model.buffers()))


def _keep_cpu_weights(trainer_cls):
    """``trainer_cls`` without the copies of a CPU model to the CPU.

    A CPU process launched by torchrun gets ``cpu:<local rank>`` as the Trainer's and accelerate's device, and
    ``tensor.to("cpu:0")`` copies even a CPU tensor: the Trainer (``_move_model_to_device``) and then
    accelerate (``prepare_model``) each duplicated every weight, 0.5 GiB of new pages for SmolLM2-135M while
    the memory-mapped checkpoint pages they read from were still resident: the 2-process launch's peak
    (1.63 GiB per process, benchmarks/README.md). One process (device ``cpu``) never copied. Here both moves
    are skipped where the model is already in CPU memory and the device is a CPU; batches are still moved by
    the Trainer (``_prepare_inputs``).
    """

    class KeepCpuWeights(trainer_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.args.device.type == "cpu" and on_cpu(self.model):
                self.accelerator.device_placement = False  # accelerate's prepare_model: no model.to(device)

        def _move_model_to_device(self, model, device):
            import torch

            if torch.device(device).type == "cpu" and on_cpu(model):
                return
            super()._move_model_to_device(model, device)

    KeepCpuWeights.__name__ = KeepCpuWeights.__qualname__ = trainer_cls.__name__
    return KeepCpuWeights


def frozen_parameter_names(model) -> list[str]:
    return [name for name, param in model.named_parameters() if not param.requires_grad]


def ddp_world_size(trainer) -> int:
    """The trainer's world size when accelerate wraps the model in DistributedDataParallel (``MULTI_CPU``,
    ``MULTI_GPU``, ...), else 1: FSDP and DeepSpeed shard or broadcast weights their own way, and their
    processes may hold no real copy of a frozen weight yet."""
    accelerator = getattr(trainer, "accelerator", None)
    kind = getattr(getattr(accelerator, "distributed_type", None), "name", "")
    return int(trainer.args.world_size) if kind.startswith("MULTI_") else 1


def skip_ddp_sync_of_frozen(model, world_size: int) -> list[str]:
    """Leave the frozen parameters out of DistributedDataParallel (set on the model accelerate wraps).

    At start-up DDP broadcasts rank 0's copy of every parameter, frozen ones included, through 250 MB buffers
    and writes it into the other ranks' weights (+505 MiB per process measured for SmolLM2 with LoRA), and it
    would turn the other ranks' memory-mapped checkpoint pages into private copies. Frozen weights are read from
    the same checkpoint by every rank and never change, so there is nothing to sync; trainable parameters
    (LoRA, ``modules_to_save``) and buffers are still broadcast and their gradients averaged. Returns the names
    left out (none in a one-process run, or with nothing frozen).
    """
    if world_size <= 1:
        return []
    names = frozen_parameter_names(model)
    if names and not frozen_weights_agree(model, names):
        warnings.warn(f"the {len(names)} frozen weights differ between processes (randomly initialised ones?): "
                      "DistributedDataParallel broadcasts them from rank 0 (more memory per process)", stacklevel=2)
        return []
    if names:
        model._ddp_params_and_buffers_to_ignore = names
    return names


def frozen_weights_agree(model, names: list[str]) -> bool:
    """Whether every process holds the same values in the named parameters (checked, not assumed).

    Leaving frozen weights out of DDP's broadcast is only right when every rank loaded the same ones: a weight
    the checkpoint lacks is initialised at random per process, and training would then average LoRA gradients
    of different models. Each rank sums every named parameter in float64 (no copy of the weights) and the sums
    must match exactly across ranks. Without a process group there is nothing to compare with: true.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return True
    params = dict(model.named_parameters())
    # NCCL reduces CUDA tensors only
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    # Every rank must make the same collective calls: a rank that returned alone would leave the others waiting
    # in all_reduce. So whether any rank holds a weight on meta (not loaded: only rank 0's copy is real) is
    # itself agreed first.
    on_meta = torch.tensor([float(any(params[name].device.type == "meta" for name in names))], device=device)
    dist.all_reduce(on_meta, op=dist.ReduceOp.MAX)
    if on_meta.item() > 0:
        return False
    sums = torch.stack([torch.sum(params[name].detach(), dtype=torch.float64) for name in names]).to(device)
    high, low = sums.clone(), sums.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return bool(torch.equal(high, low))


def sft_trainer(model, args, tokenizer, train_dataset, eval_dataset=None, peft_config=None, callbacks=None):
    """TRL's SFTTrainer on rows of ``input_ids`` + ``assistant_masks`` (TRL builds labels from the masks)."""
    from trl import SFTTrainer

    fit_lm_head_tiles(args.device)
    score_labelled_positions_only(args.device, compiled=bool(args.torch_compile))
    trainer = _keep_cpu_weights(SFTTrainer)(
        model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, processing_class=tokenizer,
        peft_config=peft_config, callbacks=callbacks)
    skip_ddp_sync_of_frozen(trainer.model, ddp_world_size(trainer))
    return trainer


def _pretokenized_dpo_class():
    from trl import DPOTrainer

    class PreTokenizedDPOTrainer(_keep_cpu_weights(DPOTrainer)):
        """DPOTrainer that keeps rows already holding ``prompt_ids``/``chosen_ids``/``rejected_ids``.

        TRL would re-tokenise text prompts with ``tokenizer(text)`` (adding a second BOS for Llama) and append
        an EOS to completions (wrong for Llama 3.1's ``<|eom_id|>`` turns); data_prep's rendering is the truth.
        """

        prompt_once = False  # data.prompt_once: each pair's prompt computed once (train/prompt_once.py)

        def _prepare_dataset(self, dataset, *args, **kwargs):
            columns = set(getattr(dataset, "column_names", None) or [])
            if set(DPO_COLUMNS) <= columns:
                return dataset
            return super()._prepare_dataset(dataset, *args, **kwargs)

        def _pair_packing(self):
            if not self.prompt_once:
                return contextlib.nullcontext()
            from tooljudge.train.prompt_once import prompt_once

            unwrap = self.accelerator.unwrap_model
            return prompt_once(unwrap(self.model), None if self.ref_model is None else unwrap(self.ref_model))

        def _compute_loss(self, model, inputs, return_outputs):
            with self._pair_packing():
                return super()._compute_loss(model, inputs, return_outputs)

        def compute_ref_log_probs(self, model, inputs):
            with self._pair_packing():
                return super().compute_ref_log_probs(model, inputs)

    return PreTokenizedDPOTrainer


def dpo_trainer(model, args, tokenizer, train_dataset, eval_dataset=None, ref_model=None, peft_config=None,
                callbacks=None, prompt_once: bool = False):
    """TRL's DPOTrainer on pre-tokenised pairs; ``ref_model`` None means: adapter disabled (LoRA), TRL's frozen
    copy of a loaded adapter, or precomputed reference log-probs (``precompute_ref_log_probs``). ``prompt_once``:
    each pair's prompt computed once (``train/prompt_once.py``; refused at start for kernels without a dense mask)."""
    cls = _pretokenized_dpo_class()
    fit_lm_head_tiles(args.device)
    score_labelled_positions_only(args.device, compiled=bool(args.torch_compile))
    if prompt_once:
        from tooljudge.train.prompt_once import check_kernel

        check_kernel(model)
    if prompt_once:  # a subclass, so that TRL's __init__ (which precomputes reference log-probs) packs too
        cls = type(cls.__name__, (cls,), {"prompt_once": True})
    trainer = cls(model=model, ref_model=ref_model, args=args, train_dataset=train_dataset,
                  eval_dataset=eval_dataset, processing_class=tokenizer, peft_config=peft_config,
                  callbacks=callbacks)
    skip_ddp_sync_of_frozen(trainer.model, ddp_world_size(trainer))
    return trainer


def expected_labels(input_ids: list[int], assistant_masks: list[int]) -> list[int]:
    return [t if m else -100 for t, m in zip(input_ids, assistant_masks, strict=True)]


def _flat(column) -> np.ndarray:
    import numpy as np

    arrays = [np.asarray(row, dtype=np.int64) for row in column]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)


def check_sft_labels(prepared_rows, trainer_dataset, packed: bool) -> dict[str, int]:
    """Refuse a run whose TRL-built labels differ from our masks.

    Every label TRL set must equal its input token, and the multiset of (token, trained?) pairs over the whole
    dataset must be unchanged: this holds row by row unpacked and across rows packed (TRL may shuffle or pack,
    never add, drop or re-mask a token). Vectorised (numpy sort), so it stays cheap on large datasets.
    Returns counts for the run report.
    """
    import numpy as np

    if "labels" not in trainer_dataset.column_names:
        raise RuntimeError("TRL's prepared dataset has no labels column: the assistant masks were not applied")
    ids, masks = _flat(r["input_ids"] for r in prepared_rows), _flat(r["assistant_masks"] for r in prepared_rows)
    if len(ids) != len(masks):
        raise RuntimeError("input_ids and assistant_masks differ in length")
    their_ids, labels = _flat(trainer_dataset["input_ids"]), _flat(trainer_dataset["labels"])
    if len(their_ids) != len(labels):
        raise RuntimeError("TRL's input_ids and labels differ in length")
    trained = labels != -100
    wrong = np.flatnonzero(trained & (labels != their_ids))
    if wrong.size:
        k = wrong[0]
        raise RuntimeError(f"TRL set label {labels[k]} on token {their_ids[k]}: labels are not input_ids under "
                           "the mask")
    ours = np.sort(ids * 2 + (masks != 0))
    theirs = np.sort(their_ids * 2 + trained)
    if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
        raise RuntimeError(f"the trained-token mask did not survive TRL's dataset preparation "
                           f"({'packed' if packed else 'unpacked'}): {len(ours)} (token, mask) pairs prepared, "
                           f"{len(theirs)} in TRL's dataset, {int(np.sum(ours[: len(theirs)] != theirs[: len(ours)]))} "
                           "differ after sorting")
    return {"tokens": int(len(ids)), "trained_tokens": int((masks != 0).sum())}

"""The one thin seam between tooljudge and TRL's API (alignment-handbook broke on every TRL rename).

Everything that depends on TRL internals lives here: building the config object, constructing the trainers,
feeding pre-tokenised DPO rows past TRL's own tokenisation, and checking that TRL turned our
``assistant_masks`` into exactly the labels we meant (also after packing). Tested with the range below; other
versions get a warning, and the label check still refuses a run whose masks did not survive.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from typing import Any

from packaging.version import Version

TESTED_TRL = (Version("1.0"), Version("1.17"))  # [low, high)
DPO_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids")


def check_trl_version() -> str:
    import trl

    version = Version(trl.__version__)
    if not (TESTED_TRL[0] <= version < TESTED_TRL[1]):
        warnings.warn(f"tooljudge is tested with trl>={TESTED_TRL[0]},<{TESTED_TRL[1]}; found {version}",
                      stacklevel=2)
    return trl.__version__


def make_trl_config(kind: str, training: dict[str, Any], forced: dict[str, Any] | None = None):
    """``SFTConfig``/``DPOConfig`` from the recipe's ``training`` section plus values tooljudge must set."""
    from tooljudge.train.recipe import trl_config_class

    cls = trl_config_class(kind)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {k: v for k, v in training.items() if k != "resume_from_checkpoint"}
    kwargs.setdefault("report_to", "none")
    for key, value in (forced or {}).items():
        if key in names:
            kwargs[key] = value
    return cls(**kwargs)


def sft_trainer(model, args, tokenizer, train_dataset, eval_dataset=None, peft_config=None, callbacks=None):
    """TRL's SFTTrainer on rows of ``input_ids`` + ``assistant_masks`` (TRL builds labels from the masks)."""
    from trl import SFTTrainer

    return SFTTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def _pretokenized_dpo_class():
    from trl import DPOTrainer

    class PreTokenizedDPOTrainer(DPOTrainer):
        """DPOTrainer that keeps rows already holding ``prompt_ids``/``chosen_ids``/``rejected_ids``.

        TRL would re-tokenise text prompts with ``tokenizer(text)`` (adding a second BOS for Llama) and append
        an EOS to completions (wrong for Llama 3.1's ``<|eom_id|>`` turns); data_prep's rendering is the truth.
        """

        def _prepare_dataset(self, dataset, *args, **kwargs):
            columns = set(getattr(dataset, "column_names", None) or [])
            if set(DPO_COLUMNS) <= columns:
                return dataset
            return super()._prepare_dataset(dataset, *args, **kwargs)

    return PreTokenizedDPOTrainer


def dpo_trainer(model, args, tokenizer, train_dataset, eval_dataset=None, ref_model=None, peft_config=None,
                callbacks=None):
    """TRL's DPOTrainer on pre-tokenised pairs; ``ref_model`` None means: adapter disabled (LoRA), TRL's frozen
    copy of a loaded adapter, or precomputed reference log-probs (``precompute_ref_log_probs``)."""
    cls = _pretokenized_dpo_class()
    return cls(model=model, ref_model=ref_model, args=args, train_dataset=train_dataset,
               eval_dataset=eval_dataset, processing_class=tokenizer, peft_config=peft_config,
               callbacks=callbacks)


def expected_labels(input_ids: list[int], assistant_masks: list[int]) -> list[int]:
    return [t if m else -100 for t, m in zip(input_ids, assistant_masks, strict=True)]


def check_sft_labels(prepared_rows, trainer_dataset, packed: bool) -> dict[str, int]:
    """Refuse a run whose TRL-built labels differ from our masks.

    Unpacked: row by row, after sorting both sides (TRL may shuffle) by their ids. Packed: the multiset of
    (token, trained?) pairs over the whole dataset must be unchanged, and no label may be set on a token
    our mask left untrained. Returns counts for the run report.
    """
    ours = Counter()
    for row in prepared_rows:
        for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True):
            ours[(t, bool(m))] += 1
    theirs = Counter()
    for row in trainer_dataset:
        if "labels" not in row:
            raise RuntimeError("TRL's prepared dataset has no labels column: the assistant masks were not applied")
        for t, label in zip(row["input_ids"], row["labels"], strict=True):
            if label != -100 and label != t:
                raise RuntimeError(f"TRL set label {label} on token {t}: labels are not input_ids under the mask")
            theirs[(t, label != -100)] += 1
    if ours != theirs:
        missing = sum((ours - theirs).values())
        extra = sum((theirs - ours).values())
        raise RuntimeError(f"the trained-token mask did not survive TRL's dataset preparation "
                           f"({'packed' if packed else 'unpacked'}): {missing} (token, mask) pairs lost, "
                           f"{extra} gained")
    return {"tokens": sum(ours.values()), "trained_tokens": sum(v for (t, m), v in ours.items() if m)}

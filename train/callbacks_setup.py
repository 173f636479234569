"""TrainerCallbacks a recipe asks for: the eval hook and extra ``module:Class`` callbacks.

Why a loader by import path: users (and tests, e.g. one that SIGKILLs its own run mid-way) add callbacks to
``accelerate launch train/sft.py`` runs without editing the scripts.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any


def import_object(spec: str) -> Any:
    """``package.module:Name`` -> the object."""
    if ":" not in spec:
        raise ValueError(f"callbacks: {spec!r} must be 'module:ClassName'")
    module_name, attr = spec.split(":", 1)
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ValueError(f"callbacks: {module_name} has no {attr!r}") from err


def eval_hook_callback(config, tokenizer) -> Any | None:
    """``tooljudge.eval.hook.EvalHookCallback`` configured from the recipe's ``eval`` section, or None when
    the section is off."""
    section = config.eval
    if not section.enabled:
        return None
    from tooljudge.eval.hook import EvalHookCallback

    settings = {
        "sets": list(section.sets),
        "every_n_steps": section.every_n_steps,
        "at_end": section.at_end,
        "max_examples": section.max_examples,
        "max_new_tokens": section.max_new_tokens,
        "output_dir": str(config.output_dir),
        **section.options,
    }
    # The hook checks the settings itself (unknown keys are its error, naming them).
    return EvalHookCallback(tokenizer=tokenizer, family=config.data.family, config=settings)


def saved_weights_callback() -> Any:
    """A callback that opens each checkpoint's weights to the usual file mode once saved
    (``tooljudge.file_modes``: safetensors writes them 0600)."""
    import os

    from transformers import TrainerCallback

    from tooljudge.file_modes import open_saved_weights

    class OpenSavedWeights(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                open_saved_weights(os.path.join(args.output_dir, f"checkpoint-{state.global_step}"))

    return OpenSavedWeights()


def build_callbacks(config, tokenizer) -> list[Any]:
    """All callbacks for the run: the eval hook first, the recipe's own, then the checkpoint-mode one."""
    out = []
    hook = eval_hook_callback(config, tokenizer)
    if hook is not None:
        out.append(hook)
    for spec in config.callbacks:
        obj = import_object(spec)
        out.append(obj() if inspect.isclass(obj) else obj)
    out.append(saved_weights_callback())
    return out

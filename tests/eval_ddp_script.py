"""Run by tests/test_eval_hook.py::test_hook_under_ddp with torchrun (2 CPU processes, gloo)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tooljudge.eval.hook import EvalHookCallback
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Trainer,
    TrainingArguments,
)


def main(model_dir: str, eval_file: str, out: str) -> None:
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    rows = [{"input_ids": tok(f"hello {i}")["input_ids"], "labels": tok(f"hello {i}")["input_ids"]} for i in range(8)]
    hook = EvalHookCallback(tokenizer=tok, family="qwen25", sets=[eval_file], every_n_steps=1, max_new_tokens=4,
                            max_examples=None)
    args = TrainingArguments(output_dir=out, max_steps=2, per_device_train_batch_size=2, report_to=[],
                             use_cpu=True, ddp_backend="gloo", save_strategy="no", disable_tqdm=True,
                             logging_steps=1)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=DataCollatorForSeq2Seq(tok),
                      callbacks=[hook])
    trainer.train()
    rank = trainer.args.process_index
    logged = [h["step"] for h in trainer.state.log_history if "fc/overall/ast_accuracy" in h]
    Path(out, f"rank{rank}.json").write_text(json.dumps({"world": trainer.args.world_size, "logged": logged,
                                                         "evaluated": sorted(hook.results)}))


if __name__ == "__main__":
    main(*sys.argv[1:4])

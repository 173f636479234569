#!/bin/bash
# issue 23 item 5 CPU run: the two arms side by side at one thread each (two threads in all, as one 2-thread job),
# SFT then eval; then the base model on the unseen-tool set at two threads. Each job timed by /usr/bin/time -v.
set -x
cd /work/main
O=runs/tool_world_compare
PY=.venv/bin/python
SETS=/work/main/$O/unseen_tools.jsonl,bfcl_simple,bfcl_multiple,bfcl_irrelevance
arm_job() {
  arm=$1
  date -u
  /usr/bin/time -v env OMP_NUM_THREADS=1 $PY train/sft.py $O/$arm/recipe.yaml --training.max_steps 12 > $O/logs/sft_$arm.log 2>&1 || return 1
  date -u
  /usr/bin/time -v env OMP_NUM_THREADS=1 $PY eval/run.py --model $O/$arm/sft --sets $SETS --family qwen25 --output_dir $O/$arm/eval --max_examples 20 --max_new_tokens 128 > $O/logs/eval_$arm.log 2>&1 || return 1
  date -u
}
arm_job builtin > $O/logs/job_builtin.log 2>&1 &
arm_job world > $O/logs/job_world.log 2>&1 &
wait
$PY benchmarks/tool_world_sft_compare.py compare --out $O > $O/logs/compare.log 2>&1
date -u
BASE=$($PY -c 'from tooljudge.models import smollm2_checkpoint; print(smollm2_checkpoint())')
/usr/bin/time -v env OMP_NUM_THREADS=2 $PY eval/run.py --model "$BASE" --sets /work/main/$O/unseen_tools.jsonl --family qwen25 --output_dir $O/base/eval --max_examples 20 --max_new_tokens 128 > $O/logs/eval_base.log 2>&1
$PY benchmarks/tool_world_sft_compare.py compare --out $O > $O/logs/compare_with_base.log 2>&1
date -u

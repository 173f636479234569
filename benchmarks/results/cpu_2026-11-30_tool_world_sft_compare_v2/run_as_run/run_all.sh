#!/bin/bash
# Both arms side by side at one thread each: SFT then eval per arm; the base model on the unseen-tool set after
# the builtin arm's eval (so two threads stay busy while the world arm finishes).
cd /work/main
D=runs/tool_world_compare_v2
STEPS=${STEPS:-240}
N=${NEVAL:-50}
PY=/work/main/.venv/bin/python
SETS=$(realpath $D/unseen_tools.jsonl),bfcl_simple,bfcl_multiple,bfcl_irrelevance
stamp() { { date -u +%FT%TZ; git rev-parse HEAD; git status --short -- train/ data_prep/ tooljudge/ eval/; } > $D/logs/$1.launch; }
arm() {
  local A=$1
  stamp sft_$A
  OMP_NUM_THREADS=1 /usr/bin/time -v $PY train/sft.py $D/$A/recipe.yaml --training.max_steps $STEPS > $D/logs/sft_$A.log 2>&1 || { echo "sft $A failed" >> $D/logs/status; return 1; }
  echo "sft $A done $(date -u +%T)" >> $D/logs/status
  stamp eval_$A
  OMP_NUM_THREADS=1 /usr/bin/time -v $PY eval/run.py --model $D/$A/sft --sets $SETS --family qwen25 --output_dir $D/$A/eval --max_examples $N --max_new_tokens 128 > $D/logs/eval_$A.log 2>&1 || { echo "eval $A failed" >> $D/logs/status; return 1; }
  echo "eval $A done $(date -u +%T)" >> $D/logs/status
}
base() {
  stamp eval_base
  BASE=$($PY -c 'from tooljudge.models import smollm2_checkpoint; print(smollm2_checkpoint())')
  OMP_NUM_THREADS=1 /usr/bin/time -v $PY eval/run.py --model "$BASE" --sets $(realpath $D/unseen_tools.jsonl) --family qwen25 --output_dir $D/base/eval --max_examples $N --max_new_tokens 128 > $D/logs/eval_base.log 2>&1 || { echo "eval base failed" >> $D/logs/status; return 1; }
  echo "eval base done $(date -u +%T)" >> $D/logs/status
}
echo "start $(date -u +%T) steps=$STEPS neval=$N" >> $D/logs/status
( arm builtin; base ) &
( arm world ) &
wait
echo "all done $(date -u +%T)" >> $D/logs/status

#!/bin/bash
# Eval phase (replaces run_all.sh's, which was stopped after the SFT launch so that the eval size can be chosen
# when each SFT ends, from $D/neval): per arm, wait for its SFT process (pid given), check /usr/bin/time's exit
# status, then eval its model; the base model on the unseen-tool set after the builtin arm's eval.
cd /work/main
D=runs/tool_world_compare_v2
PY=/work/main/.venv/bin/python
SETS=$(realpath $D/unseen_tools.jsonl),bfcl_simple,bfcl_multiple,bfcl_irrelevance
stamp() { { date -u +%FT%TZ; git rev-parse HEAD; git status --short -- train/ data_prep/ tooljudge/ eval/; } > $D/logs/$1.launch; }
waitpid() { while kill -0 $1 2>/dev/null; do sleep 20; done; }
evalarm() {
  local A=$1 PID=$2
  waitpid $PID
  grep -q "Exit status: 0" $D/logs/sft_$A.log || { echo "sft $A failed $(date -u +%T)" >> $D/logs/status; return 1; }
  echo "sft $A done $(date -u +%T)" >> $D/logs/status
  local N=$(cat $D/neval); stamp eval_$A; echo "eval $A start n=$N $(date -u +%T)" >> $D/logs/status
  OMP_NUM_THREADS=1 /usr/bin/time -v $PY eval/run.py --model $D/$A/sft --sets $SETS --family qwen25 --output_dir $D/$A/eval --max_examples $N --max_new_tokens 128 > $D/logs/eval_$A.log 2>&1 || { echo "eval $A failed" >> $D/logs/status; return 1; }
  echo "eval $A done $(date -u +%T)" >> $D/logs/status
}
base() {
  local N=$(cat $D/neval); stamp eval_base; echo "eval base start n=$N $(date -u +%T)" >> $D/logs/status
  BASE=$($PY -c 'from tooljudge.models import smollm2_checkpoint; print(smollm2_checkpoint())')
  OMP_NUM_THREADS=1 /usr/bin/time -v $PY eval/run.py --model "$BASE" --sets $(realpath $D/unseen_tools.jsonl) --family qwen25 --output_dir $D/base/eval --max_examples $N --max_new_tokens 128 > $D/logs/eval_base.log 2>&1 || { echo "eval base failed" >> $D/logs/status; return 1; }
  echo "eval base done $(date -u +%T)" >> $D/logs/status
}
( evalarm builtin $1; [ -e $D/skip_base ] || base ) &
( evalarm world $2 ) &
wait
echo "all done $(date -u +%T)" >> $D/logs/status

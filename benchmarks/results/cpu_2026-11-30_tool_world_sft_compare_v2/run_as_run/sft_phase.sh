#!/bin/bash
# SFT phase: both arms side by side at one thread each; eval_phase.sh waits on these and runs the evals.
cd /work/main
D=runs/tool_world_compare_v2
STEPS=$1
PY=/work/main/.venv/bin/python
stamp() { { date -u +%FT%TZ; git rev-parse HEAD; git status --short -- train/ data_prep/ tooljudge/ eval/; } > $D/logs/$1.launch; }
for A in builtin world; do
  stamp sft_$A
  OMP_NUM_THREADS=1 setsid /usr/bin/time -v $PY train/sft.py $D/$A/recipe.yaml --training.max_steps $STEPS > $D/logs/sft_$A.log 2>&1 < /dev/null &
  echo $! > $D/logs/sft_$A.pid
done
echo "sft start $(date -u +%T) steps=$STEPS" >> $D/logs/status

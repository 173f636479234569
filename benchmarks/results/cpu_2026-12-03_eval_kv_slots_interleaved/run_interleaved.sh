#!/bin/bash
# ABBA order per configuration (rows batch): 3 runs per arm; token ids compared arm against arm afterwards.
set -e
HERE=benchmarks/results/cpu_2026-12-03_eval_kv_slots_interleaved
OLD=/tmp/kvprobe/backends_old.py
NEW=tooljudge/core/backends.py
for cfg in "40 8" "32 32"; do
  set -- $cfg
  i=0
  for arm in old new new old old new; do
    i=$((i+1))
    if [ $arm = old ]; then f=$OLD; else f=$NEW; fi
    .venv/bin/python $HERE/interleaved_probe.py $f $1 $2 80 /tmp/kvprobe/tokens_${arm}_${1}_${2}_$i.json
  done
done

#!/bin/bash
HERE=benchmarks/results/cpu_2026-12-03_eval_kv_slots_interleaved
i=0
for arm in new old old new new old old new; do
  i=$((i+1))
  if [ $arm = old ]; then f=/tmp/kvprobe/backends_old.py; else f=tooljudge/core/backends.py; fi
  .venv/bin/python $HERE/interleaved_probe.py $f 40 8 80 /tmp/kvprobe/tokens2_${arm}_40_8_$i.json
done

#!/usr/bin/env bash
# TOOLJUDGE_CPU_HEAP default vs keep on the demo's DPO recipe (3 steps from an SFT adapter of ab_heap.sh), with the
# code of the commit that made THP the default (import tooljudge sets it). Alternating default keep default keep.
#   bash benchmarks/results/cpu_2026-12-01_thp/ab_dpo.sh /tmp/thp_heap/run1 /tmp/dpo_ab
set -u
adapter=$1; out=${2:-/tmp/dpo_ab}; mkdir -p "$out"; i=0
for v in default keep default keep; do
  i=$((i + 1))
  echo "run $i TOOLJUDGE_CPU_HEAP=$v load=$(cut -d' ' -f1 /proc/loadavg) $(date -u +%H:%M:%S)"
  env -u THP_MEM_ALLOC_ENABLE TOOLJUDGE_CPU_HEAP=$v /usr/bin/time -v .venv/bin/python train/dpo.py \
      recipes/smollm2_demo_dpo.yaml --model.init_from "$adapter" --training.max_steps 3 \
      --training.save_strategy no --training.logging_steps 1 --training.output_dir "$out/run$i" > "$out/run${i}_$v.log" 2>&1
  grep -o "CPU memory: .*\|'train_runtime': '[0-9.]*'" "$out/run${i}_$v.log" | tail -2
  grep -E "User time|System time|Maximum resident|Minor \(reclaiming|Elapsed" "$out/run${i}_$v.log"
done

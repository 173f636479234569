#!/usr/bin/env bash
# The heap settings applied from inside the process (mallopt at train start, tooljudge.train.cpu_heap), without
# and with malloc_trim(0) after every step; THP_MEM_ALLOC_ENABLE=1 in both. Same 3 demo SFT steps.
#   bash benchmarks/results/cpu_2026-12-01_thp/ab_heap.sh /tmp/thp_heap "heap heaptrim"
set -u
out=${1:-/tmp/thp_heap}; order=${2:-"heap heaptrim"}; mkdir -p "$out"; i=0
for v in $order; do
  i=$((i + 1)); trim=0; [ "$v" = heaptrim ] && trim=1
  echo "run $i $v load=$(cut -d' ' -f1 /proc/loadavg) $(date -u +%H:%M:%S)"
  env THP_MEM_ALLOC_ENABLE=1 TOOLJUDGE_TRIM_EACH_STEP=$trim /usr/bin/time -v .venv/bin/python train/sft.py \
      benchmarks/results/cpu_2026-12-01_thp/demo_sft_keep_heap.yaml --training.max_steps 3 \
      --training.save_strategy no --training.logging_steps 1 --training.output_dir "$out/run$i" > "$out/run${i}_$v.log" 2>&1
  grep -o "keep_heap_blocks: [A-Za-z]*\|'train_runtime': '[0-9.]*'" "$out/run${i}_$v.log" | tail -2
  grep -E "User time|System time|Maximum resident|Minor \(reclaiming|Elapsed" "$out/run${i}_$v.log"
done

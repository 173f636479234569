#!/usr/bin/env bash
# A/B of PyTorch's THP_MEM_ALLOC_ENABLE on the demo's SFT recipe: the same 3 LoRA steps, alternating 0 1 0 1,
# each under /usr/bin/time -v, with the 1-minute load average before each run. Run from the repository root:
#   bash benchmarks/results/cpu_2026-12-01_thp/ab_sft.sh /tmp/thp_ab
set -u
out=${1:-/tmp/thp_ab}; mkdir -p "$out"
for i in 1 2 3 4; do
  thp=$(( (i + 1) % 2 ))          # 0 1 0 1
  echo "run $i THP_MEM_ALLOC_ENABLE=$thp load=$(cut -d' ' -f1 /proc/loadavg) $(date -u +%H:%M:%S)"
  THP_MEM_ALLOC_ENABLE=$thp /usr/bin/time -v .venv/bin/python train/sft.py recipes/smollm2_demo.yaml \
      --training.max_steps 3 --training.save_strategy no --training.logging_steps 1 \
      --training.output_dir "$out/run$i" > "$out/run${i}_thp${thp}.log" 2>&1
  grep -o "'train_runtime': '[0-9.]*'\|'train_runtime': [0-9.]*" "$out/run${i}_thp${thp}.log" | tail -1
  grep -E "User time|System time|Maximum resident|Minor \(reclaiming|Elapsed" "$out/run${i}_thp${thp}.log"
done

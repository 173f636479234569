#!/bin/bash
# GPU lease, call 2 (benchmarks/device/README.md; issue 18 item 6): after train_configs.sh (call 1) on the same
# warm machine. Rebuilds the bundled GGUF from part A (kept by call 1) and part B (carried), then:
#   0. with BASE_MT=1 only, from the start, beside the training: the base model on BFCL multi_turn_base, all 200
#      rows (off by default: beside other jobs it saturated an H200 and starved them, results/h200_2026-11-30_lease_bundle);
#   1. SFT with the shipped recipes/smollm2_effect_sft.yaml (2,000 executed synthetic rows, LoRA, 125 steps);
#   2. DPO with the shipped recipes/smollm2_effect_dpo.yaml continuing that adapter, on its rule-made pairs
#      (the standalone DPO stage; the rounds recipe's on-policy pairs would add ~2 min of sampling);
#   3. on the DPO model, in parallel: BFCL non-live simple, multiple, parallel, parallel_multiple and irrelevance
#      (all 1,240 rows), BFCL multi_turn_base on all 200 rows (cut at MT_TIMEOUT_S), and a seeded subsample of
#      MT_SUB_N rows as the fallback when the 200 do not finish;
#   4. every verdict (fc_examples.jsonl, mt_examples.jsonl), metrics, run files and logs into
#      $OUT/bfcl_after_dpo.tar.xz, the tables into $OUT/summary.md.
#   carry: .gpu/dev/b
# Knobs: MT_TIMEOUT_S (every eval is cut then; default: what is left of DEADLINE_S=540 after DPO, less 25 s), MT_SUB_N (50),
# MT_BATCH (32), MAX_NEW_TOKENS (160, as bfcl_transfer_call2.sh), EVAL_THREADS (5: torch threads per eval process),
# BASE_MT (0). --dry_run prints the commands only.
set -o pipefail
DRY=0; [ "${1:-}" = "--dry_run" ] && DRY=1
run() { echo "+ $*"; [ $DRY = 1 ] || eval "$@"; }
OUT=${OUT:-/tmp/out}; R=/tmp/r; T0=$(date +%s); DEADLINE_S=${DEADLINE_S:-540}
stamp() { echo "[time] $1 $(date -u +%T) $(( $(date +%s) - T0 )) s" | tee -a $OUT/timings.txt; }
mkdir -p $OUT
. benchmarks/device/bundled_env.sh
run "mkdir -p $R"
stamp start
if [ "${BASE_MT:-0}" = 1 ]; then
  run "OMP_NUM_THREADS=2 timeout $(( DEADLINE_S - 25 )) python3 benchmarks/bfcl_multi_turn.py --model bundled:smollm2 --categories multi_turn_base --batch_size ${MT_BATCH:-32} --output_dir $R/mt_base_all > $R/mt_base_all.log 2>&1 &"
fi
run "python3 train/sft.py recipes/smollm2_effect_sft.yaml --output_dir $R/sft 2>&1 | grep -v -E 'it/s\]|s/it\]' | tee $OUT/sft.log | grep -E 'tooljudge|train_runtime|rror' | tail -12" || exit 24
stamp sft
run "python3 train/dpo.py recipes/smollm2_effect_dpo.yaml --model.init_from $R/sft --output_dir $R/dpo 2>&1 | grep -v -E 'it/s\]|s/it\]' | tee $OUT/dpo.log | grep -E 'tooljudge|train_runtime|rror' | tail -12" || exit 25
stamp dpo
LEFT=$(( DEADLINE_S - ($(date +%s) - T0) - 25 )); MT_TIMEOUT_S=${MT_TIMEOUT_S:-$LEFT}
S=bfcl_simple,bfcl_multiple,bfcl_parallel,bfcl_parallel_multiple,bfcl_irrelevance
run "OMP_NUM_THREADS=${EVAL_THREADS:-5} timeout $MT_TIMEOUT_S python3 eval/run.py --model $R/dpo --tasks function_calls --sets $S --max_examples 100000 --max_new_tokens ${MAX_NEW_TOKENS:-160} --batch_size 64 --family qwen25 --output_dir $R/nonlive > $R/nonlive.log 2>&1 &"
run "OMP_NUM_THREADS=${EVAL_THREADS:-5} timeout $MT_TIMEOUT_S python3 benchmarks/bfcl_multi_turn.py --model $R/dpo --categories multi_turn_base --batch_size ${MT_BATCH:-32} --output_dir $R/mt_all > $R/mt_all.log 2>&1 &"
run "OMP_NUM_THREADS=${EVAL_THREADS:-5} timeout $MT_TIMEOUT_S python3 benchmarks/bfcl_multi_turn.py --model $R/dpo --categories multi_turn_base --max_examples ${MT_SUB_N:-50} --seed 0 --batch_size ${MT_BATCH:-32} --output_dir $R/mt_sub > $R/mt_sub.log 2>&1 &"
run "wait"
stamp evals
{
  echo "# BFCL after the shipped SFT then DPO (bundled SmolLM2-135M-Instruct), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)"
  echo; echo "## non-live (all rows)"; [ -f $R/nonlive/eval_results.json ] || echo "not finished within $MT_TIMEOUT_S s"
  grep -v -E "it/s\]|s/it\]" $R/nonlive.log | tail -15
  for m in mt_all mt_sub mt_base_all; do echo; echo "## $m"; if [ -f $R/$m/mt_metrics.json ]; then tail -8 $R/$m.log; else echo "not finished within $MT_TIMEOUT_S s"; fi; done
  echo; cat $OUT/timings.txt
} > $OUT/summary.md 2>&1
[ $DRY = 1 ] || cat $OUT/summary.md
run "tar cJf $OUT/bfcl_after_dpo.tar.xz --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='tokenizer.json' --exclude='optimizer*' --exclude='init_merged' -C /tmp r"
run "rm -f $OUT/timings.txt; ls -la $OUT"
stamp end

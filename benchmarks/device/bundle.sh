#!/bin/bash
# GPU lease, call 2 (benchmarks/device/README.md), after train_configs.sh (call 1) on the same warm machine: every
# pipeline that needs the bundled SmolLM2 at once on the one GPU, each cut at DEADLINE_S (default 490 s) from
# the start of this script. A 135M model leaves an H200 mostly idle (each process is bound by Python and kernel
# launches), so running them side by side costs each little; GPU memory and load are sampled every 5 s.
#   1. issue 22 item 2: benchmarks/effect.py --recipe recipes/effect_gpu.yaml --jobs 3 (three seeds at once);
#   2. issue 22 item 3: benchmarks/judge_effect.py --recipe recipes/judge_effect_gpu.yaml;
#   3. issue 18 item 6: bfcl_after_dpo.sh (base multi-turn from the start; SFT, DPO, then BFCL on the DPO model).
# Returns bundle.tar.xz (both results folders, every stage's eval files and logs, no weights), bundle.log and
# bfcl_after_dpo.sh's own files (summary.md, sft.log, dpo.log, bfcl_after_dpo.tar.xz).
#   carry: .gpu/dev/b
set -o pipefail
DRY=0; [ "${1:-}" = "--dry_run" ] && DRY=1
run() { echo "+ $*"; [ $DRY = 1 ] || eval "$@"; }
OUT=${OUT:-/tmp/out}; T0=$(date +%s); DEADLINE_S=${DEADLINE_S:-490}; B=/tmp/bundle
left() { echo $(( DEADLINE_S - ($(date +%s) - T0) )); }
mkdir -p $OUT $B
exec > >(tee $OUT/bundle.log) 2>&1
date -u
. benchmarks/device/bundled_env.sh
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | grep -o -i -E 'h100|h200|a100|l40s' | tr A-Z a-z)
RUN=${GPU:-gpu}_$(date -u +%F)
run "python3 -c 'from tooljudge.models import smollm2_checkpoint; print(smollm2_checkpoint())'" || exit 31  # once, before the jobs share it
run "(while true; do nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu --format=csv,noheader; sleep 5; done) > $B/gpu_every_5s.csv 2>&1 &"
SAMPLER=$!
run "OMP_NUM_THREADS=2 timeout \$(left) python3 benchmarks/effect.py --recipe recipes/effect_gpu.yaml --run ${RUN}_effect --runs_dir $B/effect_runs --jobs 3 > $B/effect.log 2>&1 &"
P1=$!
run "OMP_NUM_THREADS=2 timeout \$(left) python3 benchmarks/judge_effect.py --recipe recipes/judge_effect_gpu.yaml --out_dir benchmarks/results/${RUN}_judge_effect --work_dir $B/judge_work > $B/judge_effect.log 2>&1 &"
P2=$!
run "DEADLINE_S=\$(left) EVAL_THREADS=2 bash benchmarks/device/bfcl_after_dpo.sh > $B/bfcl_after_dpo.log 2>&1 &"
P3=$!
[ $DRY = 1 ] || { wait $P1; echo "effect exit $?"; wait $P2; echo "judge_effect exit $?"; wait $P3; echo "bfcl_after_dpo exit $?"; }
date -u; echo "[time] jobs done $(( $(date +%s) - T0 )) s"
[ $DRY = 1 ] || kill $SAMPLER
for f in effect judge_effect; do echo "== $f (last lines)"; [ $DRY = 1 ] || grep -v -E 'it/s\]|s/it\]' $B/$f.log | tail -25; done
run "tar cJf $OUT/bundle.tar.xz --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='*.arrow' --exclude='tokenizer.json' --exclude='optimizer*' --exclude='init_merged' benchmarks/results/${RUN}_effect benchmarks/results/${RUN}_judge_effect $B"
run "ls -la $OUT"
echo "[time] end $(( $(date +%s) - T0 )) s"

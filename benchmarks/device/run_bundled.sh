#!/bin/bash
# GPU lease, call 2 for any pipeline that needs the bundled SmolLM2 (after train_configs.sh CONFIGS=none, or a
# full call 1, on the same warm machine): rebuild the GGUF, then run the command given, its output also in
# $OUT/run.log. Copy what should come back into $OUT (at most 8 files) inside the command. Example:
#   bash benchmarks/device/run_bundled.sh 'python3 benchmarks/effect.py --recipe recipes/effect_gpu.yaml --run h200_effect && tar cJf $OUT/effect.tar.xz benchmarks/results/h200_effect'
#   carry: .gpu/dev/b
set -o pipefail
DRY=0; [ "${1:-}" = "--dry_run" ] && { DRY=1; shift; }
run() { echo "+ $*"; [ $DRY = 1 ] || eval "$@"; }
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
[ $# -ge 1 ] || { echo "usage: run_bundled.sh [--dry_run] 'COMMAND'"; exit 2; }
. benchmarks/device/bundled_env.sh
date -u
run "( $* ) 2>&1 | grep --line-buffered -v -E 'it/s\]|s/it\]' | tee $OUT/run.log"
rc=$?
date -u
exit $rc

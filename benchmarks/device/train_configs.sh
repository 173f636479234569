#!/bin/bash
# GPU lease, call 1 (benchmarks/device/README.md): install the carried wheels and tooljudge, keep the bundled
# GGUF's part A for bfcl_after_dpo.sh (call 2, which must follow while this machine is warm), then measure SFT
# under DDP, FSDP and ZeRO-3, QLoRA 4-bit SFT and DPO, each beside TRL's defaults on the same rows
# (benchmarks/train_configs.py; a random-init 0.52B Llama over SmolLM2's tokenizer: speed and memory only).
#   carry: .gpu/whl .gpu/cfg .gpu/dev/a          (built by benchmarks/device/prepare_carry.sh; 58 MiB)
# Knobs (environment): CONFIGS (default ddp,fsdp,zero3,qlora,dpo; "none": install only), PRESET (0.5b | 1b),
# BUDGET_S (seconds for all runs, default 420), STEPS (default 20). --dry_run prints the commands only.
set -o pipefail
DRY=0; [ "${1:-}" = "--dry_run" ] && DRY=1
run() { echo "+ $*"; [ $DRY = 1 ] || eval "$@"; }
OUT=${OUT:-/tmp/out}; CONFIGS=${CONFIGS:-ddp,fsdp,zero3,qlora,dpo}
date -u
run "mkdir -p /root/stash $OUT && cp .gpu/dev/a/gguf.a /root/stash/gguf.a" || exit 11
run "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl" || exit 12
# DeepSpeed / bitsandbytes and their needs: a failure here only skips ZeRO-3 / QLoRA (train_configs.py says why)
run "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/cfg/whl/*.whl" || echo "WARNING: the DeepSpeed / bitsandbytes wheels did not install"
run "PYTHONPATH=/tmp/site python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --target /tmp/tj ." || exit 13
# BNB_CUDA_VERSION: the slimmed bitsandbytes carries only its CUDA 13.0 library (the image's torch is a CUDA 13 build)
run "cat > /root/env.sh <<'EOS'
export PYTHONPATH=/tmp/tj:/tmp/site PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TOOLJUDGE_CACHE=/root/tjcache HF_HUB_OFFLINE=1 BNB_CUDA_VERSION=130
EOS"
[ $DRY = 1 ] || . /root/env.sh
run "tar xJf .gpu/cfg/tokenizer.tar.xz -C /tmp" || exit 14
run "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader"
run "python3 -c 'import sys,torch,transformers,trl,peft,datasets,accelerate,tooljudge; print(sys.version.split()[0], {m.__name__: m.__version__ for m in (torch,transformers,trl,peft,datasets,accelerate)}, torch.version.cuda, torch.cuda.device_count(), torch.cuda.get_device_name(0))'" || exit 15
run "python3 -c 'import deepspeed; print(\"deepspeed\", deepspeed.__version__)'; python3 -c 'import bitsandbytes; print(\"bitsandbytes\", bitsandbytes.__version__)'"
[ "$CONFIGS" = none ] && { date -u; exit 0; }
run "python3 benchmarks/train_configs.py --preset ${PRESET:-0.5b} --tokenizer /tmp/tokenizer --configs $CONFIGS --steps ${STEPS:-20} --budget_s ${BUDGET_S:-420} --run_timeout_s ${RUN_TIMEOUT_S:-120} --work_dir /tmp/train_configs --json $OUT/train_configs.json 2>&1 | grep -v -E 'it/s\]|s/it\]' | tee $OUT/train_configs.log"
run "nvidia-smi --query-gpu=memory.used --format=csv,noheader"
date -u

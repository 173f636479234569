#!/bin/bash
# Build, on a machine with PyPI (not the GPU machine), the ignored folders that the GPU calls carry
# (benchmarks/device/README.md). Idempotent; prints each folder's size against the 64 MiB per-call limit.
#   .gpu/whl      trl, datasets, jsonschema, gguf, bfcl-eval and small needs (bfcl_transfer_call1.sh's set)
#   .gpu/cfg      what train_configs.sh adds: DeepSpeed (a py3-none-any wheel built here with DS_BUILD_OPS=0,
#                 ops JIT-built if ever needed; ZeRO-3 with the Trainer's torch AdamW needs none), pydantic
#                 and hjson (DeepSpeed's needs the image lacks), bitsandbytes slimmed to its CUDA 13.0 and
#                 CPU libraries (43 MB -> 3.4 MiB; the image's torch is a CUDA 13 build: train_configs.sh sets
#                 BNB_CUDA_VERSION=130), and SmolLM2's
#                 tokenizer as tar.xz (the random-init models are built over it)
#   .gpu/dev/a    the bundled GGUF's first part (carried with call 1); .gpu/dev/b the rest and its SHA-256
# Usage: bash benchmarks/device/prepare_carry.sh [--dry_run]     (from the repository root)
set -euo pipefail
DRY=0; [ "${1:-}" = "--dry_run" ] && DRY=1
run() { echo "+ $*"; [ $DRY = 1 ] || eval "$@"; }
PY=${PY:-.venv/bin/python}
PLAT="--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
--platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
--platform manylinux2014_x86_64 --platform manylinux1_x86_64"
A_BYTES=${A_BYTES:-41943040}   # 40 MiB of the GGUF travel with call 1, the rest (about 54 MiB) with call 2
grep -qx '/.gpu/' .git/info/exclude || run "echo /.gpu/ >> .git/info/exclude"
run "mkdir -p .gpu/whl .gpu/cfg/whl .gpu/dev/a .gpu/dev/b /tmp/carry_build"
if ! ls .gpu/whl/trl-*.whl >/dev/null 2>&1; then
  run "python3 -m pip download -q --no-deps $PLAT -d .gpu/whl trl==1.16.0 datasets==5.2.0 jsonschema==4.26.0 \
jsonschema-specifications referencing rpds-py attrs gguf==0.19.0 bfcl-eval dill multiprocess xxhash"
fi
run "python3 -m pip download -q --no-deps $PLAT -d .gpu/cfg/whl pydantic==2.14.4 pydantic-core==2.50.5 \
annotated-types typing-inspection typing-extensions hjson"
if ! ls .gpu/cfg/whl/deepspeed-*.whl >/dev/null 2>&1; then
  run "python3 -m pip download -q --no-deps --no-binary=:all: -d /tmp/carry_build deepspeed==0.19.8"
  run "tar xzf /tmp/carry_build/deepspeed-0.19.8.tar.gz -C /tmp/carry_build"
  run "DS_BUILD_OPS=0 $PY -m pip wheel -q --no-deps --no-build-isolation -w .gpu/cfg/whl /tmp/carry_build/deepspeed-0.19.8"
fi
if ! ls .gpu/cfg/whl/bitsandbytes-*.whl >/dev/null 2>&1; then
  run "python3 -m pip download -q --no-deps $PLAT -d /tmp/carry_build bitsandbytes==0.50.2"
  run "$PY benchmarks/device/slim_wheel.py /tmp/carry_build/bitsandbytes-0.50.2-*.whl .gpu/cfg/whl \
'bitsandbytes/libbitsandbytes_(cpu|cuda130)\\.so'"
fi
run "$PY -c 'from tooljudge.models import smollm2_checkpoint; from transformers import AutoTokenizer; \
AutoTokenizer.from_pretrained(str(smollm2_checkpoint())).save_pretrained(\"/tmp/carry_build/tokenizer\")'"
run "tar cJf .gpu/cfg/tokenizer.tar.xz -C /tmp/carry_build tokenizer"
G=$($PY -c 'from tooljudge.models import smollm2_gguf_path; print(smollm2_gguf_path())')
run "head -c $A_BYTES '$G' > .gpu/dev/a/gguf.a && tail -c +$((A_BYTES + 1)) '$G' > .gpu/dev/b/gguf.b"
run "sha256sum '$G' | cut -d' ' -f1 > .gpu/dev/b/gguf.sha256"
[ $DRY = 1 ] && exit 0
TREE=$(git ls-files -z | du -c -b --files0-from=- | tail -1 | cut -f1)
size() { du -s -b "$@" | awk '{s+=$1} END {print s}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "tracked tree $(mib $TREE)"
echo "call 1 (train_configs.sh): carry .gpu/whl .gpu/cfg .gpu/dev/a -> $(mib $((TREE + $(size .gpu/whl .gpu/cfg .gpu/dev/a)))) of 64 MiB"
echo "call 2 (bfcl_after_dpo.sh): carry .gpu/dev/b -> $(mib $((TREE + $(size .gpu/dev/b)))) of 64 MiB"

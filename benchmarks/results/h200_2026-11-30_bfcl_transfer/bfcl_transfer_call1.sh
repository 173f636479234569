#!/bin/bash
# GPU lease, call 1 of 2 for the BFCL transfer measurement (benchmarks/README.md, "BFCL transfer on one H200"):
# the machine has no network and a carried tree is at most 64 MiB, so the bundled GGUF travels in two parts.
# This call keeps part A and installs the carried wheels (.gpu/whl: trl, datasets, jsonschema, gguf, bfcl-eval
# and their small needs; torch, transformers, peft and accelerate are the machine's own). Call 2 must follow
# within the machine's idle window.   carry: .gpu/whl .gpu/call1
set -o pipefail
date -u
mkdir -p /root/stash && cp .gpu/call1/gguf.a /root/stash/ || exit 11
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 12
cat > /root/env.sh <<EOS
export PYTHONPATH=/tmp/shim:/tmp/site PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TOOLJUDGE_CACHE=/root/tjcache HF_HUB_OFFLINE=1
EOS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
PYTHONPATH=/tmp/site python3 -c "import sys,torch,transformers,trl,peft,datasets,accelerate,bfcl_eval; print(sys.version.split()[0], {m.__name__: m.__version__ for m in (torch,transformers,trl,peft,datasets,accelerate)})" || exit 13
date -u

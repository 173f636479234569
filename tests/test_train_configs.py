"""benchmarks/train_configs.py on a CPU: the plan and its skips, the recipes every config trains with, the
launch commands and accelerate configs, the token count and the table; one real run of each trainer is slow.

A GPU runs the rest (benchmarks/device/train_configs.sh); nothing here asserts a GPU figure.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("train_configs", ROOT / "benchmarks" / "train_configs.py")
tc = importlib.util.module_from_spec(spec)
sys.modules["train_configs"] = tc  # dataclasses look their module up while the class is built
spec.loader.exec_module(tc)


def _args(tmp_path: Path, on_gpu: bool = False) -> tc.BenchArgs:
    return tc.BenchArgs(work_dir=tmp_path, model_dir=tmp_path / "model", steps=5, batch=4, max_length=1024,
                        on_gpu=on_gpu)


def test_plan_skips_what_needs_cuda_or_a_missing_package_with_its_reason():
    runs = tc.plan_runs(list(tc.CONFIGS), list(tc.MODES), cuda=False, has_module=lambda m: False)
    assert [r.name for r in runs] == [f"{c}/{m}" for c in tc.CONFIGS for m in tc.MODES]
    skipped = {r.config: r.skipped for r in runs}
    assert skipped["ddp"] is None and skipped["dpo"] is None  # DDP over gloo runs on a CPU
    assert "CUDA" in skipped["fsdp"] and "deepspeed" not in skipped["fsdp"]
    assert "CUDA" in skipped["zero3"] and "deepspeed is not installed" in skipped["zero3"]
    assert "bitsandbytes 4-bit" in skipped["qlora"] and "bitsandbytes is not installed" in skipped["qlora"]
    on_gpu = tc.plan_runs(list(tc.CONFIGS), ["tooljudge"], cuda=True, has_module=lambda m: m == "deepspeed")
    assert {r.config: r.skipped for r in on_gpu} == {
        "ddp": None, "fsdp": None, "zero3": None, "dpo": None,
        "qlora": "bitsandbytes is not installed (carry it: benchmarks/device/README.md)"}
    assert {r.config: r.accelerate_config for r in on_gpu} == {
        "ddp": "ddp.yaml", "fsdp": "fsdp.yaml", "zero3": "zero3.yaml", "qlora": None, "dpo": "ddp.yaml"}
    with pytest.raises(SystemExit, match="unknown config"):
        tc.plan_runs(["zero4"], ["tooljudge"], cuda=True)


@pytest.mark.parametrize("on_gpu", [False, True])
def test_every_recipe_is_valid_and_the_modes_differ_only_where_documented(tmp_path, on_gpu):
    from tooljudge.train.recipe import recipe_from_dict
    from tooljudge.train.trl_seam import make_trl_config

    args = _args(tmp_path, on_gpu)
    for run in tc.plan_runs(list(tc.CONFIGS), list(tc.MODES), cuda=True, has_module=lambda m: True):
        raw = tc.recipe_for(run, args)
        config = recipe_from_dict(raw)  # the recipe loader's own validation
        trl_args = make_trl_config(run.kind, {**raw["training"], "use_cpu": True, "bf16": False})  # TRL's own
        assert trl_args.max_steps == 5
        assert config.kind == run.kind
        assert raw["training"]["max_steps"] == 5
        assert raw["data"]["max_length"] == 1024  # the same rows in both modes
        assert config.lora.quantization == ("4bit" if run.config == "qlora" else None)
        t = raw["training"]
        if run.mode == "trl_default":  # TRL's own batching, precision, checkpointing and reference model
            assert "packing" not in t and "precompute_ref_log_probs" not in t and "loss_type" not in t
            assert t["per_device_train_batch_size"] == 4
            assert ("gradient_checkpointing" in t) == (not on_gpu) and ("bf16" in t) == (not on_gpu)
        elif run.kind == "sft":  # the same token capacity per step, packed
            assert (t["packing"], t["packing_strategy"], t["per_device_train_batch_size"]) == (True, "bfd", 1)
            assert t["max_length"] == 4 * 1024
        else:
            assert t["precompute_ref_log_probs"] is True and t["loss_type"] == ["sigmoid", "sft"]
    sft = tc.recipe_for(tc.ConfigRun("ddp", "trl_default", "sft", "ddp.yaml"), args)
    dpo = tc.recipe_for(tc.ConfigRun("dpo", "tooljudge", "dpo", "ddp.yaml"), args)
    assert sft["data"]["sources"] != dpo["data"]["sources"]  # DPO trains on rule-made pairs of other rows


def test_launch_commands_use_the_repo_accelerate_configs(tmp_path):
    spec_path = tmp_path / "s.json"
    fsdp = tc.launch_command(tc.ConfigRun("fsdp", "tooljudge", "sft", "fsdp.yaml"), spec_path, 1)
    assert fsdp[1:5] == ["-m", "accelerate.commands.launch", "--config_file",
                         str(ROOT / "accelerate_configs" / "fsdp.yaml")]
    assert fsdp[5:7] == ["--num_processes", "1"] and fsdp[-2:] == ["--_worker", str(spec_path)]
    qlora = tc.launch_command(tc.ConfigRun("qlora", "tooljudge", "sft", None), spec_path, 8)
    assert qlora == [sys.executable, str(ROOT / "benchmarks" / "train_configs.py"), "--_worker", str(spec_path)]


def test_the_accelerate_configs_say_what_they_are():
    read = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "accelerate_configs").glob("*.yaml")}
    assert read["ddp"]["distributed_type"] == "MULTI_GPU" and read["ddp"]["use_cpu"] is False
    assert read["multi_cpu"]["use_cpu"] is True
    assert read["fsdp"]["distributed_type"] == "FSDP" and read["fsdp"]["fsdp_config"]["fsdp_version"] == 2
    assert read["fsdp"]["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    z3 = read["zero3"]
    assert z3["distributed_type"] == "DEEPSPEED" and z3["deepspeed_config"]["zero_stage"] == 3
    assert z3["deepspeed_config"]["offload_param_device"] == "none" and z3["mixed_precision"] == "bf16"
    from accelerate.commands.config.config_args import load_config_from_file

    for name in ("ddp", "fsdp", "zero3", "multi_cpu"):  # accelerate's own reader takes each
        assert load_config_from_file(str(ROOT / "accelerate_configs" / f"{name}.yaml")).num_processes >= 1


def test_count_tokens_sums_masks_or_counts_non_pad_ids():
    sft = {"input_ids": torch.tensor([[5, 6, 0], [7, 0, 0]]), "attention_mask": torch.tensor([[1, 1, 0], [1, 0, 0]])}
    assert tc.count_tokens(sft, pad_id=0) == 3
    dpo = {"chosen_attention_mask": torch.ones(2, 3), "rejected_attention_mask": torch.tensor([[1, 0, 0], [1, 1, 0]])}
    assert tc.count_tokens(dpo, pad_id=0) == 9
    packed = {"input_ids": torch.tensor([[5, 6, 7, 8]]), "position_ids": torch.tensor([[0, 1, 0, 1]])}
    assert tc.count_tokens(packed, pad_id=0) == 4


def test_parameter_count_matches_the_built_model_and_the_presets_are_the_sizes_named():
    from transformers import LlamaConfig, LlamaForCausalLM

    for preset in ("tiny", "0.5b", "1b"):
        with torch.device("meta"):
            model = LlamaForCausalLM(LlamaConfig(vocab_size=49152, tie_word_embeddings=True, **tc.PRESETS[preset]))
        assert tc.parameter_count(preset, 49152) == sum(p.numel() for p in model.parameters())
    assert 0.5e9 <= tc.parameter_count("0.5b", 49152) < 0.6e9
    assert 0.95e9 <= tc.parameter_count("1b", 49152) <= 1.1e9


def test_table_puts_each_run_beside_its_trl_default_and_says_the_model_is_random():
    results = [
        {"config": "ddp", "mode": "trl_default", "world_size": 1, "timed_steps": 3, "tokens_per_s": 1000.0,
         "peak_memory_gib": 2.0, "wall_seconds": 30.0},
        {"config": "ddp", "mode": "tooljudge", "world_size": 1, "timed_steps": 3, "tokens_per_s": 1500.0,
         "peak_memory_gib": 3.0, "wall_seconds": 31.0},
        {"config": "zero3", "mode": "trl_default", "skipped": "deepspeed is not installed"},
        {"config": "fsdp", "mode": "tooljudge", "failed": "exit 1", "tail": "Traceback: boom"},
    ]
    table = tc.format_table(results, "machine: test")
    assert tc.RANDOM_MODEL_NOTE in table
    assert "| ddp | tooljudge | 1 | 3 | 1,500 | 1.50x | 3.00 | 31 |" in table
    assert "| zero3 | trl_default | | | deepspeed is not installed |" in table
    assert "fsdp/tooljudge failed (exit 1)" in table and "Traceback: boom" in table


def test_dry_run_prints_every_command_and_runs_nothing(tmp_path, capsys):
    results = tc.main(["--dry_run", "--work_dir", str(tmp_path), "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert len(results) == 10 and all("skipped" in r for r in results)
    assert out.count("accelerate.commands.launch") == 8  # all but the two single-process QLoRA runs
    assert not (tmp_path / "specs").exists()
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["note"] == tc.RANDOM_MODEL_NOTE and len(saved["plan"]) == 10


def test_qlora_stops_before_reading_weights_on_a_cpu(tmp_path):
    from tooljudge.train.model_setup import check_quantization_available, quantization_config
    from tooljudge.train.recipe import recipe_from_dict

    config = recipe_from_dict(tc.recipe_for(tc.ConfigRun("qlora", "tooljudge", "sft", None), _args(tmp_path)))
    quant = quantization_config(config.lora)  # built without a GPU
    assert quant.load_in_4bit and quant.bnb_4bit_quant_storage == quant.bnb_4bit_compute_dtype
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the QLoRA run itself checks this path")
    with pytest.raises(RuntimeError, match="bitsandbytes|CUDA GPU"):
        check_quantization_available(config.lora)


@pytest.fixture(scope="module")
def tiny_tokenizer_dir(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "tests"))
    import train_support as ts

    folder = tmp_path_factory.mktemp("tok")
    ts.tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("config,processes", [("ddp", 2), ("dpo", 1)])
def test_a_real_run_reports_tokens_per_second_and_peak_memory(tmp_path, tiny_tokenizer_dir, config, processes):
    """End to end through accelerate launch on the CPU (DDP over gloo with 2 processes), both modes."""
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_configs.py"), "--preset", "tiny", "--tokenizer",
         str(tiny_tokenizer_dir), "--configs", config, "--num_processes", str(processes), "--steps", "4",
         "--batch", "2", "--max_length", "1024", "--sft_rows", "32", "--dpo_rows", "16", "--work_dir",
         str(tmp_path), "--json", str(out), "--run_timeout_s", "400"],
        capture_output=True, text=True, timeout=900, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    assert [r["mode"] for r in results] == ["trl_default", "tooljudge"]
    for r in results:
        assert "failed" not in r, r.get("tail")
        assert r["world_size"] == processes and r["layout"]["world_size"] == processes
        assert r["tokens_timed"] > 0 and r["tokens_per_s"] > 0 and r["peak_memory_gib"] > 0
        if config == "ddp":
            assert r["layout"]["backend"] == "gloo" and r["mask_check"]["passed"]
    assert tc.RANDOM_MODEL_NOTE in proc.stdout


def test_slim_wheel_drops_unmatched_libraries_and_their_record_lines(tmp_path):
    import zipfile

    sys.path.insert(0, str(ROOT / "benchmarks" / "device"))
    from slim_wheel import slim_wheel

    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    record = "pkg/__init__.py,sha256=a,1\npkg/lib_cpu.so,sha256=b,2\npkg/lib_cuda118.so,sha256=c,3\n"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in ("pkg/__init__.py", "pkg/lib_cpu.so", "pkg/lib_cuda118.so"):
            z.writestr(name, "x")
        z.writestr("pkg-1.0.dist-info/RECORD", record)
    target, kept, dropped = slim_wheel(wheel, tmp_path / "out", r"pkg/lib_(cpu|cuda130)\.so")
    assert (kept, dropped) == (["pkg/lib_cpu.so"], ["pkg/lib_cuda118.so"]) and target.name == wheel.name
    with zipfile.ZipFile(target) as z:
        assert sorted(z.namelist()) == ["pkg-1.0.dist-info/RECORD", "pkg/__init__.py", "pkg/lib_cpu.so"]
        assert "cuda118" not in z.read("pkg-1.0.dist-info/RECORD").decode()
    with pytest.raises(SystemExit, match="matches none"):
        slim_wheel(wheel, tmp_path / "none", r"pkg/lib_rocm\.so")


@pytest.mark.parametrize("script,expects", [
    ("train_configs.sh", ["pip install", "--target /tmp/tj .", "benchmarks/train_configs.py --preset 0.5b",
                          "--configs ddp,fsdp,zero3,qlora,dpo", "BNB_CUDA_VERSION=130"]),
    ("bfcl_after_dpo.sh", ["sha256sum -c", "train/sft.py recipes/smollm2_effect_sft.yaml",
                           "train/dpo.py recipes/smollm2_effect_dpo.yaml --model.init_from /tmp/r/sft",
                           "bfcl_simple,bfcl_multiple,bfcl_parallel,bfcl_parallel_multiple,bfcl_irrelevance",
                           "--categories multi_turn_base --batch_size", "--max_examples 50 --seed 0",
                           "--model bundled:smollm2 --categories multi_turn_base", "bfcl_after_dpo.tar.xz"]),
    ("bundle.sh", ["sha256sum -c", "smollm2_checkpoint()", "nvidia-smi --query-gpu=timestamp,memory.used",
                   "benchmarks/effect.py --recipe recipes/effect_gpu.yaml", "--jobs 3",
                   "benchmarks/judge_effect.py --recipe recipes/judge_effect_gpu.yaml",
                   "bash benchmarks/device/bfcl_after_dpo.sh", "bundle.tar.xz"]),
    ("run_bundled.sh", ["sha256sum -c", "( python3 -c pass ) 2>&1"]),
])
def test_device_scripts_parse_and_their_dry_run_prints_the_commands(tmp_path, script, expects):
    path = ROOT / "benchmarks" / "device" / script
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    extra = ["python3 -c pass"] if script == "run_bundled.sh" else []
    proc = subprocess.run(["bash", str(path), "--dry_run", *extra], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "OUT": str(tmp_path / "out"), "BASE_MT": "1"})
    assert proc.returncode == 0, proc.stderr
    for text in expects:
        assert text in proc.stdout, text
    assert not (tmp_path / "out" / "bfcl_after_dpo.tar.xz").exists()  # a dry run writes no results


def test_the_timed_window_leaves_out_the_warmup_steps():
    marks = [(step, float(step), 100 * step) for step in range(1, 21)]  # end of steps 1..20
    assert tc.timed_window(marks, 2) == ((2, 2.0, 200), (20, 20.0, 2000))  # steps 3..20 timed
    assert tc.timed_window(marks, 0) == ((1, 1.0, 100), (20, 20.0, 2000))  # step 1 is never timed
    assert tc.timed_window(marks[:3], 5) == ((2, 2.0, 200), (3, 3.0, 300))  # at least one step timed
    with pytest.raises(RuntimeError, match="at least 2"):
        tc.timed_window(marks[:1], 2)

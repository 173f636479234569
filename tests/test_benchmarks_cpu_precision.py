"""benchmarks/cpu_precision.py: the commands it times are valid train/sft.py recipes, and its parsing of TRL's
output is right on a real log line."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_precision.py"


def _script():
    spec = importlib.util.spec_from_file_location("cpu_precision", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_runtime_from_a_real_trl_line():
    line = ("100%|##########| 6/6 [01:31<00:00, 14.17s/it] {'train_runtime': '91.68', "
            "'train_samples_per_second': '0.262', 'train_steps_per_second': '0.065', 'train_loss': '0.6655'}")
    assert _script().train_runtime("noise\n" + line) == 91.68
    with pytest.raises(RuntimeError, match="no train_runtime"):
        _script().train_runtime("Traceback ...")


@pytest.mark.parametrize(("bf16", "dropout"), [(False, 0.05), (True, 0.0)])
def test_each_variant_is_a_recipe_train_sft_accepts(tmp_path, bf16, dropout):
    """The command's recipe and overrides go through the same parser train/sft.py uses."""
    from tooljudge.train.recipe import parse_cli

    cmd = _script().sft_command(6, bf16, dropout, tmp_path / "out")
    cfg, _ = parse_cli(cmd[2:])
    assert cfg.training["bf16"] is bf16 and cfg.training["use_cpu"] is True
    assert cfg.training["max_steps"] == 6 and cfg.training["per_device_train_batch_size"] == 4
    assert cfg.training["gradient_accumulation_steps"] == 1
    assert cfg.lora.dropout == dropout and cfg.training["output_dir"] == str(tmp_path / "out")

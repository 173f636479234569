"""One config mechanism (tooljudge.config): an unknown key in a recipe section or an unknown CLI flag gets the
did-you-mean naming key and section; every CLI's --help shows every field's help; a YAML value of the wrong type
is named with its key; CLI options that fill a config dataclass show that dataclass's default."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import yaml
from tooljudge.train.recipe import SECTIONS, RecipeError, load_recipe, recipe_from_dict, usage
from tooljudge.train.rounds import USAGE as ROUNDS_USAGE
from tooljudge.train.rounds import RoundsConfig, load_rounds_recipe, rounds_config_from_dict

from tooljudge.config import ConfigError, from_mapping, setting, unknown_key

# (module, its options dataclass): every CLI generated with tooljudge.config.cli_parser
CLIS = [
    ("tooljudge.eval.run", "RunArgs"),
    ("tooljudge.eval.run_judging", "JudgingArgs"),
    ("tooljudge.eval.judge_training_data", "JudgeTrainingDataArgs"),
    ("tooljudge.data_prep.validate", "ValidateArgs"),
    ("tooljudge.data_prep.synthesize", "SynthesizeArgs"),
    ("tooljudge.data_prep.preferences", "PreferencesArgs"),
    ("tooljudge.eval.score_calls", "ScoreArgs"),
    ("tooljudge.eval.bfcl_multi_turn", "MultiTurnScoreArgs"),
    ("tooljudge.train.export", "ExportArgs"),
    ("tooljudge.data_prep.inspect_mask", "InspectArgs"),
    ("tooljudge.data_prep.inspect_mask", "InspectView"),
    ("tooljudge.data_prep.prepare", "PrepareArgs"),
]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _minimal(**sections):
    raw = {"kind": "sft", "model": {"name_or_path": "m"}, "data": {"sources": [{"source": "d.jsonl"}]},
           "training": {"output_dir": "out"}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return raw


@pytest.mark.parametrize("section,key,close", [
    ("lora", "alhpa", "alpha"),
    ("model", "dtpye", "dtype"),
    ("data", "truncaton", "truncation"),
    ("eval", "every_n_step", "every_n_steps"),
    ("training", "learning_rat", "learning_rate"),
])
def test_unknown_recipe_key_names_section_key_and_the_close_one(section, key, close):
    with pytest.raises(RecipeError) as err:
        recipe_from_dict(_minimal(**{section: {key: 1}}))
    assert f"unknown key '{section}.{key}' in {section}" in str(err.value)
    assert f"did you mean '{close}'?" in str(err.value)


def test_unknown_key_in_a_data_source_and_in_the_rounds_recipe():
    with pytest.raises(RecipeError, match=r"unknown key 'data.sources\[0\].wieght' in data.sources\[0\] "
                                          r"\(did you mean 'weight'\?\)"):
        recipe_from_dict(_minimal(data={"sources": [{"source": "x", "wieght": 2}]}))
    with pytest.raises(RecipeError, match=r"unknown key 'on_policy.n_sample' in on_policy "
                                          r"\(did you mean 'n_samples'\?\)"):
        rounds_config_from_dict({"sft": "a.yaml", "dpo": "b.yaml", "on_policy": {"n_sample": 2}})


def test_unknown_recipe_override_flag(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_minimal()))
    with pytest.raises(RecipeError, match=r"unknown key 'lora.rnak'.* in lora"):
        load_recipe(path, ["--lora.rnak", "8"])
    with pytest.raises(RecipeError, match=r"did you mean 'learning_rate'"):
        load_recipe(path, ["--training.lerning_rate", "1e-5"])


@pytest.mark.parametrize("module,cls", CLIS, ids=[f"{m.rsplit('.', 1)[1]}-{c}" for m, c in CLIS])
def test_unknown_cli_flag_gets_did_you_mean(module, cls, capsys):
    mod = importlib.import_module(module)
    fields = [f for f in dataclasses.fields(getattr(mod, cls)) if f.init]
    target = max(fields, key=lambda f: len(f.name)).name  # a long name: one typo keeps it the closest
    typo = "--" + target[:-1]  # e.g. --max_new_token
    with pytest.raises(SystemExit) as exit_info:
        mod.build_parser().parse_args([typo + "x", "1"])
    assert exit_info.value.code == 2
    said = capsys.readouterr().err
    assert f"unknown key '{typo}x'" in said and f"(did you mean '--{target}'?)" in said, said


@pytest.mark.parametrize("module,cls", CLIS, ids=[f"{m.rsplit('.', 1)[1]}-{c}" for m, c in CLIS])
def test_help_shows_every_field_help(module, cls):
    mod = importlib.import_module(module)
    text = _flat(mod.build_parser().format_help())
    for f in dataclasses.fields(getattr(mod, cls)):
        assert f.metadata.get("help"), f"{cls}.{f.name} has no help"
        assert _flat(f.metadata["help"]) in text, f"{cls}.{f.name}"


def test_recipe_and_rounds_help_show_every_field_help():
    text = _flat(usage("sft.py", "sft"))
    for name, section in SECTIONS.items():
        for f in dataclasses.fields(section):
            assert f"--{name}.{f.name}" in text and _flat(f.metadata["help"]) in text, f"{name}.{f.name}"
    rounds_text = _flat(ROUNDS_USAGE)
    for f in dataclasses.fields(RoundsConfig):
        if f.name == "source_path":
            continue
        section = f.type if dataclasses.is_dataclass(f.type) else None
        inner = dataclasses.fields(section) if section else [f]
        for g in inner:
            if "help" in g.metadata:
                assert _flat(g.metadata["help"]) in rounds_text, g.name


def test_yaml_value_of_the_wrong_type_is_named_with_its_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_minimal(lora={"r": "eight"})))
    with pytest.raises(RecipeError, match=r"lora\.r: 'eight' is a str, expected int"):
        load_recipe(path)
    path.write_text(yaml.safe_dump(_minimal(model={"dtype": "fp8"})))
    with pytest.raises(RecipeError, match=r"model\.dtype: 'fp8' is not one of auto\|float32\|bfloat16\|float16"):
        load_recipe(path)
    path.write_text(yaml.safe_dump(_minimal(eval={"sets": "builtin"})))
    with pytest.raises(RecipeError, match=r"eval\.sets: 'builtin' is a str, expected list\[str\]"):
        load_recipe(path)
    rounds = tmp_path / "rounds.yaml"
    rounds.write_text(yaml.safe_dump({"sft": "a.yaml", "dpo": "b.yaml", "judge_data": {"n_train": "many"}}))
    with pytest.raises(RecipeError, match=r"judge_data\.n_train: 'many' is a str, expected int"):
        load_rounds_recipe(rounds)


def test_numeric_strings_from_yaml_become_numbers():
    @dataclasses.dataclass
    class Section:
        rate: float = setting(0.1, "a rate")
        steps: int = setting(1, "steps")
        name: str = setting("x", "a name")

    got = from_mapping(Section, {"rate": "1e-5", "steps": "20", "name": "007"}, "s")
    assert got == Section(rate=1e-5, steps=20, name="007")


def test_unknown_key_without_a_close_one_lists_the_known():
    err = unknown_key("zzz", "lora", ["alpha", "r"])
    assert isinstance(err, ConfigError) and str(err) == "unknown key 'zzz' in lora (known: alpha, r)"


def test_cli_options_that_fill_a_config_show_its_defaults():
    from tooljudge.eval.judge_protocols import ProtocolConfig
    from tooljudge.eval.run_judging import build_parser

    args = build_parser().parse_args(["--judge", "x", "--out", "y"])
    protocol = ProtocolConfig()
    assert (args.word_limit, args.max_new_tokens) == (protocol.word_limit, protocol.max_new_tokens) == (100, 200)
    assert build_parser().parse_args(["--judge", "x", "--out", "y", "--word-limit", "40"]).word_limit == 40


@dataclasses.dataclass(kw_only=True)
class _BenchArgs:
    out_dir: str = setting(help="where")
    steps: int = setting(60, "steps")
    rate: float = setting(2e-4, "learning rate")


def test_a_recipe_sets_fields_and_flags_win_over_it(tmp_path):
    from tooljudge.config import parse_with_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps: 7\nrate: 0.5\n")
    args = parse_with_recipe(_BenchArgs, ["--recipe", str(recipe), "--out_dir", "o", "--rate", "1e-3"])
    assert args == _BenchArgs(out_dir="o", steps=7, rate=1e-3)
    assert parse_with_recipe(_BenchArgs, ["--out_dir", "o"]) == _BenchArgs(out_dir="o")
    recipe.write_text("stpes: 7\n")
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        parse_with_recipe(_BenchArgs, ["--recipe", str(recipe), "--out_dir", "o"])

"""benchmarks/dpo_sweep.py without training: each variant's recipe is a valid rounds recipe, its pairs are the
right subset of the sampled ones, its run folder makes the rounds runner reuse the SFT stage and the pairs,
and the summary compares every stage with the one before on the same rows."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "dpo_sweep.py"
SWEEP = REPO / "benchmarks" / "dpo_sweep_gpu.yaml"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("dpo_sweep", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dpo_sweep"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _call(name, args):
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": "abcdefgh1", "type": "function", "function": {"name": name, "arguments": args}}]}


REPLY = {"role": "assistant", "content": "None of these tools can do that."}
PROMPT = [{"role": "user", "content": "Is 7 prime?"}]


def _pairs():
    """3 same_decision, 4 reply_over_call, 1 call_over_reply, 1 whose rejected side is a malformed call
    kept as raw text: a call for the decision, as on_policy_pairs decides (so reply_over_call)."""
    right, wrong = _call("is_prime", {"n": 7}), _call("is_prime", {"n": 8})
    same = [{"prompt": PROMPT, "chosen": [right], "rejected": [wrong]}] * 3
    roc = [{"prompt": PROMPT, "chosen": [REPLY], "rejected": [wrong]}] * 4
    cor = [{"prompt": PROMPT, "chosen": [right], "rejected": [REPLY]}]
    broken = [{"prompt": PROMPT, "chosen": [REPLY], "rejected": [
        {"role": "assistant", "content": '<tool_call>\n{"name": "is_prime", "arguments": {"n": 8'}]}]
    return same + roc + cor + broken


def test_sweep_file_loads_and_every_run_is_a_valid_rounds_recipe(sweep, tmp_path):
    from tooljudge.train.rounds import load_rounds_recipe

    cfg = sweep.load_sweep(SWEEP)
    assert cfg.shipped == "same_cut" and cfg.primary.name == "all_pairs"
    shipped_recipe = yaml.safe_load((REPO / cfg.recipe).read_text())
    for variant, sampling in [(cfg.primary, True)] + [(v, False) for v in cfg.variants]:
        raw = sweep.rounds_recipe(cfg, variant, tmp_path / variant.name, sampling)
        path = tmp_path / f"{variant.name}.yaml"
        path.write_text(yaml.safe_dump(raw))
        rounds = load_rounds_recipe(path)
        assert rounds.baseline is False and rounds.output_dir == str(tmp_path / variant.name)
        if sampling:  # the sampling run keeps every pair, plus the rule-made ones
            assert rounds.on_policy.keep_decisions is None
            assert rounds.on_policy.rule_kinds == ["no_call_when_needed"]
    same_cut = sweep.rounds_recipe(cfg, next(v for v in cfg.variants if v.name == "same_cut"), tmp_path, False)
    # the shipped variant is the shipped recipe: same pairs filter, same DPO settings
    assert same_cut["on_policy"]["keep_decisions"] == shipped_recipe["on_policy"]["keep_decisions"]
    assert same_cut["dpo_overrides"] == shipped_recipe["dpo_overrides"]


def test_sweep_file_refuses_repeated_names_and_an_unknown_shipped_variant(sweep, tmp_path):
    raw = yaml.safe_load(SWEEP.read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**raw, "shipped": "nope"}))
    with pytest.raises(ValueError, match="nope"):
        sweep.load_sweep(bad)
    bad.write_text(yaml.safe_dump({**raw, "variants": {"all_pairs": {}}}))
    with pytest.raises(ValueError, match="repeat"):
        sweep.load_sweep(bad)


def test_variant_pairs_by_decision_and_balance(sweep):
    pairs = _pairs()
    same, counts = sweep.variant_pairs(pairs, sweep.Variant("s", keep_decisions=["same_decision"]), "qwen25", 0)
    assert same == pairs[:3] and counts["by_decision"] == {"same_decision": 3} and counts["of_sampled"] == 9
    every, counts = sweep.variant_pairs(pairs, sweep.Variant("a"), "qwen25", 0)
    assert every == pairs and counts["by_decision"] == {"same_decision": 3, "reply_over_call": 5,
                                                          "call_over_reply": 1}
    balanced, counts = sweep.variant_pairs(pairs, sweep.Variant("b", decision_balance=1.0), "qwen25", 0)
    assert counts["by_decision"] == {"same_decision": 3, "reply_over_call": 1, "call_over_reply": 1}
    assert len(balanced) == 5
    assert balanced[:3] == pairs[:3] and pairs[7] in balanced


def test_prepare_variant_makes_the_runner_reuse_sft_and_pairs(sweep, tmp_path):
    primary, variant_dir = tmp_path / "all_pairs", tmp_path / "same_cut"
    for stage in ("sft", "eval_sft"):
        (primary / "round_1" / stage).mkdir(parents=True)
    (primary / "round_1" / "sft" / "DONE").write_text("")
    (primary / "round_1" / "eval_sft" / "eval_results.json").write_text("{}")
    pairs_file = primary / "data" / "on_policy_round_1.jsonl"
    pairs_file.parent.mkdir(parents=True)
    pairs_file.write_text("".join(json.dumps(p) + "\n" for p in _pairs()))
    (primary / "round_1" / "on_policy_report.json").write_text(json.dumps(
        {"pairs_file": str(pairs_file), "pairs": 9, "by_kind": {"on_policy_reference": 9}}))
    counts = sweep.prepare_variant(primary, variant_dir, sweep.Variant("same_cut", keep_decisions=["same_decision"]),
                                   "qwen25", seed=1001)
    assert counts["pairs"] == 3
    assert (variant_dir / "round_1" / "sft" / "DONE").exists()
    assert (variant_dir / "round_1" / "eval_sft" / "eval_results.json").exists()
    report = json.loads((variant_dir / "round_1" / "on_policy_report.json").read_text())
    assert report["pairs"] == 3 and report["derived_from"] == str(pairs_file)
    kept = [json.loads(line) for line in Path(report["pairs_file"]).read_text().splitlines()]
    assert kept == _pairs()[:3]


def _write_eval(path: Path, correct: list[bool]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"r{i}", "category": ("simple", "irrelevance")[i % 2], "correct": ok,
             "output": "<tool_call>" if i % 2 == 0 else "no", "made_call": i % 2 == 0} for i, ok in enumerate(correct)]
    (path / "fc_examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_summary_compares_each_stage_with_the_one_before(sweep, tmp_path):
    """Hand-counted: base 2 of 8 right; SFT wins 4 rows and loses 1 (5 of 8); variant a wins 2, loses 0 (7 of 8);
    variant b did not finish; variant c had no pairs."""
    _write_eval(tmp_path / "base" / "eval", [True, True, False, False, False, False, False, False])
    _write_eval(tmp_path / "a" / "round_1" / "eval_sft", [True, False, True, True, True, True, False, False])
    _write_eval(tmp_path / "a" / "round_1" / "eval_dpo", [True, False, True, True, True, True, True, True])
    (tmp_path / "a" / "round_1" / "on_policy_report.json").write_text(json.dumps(
        {"pairs": 3, "by_decision": {"same_decision": 3}}))
    (tmp_path / "c" / "round_1").mkdir(parents=True)
    (tmp_path / "c" / "round_1" / "on_policy_report.json").write_text(json.dumps({"pairs": 0, "pairs_file": None}))
    summary = sweep.summarize(tmp_path, ["a", "b", "c", "d", "e"], shipped="a", exit_codes={"d": 1, "e": -9})
    stages = summary["stages"]
    assert stages["base"]["correct"] == 2 and "vs_before" not in stages["base"]
    assert stages["sft"]["correct"] == 5 and (stages["sft"]["vs_before"]["won"], stages["sft"]["vs_before"]["lost"]) == (4, 1)
    assert stages["dpo:a"]["vs_before"]["won"] == 2 and stages["dpo:a"]["vs_before"]["lost"] == 0
    assert stages["dpo:a"]["vs_before"]["p"] == pytest.approx(0.5)  # exact McNemar: 2 of 2 discordant
    assert stages["dpo:a"]["by_category"] == {"simple": 4, "multiple": 0, "parallel": 0, "parallel_multiple": 0,
                                              "irrelevance": 3}
    assert stages["dpo:a"]["calls_made"] == 4  # the rows whose verdict says a call was made
    assert stages["dpo:b"] == {"finished": False, "reason": "not run"}
    assert stages["dpo:c"] == {"finished": False, "reason": "no pairs"}
    assert stages["dpo:d"]["reason"] == "failed (exit 1; logs/d.log)"
    assert stages["dpo:e"]["reason"] == "stopped at the deadline (signal 9)"
    table = sweep.summary_markdown(summary)
    assert "| dpo:a (shipped) | 3 (0 / 0 / 3) | 0.875" in table and "| dpo:b | not trained: not run |" in table
    assert "| dpo:c | not trained: no pairs |" in table


def test_sweep_runs_at_most_max_parallel_rounds_at_once(sweep, tmp_path, monkeypatch):
    """The scheduler with fake processes (each 'runs' for 3 polls): the sampling run writes its pairs report,
    the four variants queue behind it, and never more than ``max_parallel`` rounds runs run together (five
    at once ran the H100 out of memory); the base eval runs beside them."""
    import tooljudge.train.model_setup as model_setup

    cfg = sweep.load_sweep(SWEEP)
    cfg.output_dir, cfg.max_parallel = str(tmp_path), 2
    running: dict = {}
    peak = []

    class Fake:
        def __init__(self, name):
            self.name, self.polls, self.code = name, 0, None

        def poll(self):
            self.polls += 1
            if self.polls > 3 and self.code is None:
                self.code = 0
                running.pop(self.name, None)
            return self.code

    def launch(cmd, log):
        name = log.stem
        if name == cfg.primary.name:
            report = tmp_path / name / "round_1" / "on_policy_report.json"
            report.parent.mkdir(parents=True)
            report.write_text(json.dumps({"pairs": 5}))
        running[name] = Fake(name)
        peak.append(sum(1 for n in running if n != "base"))
        return running[name]

    monkeypatch.setattr(sweep, "_launch", launch)
    monkeypatch.setattr(sweep, "prepare_variant", lambda *a, **k: {"pairs": 5, "by_decision": {}})
    monkeypatch.setattr(model_setup, "resolve_model_path", lambda name: name)
    summary = sweep.run_sweep(cfg, poll_s=0)
    assert set(summary["exit_codes"]) == {"base", "all_pairs", "same_cut", "same_full", "same_cut_gentle",
                                          "balanced_cut"}
    assert all(code == 0 for code in summary["exit_codes"].values())
    assert max(peak) == 2


def test_a_variant_filter_gives_the_pairs_the_recipe_would_make(sweep):
    """The sweep samples once, with every pair and rule-made ones, and filters per variant; the shipped recipe
    filters while it samples (on_policy.keep_decisions). On the same samples both give the same pairs."""
    from test_decision_balance import _poem_row, _prime_row
    from test_synth_pairs import ScriptedPolicy, _call_text
    from tooljudge.data_prep.preference_pairs import on_policy_pairs
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint())
    rows = [_poem_row(i) for i in range(6)] + [_prime_row(i, n) for i, n in enumerate((7, 13))] + [_prime_row(9, 5)]

    def script(prompt):
        return ["Five is prime, I believe."] if "Is 5 prime" in prompt else [_call_text("is_prime", {"n": 3})]

    sampled, _ = on_policy_pairs(ScriptedPolicy(script), tokenizer, rows, family="qwen25", n_samples=1,
                                 rule_kinds=["no_call_when_needed"])
    recipe_pairs, _ = on_policy_pairs(ScriptedPolicy(script), tokenizer, rows, family="qwen25", n_samples=1,
                                      keep_decisions=["same_decision"])
    filtered, counts = sweep.variant_pairs(sampled, sweep.Variant("same_cut", keep_decisions=["same_decision"]),
                                           "qwen25", seed=0)
    assert len(sampled) == 12 and counts["pairs"] == 2
    assert filtered == recipe_pairs


def test_the_headline_figures_recompute_from_per_row_verdicts():
    """Base -> SFT -> DPO (shipped variant) of the H100 sweep as the README quotes them, recomputed from the
    per-row verdicts (tests/data/headline_figures: each eval row's id and whether each stage got it right):
    accuracy, Wilson CI, and the exact McNemar comparison of each stage with the one before."""
    from tooljudge.eval.fc_metrics import wilson_ci
    from tooljudge.eval.paired_stats import correct_by_id, paired_comparison

    path = DATA / "headline_figures" / "h100_sweep_verdicts.jsonl"
    verdicts = [json.loads(line) for line in path.read_text().splitlines()]
    rows = {name: [{"id": v["id"], "correct": bool(v[name])} for v in verdicts]
            for name in ("base", "sft", "dpo_same_cut", "dpo_all_pairs")}
    right = {name: sum(r["correct"] for r in rs) for name, rs in rows.items()}
    assert len(verdicts) == len({v["id"] for v in verdicts}) == 400
    assert right == {"base": 80, "sft": 160, "dpo_same_cut": 183, "dpo_all_pairs": 83}
    assert [round(x, 2) for x in wilson_ci(183, 400)] == [0.41, 0.51]
    sft = paired_comparison(correct_by_id(rows["base"]), correct_by_id(rows["sft"]))
    assert (sft.wins, sft.losses) == (156, 76) and sft.p_value < 2e-7
    dpo = paired_comparison(correct_by_id(rows["sft"]), correct_by_id(rows["dpo_same_cut"]))
    assert (dpo.wins, dpo.losses) == (45, 22) and round(dpo.p_value, 4) == 0.0067
    assert (round(dpo.ci_low, 2), round(dpo.ci_high, 2)) == (0.02, 0.10)


def test_the_sweep_file_still_makes_the_recipes_it_made(sweep):
    """Each run's rounds recipe, made from the sweep file today, equals the one the H100 run wrote (frozen in
    tests/data/sweep_rounds_recipes), so the measured sweep can be run again as it ran."""
    cfg = sweep.load_sweep(SWEEP)
    as_run = DATA / "sweep_rounds_recipes"
    for variant, sampling in [(cfg.primary, True)] + [(v, False) for v in cfg.variants]:
        made = sweep.rounds_recipe(cfg, variant, Path("runs/dpo_sweep") / variant.name, sampling)
        assert made == yaml.safe_load((as_run / f"{variant.name}.rounds.yaml").read_text()), variant.name

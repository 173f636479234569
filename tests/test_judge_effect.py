"""Issue 22 item 3: the scripted arguer, the blind judge data, and the judge-effect pipeline end to end."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path

import pytest
import train_support as ts
from tooljudge.data_prep.judge_tasks import generate_extractive
from tooljudge.eval.judge_data import blind_view, judge_dpo_pairs, judge_sft_rows
from tooljudge.eval.judge_protocols import ProtocolConfig, run_consultancy, run_debate
from tooljudge.eval.scripted_agent import evidence_sentence, parse_argument_prompt, scripted_agent
from tooljudge.train.judge_effect import split_by_question

ROOT = Path(__file__).resolve().parents[1]

# A hand-made extractive row: the asked town is Keldwick, the distractor is Halvik's export.
ARTICLE = ("The main export of Keldwick is salt. Keldwick was founded by Mira Kest.\n\n"
           "Halvik was founded by Duro Pike. The main export of Halvik is wool.")
ROW = {"id": "hand-0", "task": "extractive", "question": "What is the main export of Keldwick?",
       "answers": ["wool", "salt"], "correct": 1, "article": ARTICLE}


def test_scripted_arguments_quote_true_lines_for_the_side_they_are_given():
    """Hand-checked: arguing salt (correct) quotes Keldwick's line, arguing wool quotes Halvik's line; both
    quotes pass the protocols' own verification, each argument ends on its own side's answer, within the limit."""
    agent = scripted_agent()
    cfg = ProtocolConfig(rounds=2, word_limit=30)
    cons = run_consultancy([ROW], agent, cfg)
    by_side = {t["assignment"]: t for t in cons}
    first = {side: t["turns"][0]["text"] for side, t in by_side.items()}
    assert first[1] == "The article says: <v_quote>The main export of Keldwick is salt.</v_quote> The answer is salt."
    assert first[0] == "The article says: <v_quote>The main export of Halvik is wool.</v_quote> The answer is wool."
    for t in cons:
        assert t["stats"]["quotes_verified"] == 2 and t["stats"]["quotes_unverified"] == 0
        assert t["stats"]["truncated"] == 0
        assert all(x["text"].endswith(f"The answer is {ROW['answers'][t['assignment']]}.") for x in t["turns"])
        assert all("thinking" not in x["text"] and "I argue" not in x["text"] for x in t["turns"])  # private
    (debate,) = run_debate([ROW], (agent, scripted_agent("other")), cfg)
    assert debate["stats"]["quotes_verified"] == 4
    for turn in debate["turns"]:
        assert turn["text"].endswith(f"The answer is {ROW['answers'][turn['side']]}.")
    # the protocols' word limit applies to it as to a model: 8 words cut the quote, which is closed and checked
    (short,) = run_consultancy([ROW], agent, ProtocolConfig(word_limit=8))[1:]
    assert short["turns"][0]["text"] == "The article says: <v_quote>The main export of Keldwick</v_quote>"
    assert short["stats"]["truncated"] == 1


def test_scripted_agent_refuses_prompts_it_cannot_argue():
    no_article = {k: v for k, v in ROW.items() if k != "article"}
    with pytest.raises(ValueError, match="no article"):
        run_consultancy([no_article], scripted_agent(), ProtocolConfig())
    with pytest.raises(ValueError, match="assigned side"):
        parse_argument_prompt("Question: q\n(A) a\n(B) b\n<article>\nx\n</article>")
    assert evidence_sentence(ARTICLE, "copper", ROW["question"]) is None


def test_generated_rows_quote_the_asked_town_only_for_the_correct_answer():
    rows = generate_extractive(40, seed=3, towns_per_article=3)
    for row in rows:
        for side in (0, 1):
            sentence = evidence_sentence(row["article"], row["answers"][side], row["question"])
            assert sentence is not None
            assert (row["meta"]["town"] in sentence) == (side == row["correct"]), (row["id"], side, sentence)


def test_blind_option_removes_exactly_the_transcript():
    (t,) = run_debate([ROW], (scripted_agent(), scripted_agent()), ProtocolConfig())
    full, _ = judge_sft_rows([t])
    blind, report = judge_sft_rows([t], blind=True)
    assert report.rows == 2 and blind_view(t)["turns"] == [] and t["turns"]
    for f, b in zip(full, blind, strict=True):
        f_user, b_user = f["messages"][1]["content"], b["messages"][1]["content"]
        start, end = f_user.index("\n\n<transcript>"), f_user.index("</transcript>") + len("</transcript>")
        note = f_user[end:].split("\n\n")[1]
        assert note.startswith("Quotes in <v_quote>")  # the quote note only comes with a transcript
        assert b_user == f_user[:start] + f_user[end:].replace("\n\n" + note, "", 1)
        assert "Keldwick is salt" in f_user and "Keldwick is salt" not in b_user
        assert f["messages"][0] == b["messages"][0] and f["messages"][2] == b["messages"][2]
    pairs_full, _ = judge_dpo_pairs([t])
    pairs_blind, _ = judge_dpo_pairs([t], blind=True)
    for f, b in zip(pairs_full, pairs_blind, strict=True):
        assert (f["chosen"], f["rejected"]) == (b["chosen"], b["rejected"])
        assert b["prompt"] == blind[pairs_blind.index(b)]["messages"][:2]


def test_split_shares_no_question():
    rows = generate_extractive(200, seed=1, towns_per_article=2)
    train, held = split_by_question(rows, 0.3, seed=0)
    assert len(train) + len(held) == len(rows) and held and train
    assert not {r["question"] for r in train} & {r["question"] for r in held}


def _script():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("judge_effect_script", ROOT / "benchmarks" / "judge_effect.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    """A 64-wide model gains nothing from threads, and on a shared CPU two threads wait on each other (this test:
    36 s with one thread, 93 s with two, at load 10 on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_pipeline_end_to_end_tiny_model(tmp_path, one_thread):
    """The CLI on a tiny random model and a few questions: schema, the fc key kept, verdicts archived, and every
    p-value and accuracy recomputed here from the archived verdicts."""
    model = ts.tiny_model(tmp_path / "models")
    out = tmp_path / "results" / "run"
    out.mkdir(parents=True)
    (out / "effect_summary.json").write_text(json.dumps({"fc": {"machine": "elsewhere"}}))
    script = _script()
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"judge_model: {model}\nfamily: qwen25\nn_rows: 8\nsft_steps: 1\nword_limit: 12\n")
    script.main(["--recipe", str(recipe), "--out_dir", str(out), "--work_dir", str(tmp_path / "work"),
                 "--dpo_steps", "1", "--batch_size", "2", "--max_eval_rows", "2", "--heldout_fraction", "0.4",
                 "--protocols", "consultancy,debate", "--max_length", "2048"])
    summary = json.loads((out / "effect_summary.json").read_text())
    assert summary["fc"] == {"machine": "elsewhere"}
    judge = summary["judge"]
    assert judge["config"]["sft_steps"] == 1 and judge["config"]["dpo_steps"] == 1  # recipe, then flags
    assert set(judge["protocols"]) == {"consultancy", "debate"}
    archive = _archive_module()
    verdicts = {j: archive.read_rows(out / "judge", f"verdicts_{j}.jsonl") for j in ("untrained", "trained", "blind")}
    assert sorted(p.name for p in (out / "judge").iterdir()) == ["rows.tar.xz"]
    split = archive.read_rows(out / "judge", "split.jsonl")
    assert not ({r["question"] for r in split if r["side"] == "train"}
                & {r["question"] for r in split if r["side"] == "heldout"})
    for protocol, rec in judge["protocols"].items():
        for key in ("trained", "untrained", "blind", "ci", "n", "p_trained_vs_untrained", "p_trained_vs_blind"):
            assert key in rec, (protocol, key)
        per_question = 4 if protocol == "consultancy" else 2
        assert rec["n"] == per_question * 2 and rec["n_questions"] == 2  # 2 held-out rows
        ok = {j: {f"{r['transcript_id']}#{r['order']}": r["is_correct"] for r in vs if r["protocol"] == protocol}
              for j, vs in verdicts.items()}
        for j in ok:
            assert rec[j] == pytest.approx(sum(ok[j].values()) / rec["n"])
        assert rec["ci"][0] <= rec["trained"] <= rec["ci"][1]
        question = {f"{r['transcript_id']}#{r['order']}": r["id"] for r in verdicts["trained"]
                    if r["protocol"] == protocol}
        for other in ("untrained", "blind"):
            change: dict[str, int] = {}  # per question (the test's unit): right judgements gained by training
            for k in ok["trained"]:
                change[question[k]] = change.get(question[k], 0) + int(ok["trained"][k]) - int(ok[other][k])
            assert len(change) == 2
            assert rec[f"p_trained_vs_{other}"] == pytest.approx(_every_sign_pattern(list(change.values())))
    with pytest.raises(FileExistsError):  # never overwritten
        script.main(["--recipe", str(recipe), "--out_dir", str(out), "--work_dir", str(tmp_path / "work2")])


def _every_sign_pattern(changes: list[int]) -> float:
    """P(|sum of +-change| >= |observed sum|) over all 2^questions sign patterns, counted."""
    patterns = list(itertools.product((1, -1), repeat=len(changes)))
    observed = abs(sum(changes))
    return sum(abs(sum(s * c for s, c in zip(signs, changes, strict=True))) >= observed
               for signs in patterns) / len(patterns)


def _archive_module():
    spec = importlib.util.spec_from_file_location("run_archive", ROOT / "benchmarks" / "run_archive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_judge_training_data_cli_blind(tmp_path):
    """eval/judge_training_data.py --blind writes the same rows without the transcript."""
    from tooljudge.eval import judge_training_data

    (t,) = run_debate([ROW], (scripted_agent(), scripted_agent()), ProtocolConfig())
    path = tmp_path / "transcripts.jsonl"
    path.write_text(json.dumps(t) + "\n")
    for flag, folder in (([], "full"), (["--blind"], "blind")):
        judge_training_data.main(["--transcripts", str(path), "--out", str(tmp_path / folder), *flag])
    rows = {f: [json.loads(x) for x in (tmp_path / f / "judge_sft.jsonl").read_text().splitlines()]
            for f in ("full", "blind")}
    assert [r["messages"] for r in rows["blind"]] == [r["messages"] for r in judge_sft_rows([t], blind=True)[0]]
    assert all("<transcript>" in r["messages"][1]["content"] for r in rows["full"])
    assert not any("<transcript>" in r["messages"][1]["content"] for r in rows["blind"])


def test_protocol_names_come_from_the_registry():
    """A misspelt protocol gets the registry's did-you-mean; a registered one this pipeline does not run is named."""
    from tooljudge.train.judge_effect import JudgeEffectConfig

    assert JudgeEffectConfig(out_dir="x", protocols="debate, qa").protocol_list() == ["debate", "qa"]
    with pytest.raises(ValueError, match="did you mean 'debate'"):
        JudgeEffectConfig(out_dir="x", protocols="debat").protocol_list()
    with pytest.raises(ValueError, match="this pipeline runs qa, consultancy, debate; got 'open_debate'"):
        JudgeEffectConfig(out_dir="x", protocols="open_debate").protocol_list()


def run_tiny(tmp_path: Path, name: str, *flags: str) -> Path:
    """The judge-effect CLI on a tiny random model, 8 rows, 1 SFT and 1 DPO step, 2 held-out rows; returns
    its out_dir (``tmp_path/results/<name>``, work under ``tmp_path/work``)."""
    model = ts.tiny_model(tmp_path / "models")
    out = tmp_path / "results" / name
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"judge_model: {model}\nfamily: qwen25\nn_rows: 8\nword_limit: 12\n")
    _script().main(["--recipe", str(recipe), "--out_dir", str(out), "--work_dir", str(tmp_path / "work"),
                    "--sft_steps", "1", "--dpo_steps", "1", "--batch_size", "2", "--max_eval_rows", "2",
                    "--heldout_fraction", "0.4", "--max_length", "2048", *flags])
    return out


def test_lora_rank_zero_trains_and_judges_with_whole_models(tmp_path, one_thread):
    """``lora_r: 0`` is full fine-tuning: SFT and DPO write whole models (no adapter), and the judge loads them."""
    out = run_tiny(tmp_path, "full", "--protocols", "debate", "--lora_r", "0")
    for judge in ("trained", "blind"):
        for stage in ("sft", "dpo"):
            folder = tmp_path / "work" / judge / stage
            assert not (folder / "adapter_config.json").exists() and any(folder.glob("*.safetensors")), folder
    assert set(json.loads((out / "effect_summary.json").read_text())["judge"]["protocols"]) == {"debate"}


def test_negative_lora_rank_is_refused():
    from tooljudge.train.judge_effect import JudgeEffectConfig, _recipe

    with pytest.raises(ValueError, match="lora_r must be >= 0"):
        _recipe(JudgeEffectConfig(out_dir="x", lora_r=-1), "sft", Path("d"), Path("o"), None)


def test_gradient_checkpointing_reaches_both_trainings():
    """The memory switch is passed to SFT and DPO alike (off by default: the CPU presets' speed)."""
    from tooljudge.train.judge_effect import JudgeEffectConfig, _recipe
    from tooljudge.train.recipe import recipe_from_dict

    for flag in (False, True):
        cfg = JudgeEffectConfig(out_dir="x", gradient_checkpointing=flag)
        for kind, init in (("sft", None), ("dpo", Path("sft"))):
            recipe = recipe_from_dict(_recipe(cfg, kind, Path("d.jsonl"), Path("out"), init))
            assert recipe.training["gradient_checkpointing"] is flag, (kind, flag)

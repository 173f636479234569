"""BFCL multi-turn: answer keys pass and perturbations fail with BFCL's own verdicts, per API class; the loader
equals BFCL's preparation; a scripted model drives the whole loop; nothing a model writes is ever evaluated.

The reference is BFCL's code from the installed package: ``multi_turn_checker`` and
``execute_multi_turn_func_call`` (which ``eval`` their input). They only ever get strings this file builds from
BFCL's answer keys and fixed edits, never model text.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import itertools
import json
import sys

import pytest
from tooljudge.eval.bfcl_mt_checker import check_decoded, check_transcript
from tooljudge.eval.bfcl_mt_data import MT_CATEGORIES, load_category, load_multi_turn, set_categories
from tooljudge.eval.bfcl_mt_executor import ApiEnvironment, Call, CallSyntaxError, parse_call_string
from tooljudge.eval.bfcl_multi_turn import (
    MultiTurnConfig,
    evaluate_multi_turn,
    multi_turn_categories,
    save_multi_turn,
    score_saved,
)

FAMILY = "qwen25"  # SmolLM2's tool template in this repo (Hermes <tool_call>)
# An extra call per class that changes its state in most entries (the test picks one that does, per entry).
EXTRA_CALLS = {
    "GorillaFileSystem": ["touch(file_name='zz_extra.txt')"],
    "MessageAPI": ["add_contact(user_name='zz_extra')"],
    "TwitterAPI": ["post_tweet(content='zz extra')"],
    "TicketAPI": ["ticket_login(username='zz', password='zz')", "create_ticket(title='zz', description='x')"],
    "TradingBot": ["fund_account(amount=1.0)", "trading_logout()"],
    "TravelAPI": ["authenticate_travel(client_id='zz', client_secret='zz', refresh_token='zz', "
                  "grant_type='read_write', user_first_name='Zz', user_last_name='Zz')"],
    "VehicleControlAPI": ["pressBrakePedal(pedalPosition=0.5)", "setHeadlights(mode='on')"],
}
CLASSES = ("GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI", "TradingBot", "TravelAPI",
           "VehicleControlAPI")
_names = itertools.count()


@pytest.fixture(scope="module")
def entries() -> dict[str, list[dict]]:
    return {c: load_category(c) for c in MT_CATEGORIES}


def bfcl_verdict(entry: dict, decoded: list[list[list[str]]]) -> dict:
    """BFCL's own checker (eval of strings built here from the answer key), fresh instances per call."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    if len(decoded) != len(entry["ground_truth"]):
        return {"valid": False, "error_type": "multi_turn:force_terminated"}
    return multi_turn_checker(decoded, entry["ground_truth"], entry, entry["category"], f"tjtest{next(_names)}")


def ours(entry: dict, decoded: list[list[list[str]]]) -> dict:
    return check_decoded(entry, [[[parse_call_string(s) for s in step] for step in turn] for turn in decoded])


def key_steps(entry: dict) -> list[list[list[str]]]:
    """The answer key as model steps: one step with all of a turn's calls, none for an empty turn."""
    return [[list(turn)] if turn else [] for turn in entry["ground_truth"]]


def class_of(entry: dict, name: str) -> str | None:
    env = ApiEnvironment(entry["involved_classes"], entry["initial_config"])
    method = env.methods.get(name)
    return type(method.__self__).__name__ if method else None


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    if isinstance(value, str):
        return value + "_zz"
    if isinstance(value, list):
        return value + ["zz"]
    return "zz"


def perturbations(entry: dict, cls: str) -> dict[str, list[list[list[str]]]]:
    """Wrong argument / missing call / extra state-changing call, on the first answer-key call of ``cls``."""
    steps = key_steps(entry)
    out = {}
    for t, turn in enumerate(entry["ground_truth"]):
        for i, text in enumerate(turn):
            call = parse_call_string(text)
            if class_of(entry, call.name) != cls:
                continue
            if call.kwargs or call.args:
                if call.kwargs:
                    key = next(iter(call.kwargs))
                    wrong = Call(call.name, {**call.kwargs, key: _changed(call.kwargs[key])}, call.args)
                else:
                    wrong = Call(call.name, {}, (_changed(call.args[0]), *call.args[1:]))
                out["wrong_argument"] = [[list(s) for s in tr] for tr in steps]
                out["wrong_argument"][t][0][i] = wrong.to_bfcl()
            out["missing_call"] = [[list(s) for s in tr] for tr in steps]
            del out["missing_call"][t][0][i]
            if not out["missing_call"][t][0]:
                out["missing_call"][t] = []
            for extra in EXTRA_CALLS.get(cls, []):
                env = ApiEnvironment(entry["involved_classes"], entry["initial_config"])
                inst = env.instances[cls]
                before = copy.deepcopy({k: v for k, v in vars(inst).items() if not k.startswith("_")})
                env.execute([parse_call_string(extra)])
                if before != {k: v for k, v in vars(inst).items() if not k.startswith("_")}:
                    out["extra_state_call"] = [[list(s) for s in tr] for tr in steps]
                    out["extra_state_call"][t][0].insert(0, extra)
                    break
            return out
    return out


# ------------------------------------------------------------------------------------------------- data


def test_loader_equals_bfcl_preparation(entries, monkeypatch, tmp_path):
    """Function docs, held-out docs and hints exactly as BFCL's runner prepares them (its file lock disabled and
    its project root, whose result/score/lock folders it creates on import, sent to a temporary folder: by
    default they go beside the installed package)."""
    monkeypatch.setenv("BFCL_PROJECT_ROOT", str(tmp_path))
    import bfcl_eval.utils as bu

    monkeypatch.setattr(bu, "_get_file_lock", lambda path: contextlib.nullcontext())
    for cat in ("multi_turn_base", "multi_turn_miss_func"):
        theirs = bu.add_language_specific_hint_to_function_doc(
            bu.populate_test_cases_with_predefined_functions(bu.load_file(bu.PROMPT_PATH / f"BFCL_v4_{cat}.json")))
        mine = entries[cat]
        assert [e["id"] for e in mine] == [e["id"] for e in theirs]
        for a, b in zip(mine, theirs, strict=True):
            assert a["function"] == b["function"], a["id"]
            assert a.get("missed_function") == b.get("missed_function"), a["id"]
            assert a["question"] == b["question"] and a["initial_config"] == b["initial_config"]


def test_set_names():
    assert set_categories("bfcl_multi_turn") == MT_CATEGORIES
    assert set_categories("bfcl_multi_turn_base") == ("multi_turn_base",)
    assert set_categories("bfcl_simple") is None
    with pytest.raises(ValueError, match="bfcl_multi_turn_base"):
        set_categories("bfcl_multi_turn_nope")
    assert multi_turn_categories(["builtin", "bfcl_multi_turn_miss_param", "bfcl_multi_turn"]) == [
        "multi_turn_miss_param", "multi_turn_base", "multi_turn_miss_func", "multi_turn_long_context"]
    assert len(load_multi_turn(["multi_turn_base"], max_examples=5)) == 5


# ------------------------------------------------------------------------------------------- checker


def test_every_answer_key_passes(entries):
    """All 800 answer keys pass (BFCL's count: every multi-turn answer key is valid under its checker)."""
    failed = [e["id"] for es in entries.values() for e in es if not ours(e, key_steps(e))["valid"]]
    assert failed == []


def _sample(entries, cls: str, per_category: int = 2) -> list[dict]:
    out = []
    for cat in MT_CATEGORIES:
        found = [e for e in entries[cat] if cls in e["involved_classes"]]
        step = max(1, len(found) // per_category)
        out.extend(found[::step][:per_category])
    return out


@pytest.mark.parametrize("cls", CLASSES)
def test_answer_keys_and_perturbations_match_bfcl(entries, cls):
    """Per API class: BFCL's verdict and error type on the answer key and on each perturbation; the answer key
    passes, every perturbation fails."""
    kinds_failed = set()
    for entry in _sample(entries, cls):
        key = key_steps(entry)
        assert ours(entry, key) == {"valid": True, "error_type": None, "error_message": "", "details": {}}
        assert bfcl_verdict(entry, key)["valid"] is True
        for kind, decoded in perturbations(entry, cls).items():
            mine, theirs = ours(entry, decoded), bfcl_verdict(entry, decoded)
            assert (mine["valid"], mine["error_type"]) == (theirs["valid"], theirs.get("error_type")), (
                entry["id"], kind, decoded, mine, theirs)
            assert not mine["valid"], (entry["id"], kind, decoded)
            kinds_failed.add(kind)
    expected = {"wrong_argument", "missing_call"} | ({"extra_state_call"} if cls in EXTRA_CALLS else set())
    assert kinds_failed == expected  # MathAPI is stateless: no extra call can change its state


def structural_edits(entry: dict, rng) -> dict[str, list[list[list[str]]]]:
    """Model-like edits of the answer key: a duplicated call, one call per step, shuffled calls, a turn's calls
    made one turn early, a dropped or an extra keyword, an empty last turn, an unknown function first."""
    steps = key_steps(entry)

    def copy_steps():
        return [[list(s) for s in turn] for turn in steps]

    out = {}
    flat = [(t, i) for t, turn in enumerate(entry["ground_truth"]) for i in range(len(turn))]
    if flat:
        t, i = rng.choice(flat)
        d = copy_steps()
        d[t][0].append(d[t][0][i])
        out["duplicate"] = d
        d = copy_steps()
        d[t] = [[c] for c in d[t][0]]
        out["one_call_per_step"] = d
        d = copy_steps()
        rng.shuffle(d[t][0])
        out["shuffled"] = d
        if t > 0 and steps[t - 1]:
            d = copy_steps()
            d[t - 1][0].extend(d[t][0])
            d[t] = []
            out["one_turn_early"] = d
        call = parse_call_string(entry["ground_truth"][t][i])
        if call.kwargs:
            key = rng.choice(list(call.kwargs))
            d = copy_steps()
            d[t][0][i] = Call(call.name, {k: v for k, v in call.kwargs.items() if k != key}, call.args).to_bfcl()
            out["dropped_keyword"] = d
            d = copy_steps()
            d[t][0][i] = Call(call.name, {**call.kwargs, "zz_extra": 1}, call.args).to_bfcl()
            out["extra_keyword"] = d
    d = copy_steps()
    d[-1] = []
    out["empty_last_turn"] = d
    d = copy_steps()
    d[0] = [["no_such_fn(a=1)"], *d[0]]
    out["unknown_function"] = d
    return out


@pytest.mark.slow
def test_every_entry_and_edit_matches_bfcl(entries):
    """Every entry of the four categories: the answer key, the per-class perturbations and the structural edits
    get BFCL's verdict and error type (9,306 edits + 800 keys; about 30 s of CPU)."""
    import random

    rng = random.Random(0)
    disagree, n = [], 0
    for entry in (e for es in entries.values() for e in es):
        cases = {"key": key_steps(entry)}
        for cls in entry["involved_classes"]:
            cases.update({f"{cls}:{k}": v for k, v in perturbations(entry, cls).items()})
        cases.update(structural_edits(entry, rng))
        for kind, decoded in cases.items():
            mine, theirs = ours(entry, decoded), bfcl_verdict(entry, decoded)
            n += 1
            if (mine["valid"], mine["error_type"]) != (theirs["valid"], theirs.get("error_type")):
                disagree.append((entry["id"], kind, mine["error_type"], theirs.get("error_type")))
    assert disagree == [] and n > 10_000


def test_execution_results_equal_bfcl(entries):
    """The result text of every answer-key call (the response check compares these) equals BFCL's executor's."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

    for cls in CLASSES:
        for entry in _sample(entries, cls, 1):
            env = ApiEnvironment(entry["involved_classes"], entry["initial_config"], "long_context" in entry["id"])
            name = f"tjexec{next(_names)}"
            for turn in entry["ground_truth"]:
                theirs, _ = execute_multi_turn_func_call(turn, entry["initial_config"], entry["involved_classes"],
                                                         name, entry["id"], "long_context" in entry["id"])
                assert env.execute([parse_call_string(s) for s in turn]) == theirs, entry["id"]


def test_refused_and_unknown_names_read_as_bfcl():
    """BFCL's refused names and an undefined name give BFCL's texts (its executor refuses these before eval)."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

    env = ApiEnvironment(["MathAPI"], {})
    theirs, _ = execute_multi_turn_func_call(["kill()", "os.remove(path='x')"], {}, ["MathAPI"], "tjref", "mt_0")
    assert env.execute([Call("kill"), Call("os.remove", {"path": "x"})]) == theirs
    assert env.execute_one(Call("no_such_api")) == "Error during execution: name 'no_such_api' is not defined"
    assert env.execute_one(Call("_load_scenario", {"scenario": {}})).startswith("Error during execution: name")
    assert env.execute_one(Call("add", {"a": 1})).startswith("Error during execution: MathAPI.add() missing")


def test_call_strings_are_read_as_literals_only():
    assert parse_call_string("sort('a.txt')") == Call("sort", {}, ("a.txt",))
    assert parse_call_string("mv(source='a', destination='b')").kwargs == {"source": "a", "destination": "b"}
    for bad in ("cd(folder=__import__('os').getcwd())", "x = 1", "ls(**{'a': True})", "ls(a=b)"):
        with pytest.raises(CallSyntaxError):
            parse_call_string(bad)


def test_force_terminated_and_inference_error(entries):
    entry = entries["multi_turn_base"][0]
    short = key_steps(entry)[:-1]
    assert ours(entry, short)["error_type"] == "multi_turn:force_terminated"
    assert check_transcript(entry, "not a list", FAMILY)["error_type"] == "multi_turn:inference_error"


# -------------------------------------------------------------------------------------------- driver


def _tool_call(text: str) -> str:
    call = parse_call_string(text)
    assert not call.args or call.name in ("sort",), text
    kwargs = dict(call.kwargs)
    if call.args:  # the answer key's positional sort('f'): the API's first parameter
        kwargs = {"file_name": call.args[0], **kwargs}
    return "<tool_call>\n" + json.dumps({"name": call.name, "arguments": kwargs}) + "\n</tool_call>"


class ScriptedModel:
    """A backend that answers from the answer key: at a new user turn, all the turn's calls in one step (a text
    reply when the key is empty); after tool results, a text reply. ``corrupt`` rewrites the calls of one turn."""

    def __init__(self, entries: list[dict], corrupt=None):
        self.by_question = {json.dumps(e["question"][0][0]["content"]): e for e in entries}
        assert len(self.by_question) == len(entries)
        self.corrupt = corrupt
        self.prompts: list[str] = []

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        self.prompts.extend(prompts)
        return [self._reply(p) for p in prompts]

    def _reply(self, prompt: str) -> str:
        entry = next(e for q, e in self.by_question.items() if json.loads(q) in prompt)
        blocks = prompt.split("<|im_start|>")[1:-1]
        if blocks[-1].startswith("user\n<tool_response>"):
            return "Done."
        turn = sum(b.startswith("user\n") and not b.startswith("user\n<tool_response>") for b in blocks) - 1
        calls = entry["ground_truth"][turn]
        if self.corrupt:
            calls = self.corrupt(entry, turn, calls)
        return "\n".join(_tool_call(c) for c in calls) if calls else "I cannot do that with these tools."


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    return AutoTokenizer.from_pretrained(smollm2_checkpoint())


MARKER = "PWNED"  # in every malicious output below: no eval/exec may ever see it


def _mentions_marker(source) -> bool:
    if isinstance(source, (str, bytes)):
        return MARKER in (source if isinstance(source, str) else source.decode(errors="replace"))
    consts = getattr(source, "co_consts", ())
    return any(_mentions_marker(c) for c in consts if isinstance(c, (str, bytes)) or hasattr(c, "co_consts"))


@pytest.fixture()
def no_eval(monkeypatch):
    """No eval/exec may receive model text (BFCL's runner evaluates it; ours must not), and BFCL's eval-based
    executor is never called. Other eval/exec use (imports, dataclasses, Jinja) is left alone."""
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    def guard(real):
        def run(source, *args, **kwargs):
            if _mentions_marker(source):
                raise AssertionError(f"{real.__name__} called on model text: {str(source)[:200]}")
            if not args and "globals" not in kwargs:  # keep the caller's namespace, as a direct call would
                caller = sys._getframe(1)
                args = (caller.f_globals, caller.f_locals)
            return real(source, *args, **kwargs)
        return run

    def refuse(*args, **kwargs):
        raise AssertionError("BFCL's eval-based executor was called")

    monkeypatch.setattr(builtins, "eval", guard(builtins.eval))
    monkeypatch.setattr(builtins, "exec", guard(builtins.exec))
    monkeypatch.setattr(multi_turn_utils, "execute_multi_turn_func_call", refuse)


@pytest.mark.parametrize("category", MT_CATEGORIES)
def test_scripted_model_drives_the_loop(entries, tokenizer, category, no_eval, tmp_path):
    chosen = [e for e in entries[category] if not any(
        parse_call_string(c).args and parse_call_string(c).name != "sort" for t in e["ground_truth"] for c in t)][:3]
    model = ScriptedModel(chosen)
    res = evaluate_multi_turn(model, tokenizer, FAMILY, MultiTurnConfig(categories=[category]), entries=chosen)
    assert [r["correct"] for r in res["records"]] == [True] * len(chosen), res["records"][0]["reason"]
    assert res["metrics"]["categories"][category]["accuracy"]["k"] == len(chosen)
    rec = res["records"][0]
    assert len(rec["result"]) == len(chosen[0]["question"]) and rec["steps"][0][0]["results"]
    if category == "multi_turn_miss_func":  # the held-out function is offered only from its turn on
        turn, [doc] = next(iter(chosen[0]["missed_function"].items()))
        name, first = f'"name": "{doc["name"]}"', chosen[0]["question"][0][0]["content"]
        own = [p for p in model.prompts if first in p]
        assert any(name in p for p in own)
        assert all((name in p) == ("I have updated some more functions" in p) for p in own)
    # every verdict saved, and offline scoring of the saved transcripts gives the same verdicts
    paths = save_multi_turn(res, tmp_path)
    again = score_saved(paths["examples"], FAMILY, tmp_path / "again")
    assert [r["correct"] for r in again["records"]] == [r["correct"] for r in res["records"]]
    assert json.loads(paths["metrics"].read_text())["metrics"]["overall"]["n"] == len(chosen)


def test_scripted_wrong_calls_fail(entries, tokenizer, no_eval):
    chosen = entries["multi_turn_base"][:2]

    def drop_last_turn_calls(entry, turn, calls):
        return calls[:-1] if turn == len(entry["ground_truth"]) - 1 else calls

    res = evaluate_multi_turn(ScriptedModel(chosen, drop_last_turn_calls), tokenizer, FAMILY, entries=chosen)
    assert [r["correct"] for r in res["records"]] == [False, False]
    assert {r["error_type"] for r in res["records"]} <= {"multi_turn:instance_state_mismatch",
                                                          "multi_turn:execution_response_mismatch",
                                                          "multi_turn:empty_turn_model_response"}


class LoopingModel:
    """Calls a harmless API method forever: the step limit must end the conversation."""

    def generate(self, prompts, **kwargs):
        return ['<tool_call>\n{"name": "pwd", "arguments": {}}\n</tool_call>'] * len(prompts)


def test_step_limit_force_terminates(entries, tokenizer):
    entry = next(e for e in entries["multi_turn_base"] if e["involved_classes"][0] == "GorillaFileSystem")
    res = evaluate_multi_turn(LoopingModel(), tokenizer, FAMILY, MultiTurnConfig(max_steps=3), entries=[entry])
    rec = res["records"][0]
    assert rec["force_quit"] and rec["error_type"] == "multi_turn:force_terminated"
    assert [len(t) for t in rec["result"]] == [4]  # BFCL: quits once the count of call steps exceeds the limit


class MaliciousModel:
    """Writes code where calls belong, in every form the parsers accept."""

    OUTPUTS = [
        '<tool_call>\n{"name": "__import__(\'os\').system", "arguments": {"command": "touch PWNED"}}\n</tool_call>',
        '<tool_call>\n{"name": "cd", "arguments": {"folder": "__import__(\'os\').system(\'touch PWNED\')"}}\n</tool_call>',
        '<tool_call>\n{"name": "eval", "arguments": {"source": "open(\'PWNED\', \'w\')"}}\n</tool_call>',
        '<tool_call>\n{"name": "_load_scenario", "arguments": {"scenario": {}}}\n</tool_call>',
        "[__import__('os').system('touch PWNED')]",
    ]

    def __init__(self):
        self.i = 0

    def generate(self, prompts, **kwargs):
        out = []
        for _ in prompts:
            out.append(self.OUTPUTS[self.i % len(self.OUTPUTS)])
            self.i += 1
        return out


def test_model_text_is_never_executed(entries, tokenizer, tmp_path, monkeypatch, no_eval):
    monkeypatch.chdir(tmp_path)
    entry = next(e for e in entries["multi_turn_base"] if "GorillaFileSystem" in e["involved_classes"])
    res = evaluate_multi_turn(MaliciousModel(), tokenizer, FAMILY, MultiTurnConfig(max_steps=3), entries=[entry])
    assert not (tmp_path / "PWNED").exists()
    results = [r for turn in res["records"][0]["steps"] for step in turn for r in step["results"]]
    # the names are no API method; the code given to cd is just a folder name that does not exist
    assert [r.startswith("Error during execution: name") for r in results] == [True, False, True, True], results
    assert results[1].startswith('{"error": "cd:')
    assert not res["records"][0]["correct"]


def test_eval_hook_runs_multi_turn_sets(entries, tokenizer, tmp_path, monkeypatch):
    """``--sets bfcl_multi_turn_base`` through the hook: metrics flattened, transcripts in mt_examples.jsonl."""
    from tooljudge.eval import bfcl_multi_turn
    from tooljudge.eval.hook import evals_with_backend, write_results

    chosen = entries["multi_turn_base"][:2]
    monkeypatch.setattr(bfcl_multi_turn, "load_multi_turn", lambda *a, **k: chosen)
    out = evals_with_backend(ScriptedModel(chosen), tokenizer, FAMILY,
                             {"sets": ["bfcl_multi_turn_base"], "max_examples": 2})
    assert out["metrics"]["mt/multi_turn_base/accuracy"] == 1.0 and "function_calls" not in out
    write_results(out, tmp_path, step=0)
    saved = [json.loads(line) for line in (tmp_path / "mt_examples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in saved] == [e["id"] for e in chosen] and all(r["correct"] for r in saved)
    assert json.loads((tmp_path / "eval_results.json").read_text())["mt_examples_file"] == "mt_examples.jsonl"


def test_silent_model_is_a_wrong_answer_not_an_error(entries, tokenizer):
    """Empty outputs end each turn (as in BFCL) and the conversation goes on to the last turn."""

    class Silent:
        def generate(self, prompts, **kwargs):
            return [""] * len(prompts)

    entry = entries["multi_turn_base"][0]
    rec = evaluate_multi_turn(Silent(), tokenizer, FAMILY, entries=[entry])["records"][0]
    assert rec["result"] == [[""]] * len(entry["question"]) and "inference_error" not in rec
    assert rec["error_type"] == "multi_turn:empty_turn_model_response"

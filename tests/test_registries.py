"""Every extension point is a registry: a record registered from outside the package (here, in the test) runs
through the real path, and an unknown name is refused with a did-you-mean naming the known ones."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from tooljudge.data_prep.builtin_sources import (
    BUILTIN_SOURCE_REGISTRY,
    BuiltinSource,
    register_builtin_source,
)
from tooljudge.data_prep.data_mix import load_source
from tooljudge.data_prep.families import (
    FAMILIES,
    FAMILY_NAMES,
    FamilySpec,
    detect_family_name,
    get_family,
    register_family,
    unregister_family,
)
from tooljudge.data_prep.importers import DATASET_FORMATS, DatasetFormat, detect_format, register_format
from tooljudge.data_prep.judge_tasks import generate_extractive, generate_prontoqa
from tooljudge.data_prep.masking import prepare_example, render_prompt
from tooljudge.data_prep.preference_pairs import (
    REJECTION_KIND_REGISTRY,
    REJECTION_KINDS,
    check_kinds,
    one_call_mistake,
    rejection_kind,
    rule_pairs,
)
from tooljudge.data_prep.sources import load_conversations
from tooljudge.data_prep.synthetic import (
    CATEGORIES,
    SYNTH_CATEGORIES,
    SynthCategory,
    SynthConfig,
    gen_single,
    register_category,
    synthesize,
)
from tooljudge.eval.judge_eval import JudgeEvalConfig, evaluate_judge
from tooljudge.eval.judge_protocol_registry import (
    BUILTIN_PROTOCOLS,
    JUDGE_PROTOCOLS,
    JudgeProtocol,
    JudgeView,
    register_protocol,
)
from tooljudge.eval.judge_protocols import Agent, ProtocolConfig, run_consultancy
from tooljudge.eval.judges import JudgeConfig, judge_messages

from tooljudge.core.tool_parsers import CALL_FORMATS, FAMILY_ALIASES, parse_tool_calls
from tooljudge.registry import Registry, UnknownNameError


# ------------------------------------------------------------------------------------------ the helper
def test_registry_keeps_order_refuses_a_taken_name_and_suggests_the_closest():
    reg: Registry[str] = Registry("colour")
    reg.register("#f00", "red", aliases=("rouge",))
    reg.register("#00f", "blue")
    assert reg.names() == ["red", "blue"] and reg.get("rouge") == "#f00" and "rouge" in reg
    with pytest.raises(ValueError, match="colour 'red' is already registered"):
        reg.register("#e00", "red")
    reg.register("#e00", "red", replace=True)
    assert reg.get("red") == "#e00"
    with pytest.raises(UnknownNameError, match=r"unknown colour 'bleu' \(did you mean 'blue'\?\); choose from red, blue"):
        reg.get("bleu")
    assert reg.unregister("red") == "#e00" and "rouge" not in reg and reg.names() == ["blue"]


@pytest.mark.parametrize(("call", "closest"), [
    (lambda: JUDGE_PROTOCOLS.get("debat"), "debate"),
    (lambda: check_kinds(["wrong_fuction"]), "wrong_function"),
    (lambda: load_conversations([], fmt="sharegtp"), "sharegpt"),
    (lambda: SYNTH_CATEGORIES.get("paralel"), "parallel"),
    (lambda: BUILTIN_SOURCE_REGISTRY.get("tool_wrld"), "tool_world"),
])
def test_unknown_names_get_the_did_you_mean(call, closest):
    with pytest.raises(UnknownNameError, match=f"did you mean '{closest}'") as info:
        call()
    assert closest in info.value.known


def test_evaluate_judge_refuses_an_unknown_protocol_before_any_generation():
    backend = FakeBackend()
    with pytest.raises(ValueError, match=r"unknown judge protocol 'open_debat' \(did you mean 'open_debate'\?\)"):
        evaluate_judge(Agent(backend, render), generate_prontoqa(2), ["qa", "open_debat"])
    assert backend.calls == []


# ------------------------------------------------------------------------------------------ judge protocols
def render(messages: list[dict]) -> str:
    return "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages) + "<assistant>\n"


class FakeBackend:
    """A scripted agent and judge: argues with a fixed text, and as a judge prefers answer (A) in 3 prompts of
    4 (by a hash of the prompt, so both orders differ); records every prompt."""

    def __init__(self):
        self.calls: list[str] = []

    def generate(self, prompts, max_new_tokens=256, temperature=0.0, stop=None, seed=0):
        self.calls += prompts
        return ["<thinking>plan</thinking><argument>Trust me, it is this one.</argument>" for _ in prompts]

    def label_probs(self, prompts, labels):
        self.calls += prompts
        return [[0.8, 0.2] if sum(map(ord, p)) % 4 else [0.3, 0.7] for p in prompts]


ADVISOR_SYSTEM = "You are a judge. An advisor argues for the answer it was told is wrong. Pick the correct answer."


def _advisor(rows, ctx):
    """Consultancy on the wrong side only, relabelled: a protocol the package does not ship."""
    out = []
    for t in run_consultancy(rows, ctx.agent, ctx.config):
        if t["assignment"] != t["correct"]:
            out.append(dict(t, protocol="advisor", transcript_id=t["transcript_id"].replace(":consultancy:", ":advisor:")))
    return out


@pytest.fixture()
def toy_protocols():
    register_protocol(JudgeProtocol("advisor", JudgeView(ADVISOR_SYSTEM, speaker="Advisor"), generate=_advisor,
                                    summary=("consultant_agreement",)))
    register_protocol(JudgeProtocol(
        "open_advisor", base="advisor",
        derive=lambda recs, direct: [dict(r, protocol="open_advisor", agent_answer=direct[r["id"]]) for r in recs
                                     if direct[r["id"]] != r["assignment"]]))
    yield
    JUDGE_PROTOCOLS.unregister("open_advisor")
    JUDGE_PROTOCOLS.unregister("advisor")


def test_a_protocol_registered_outside_the_package_runs_through_evaluate_judge(toy_protocols, tmp_path):
    rows = generate_extractive(3, seed=2) + generate_prontoqa(3, seed=4)
    backend = FakeBackend()
    cfg = JudgeEvalConfig(protocol=ProtocolConfig(word_limit=20), judge=JudgeConfig(both_orders=True),
                          n_resamples=50)
    res = evaluate_judge(Agent(backend, render, "fake"), rows, ["qa", "advisor", "open_advisor"], config=cfg,
                         out_dir=tmp_path, keep_records=True)
    advisor = res["records"]["advisor"]
    assert len(advisor) == 6 * 2  # one wrong-side transcript per question, judged in both orders
    assert all(r["protocol"] == "advisor" and r["assignment"] != r["correct_answer"] for r in advisor)
    assert "consultant_agreement" in res["protocols"]["advisor"]
    assert set(res["comparisons"]) == {"qa_vs_advisor", "qa_vs_open_advisor", "advisor_vs_open_advisor"}
    # the judge saw the toy view: its system prompt, the advisor named as such, never its private thinking
    judged = [p for p in backend.calls if ADVISOR_SYSTEM in p]
    assert len(judged) == 12 and all("Advisor (argues for (" in p and "plan" not in p for p in judged)
    # the derived protocol reused those judgements (nothing judged twice) and the QA answers as direct answers
    assert res["protocols"]["open_advisor"]["n_judgements"] == len(res["records"]["open_advisor"]) > 0
    assert sum(ADVISOR_SYSTEM in p for p in backend.calls) == 12
    assert (tmp_path / "results.json").exists() and (tmp_path / "accuracy.png").exists()
    assert JUDGE_PROTOCOLS.names()[: len(BUILTIN_PROTOCOLS)] == list(BUILTIN_PROTOCOLS)


def test_built_in_views_are_what_the_judge_reads():
    row = generate_extractive(1, seed=1)[0]
    t = {**row, "protocol": "open_consultancy", "turns": [{"speaker": "a", "side": 1, "round": 1, "text": "x"}],
         "transcript_id": "t"}
    msgs = judge_messages(t, order=1)
    assert msgs[0]["content"].startswith("You are a judge. A consultant was assigned")
    assert "Consultant (argues for (A), round 1): x" in msgs[1]["content"] and "<article>" not in msgs[1]["content"]
    qa = judge_messages({**row, "protocol": "qa_article", "turns": []}, order=0)
    assert "<article>" in qa[1]["content"]


def test_a_protocol_record_is_either_assigned_or_derived():
    with pytest.raises(ValueError, match="either view \\+ generate"):
        JudgeProtocol("broken", JudgeView("x"))
    with pytest.raises(ValueError, match="base 'open_debate' is itself derived"):
        register_protocol(JudgeProtocol("open_open", base="open_debate", derive=lambda r, d: list(r)))


# ------------------------------------------------------------------------------------------ pair kinds
@pytest.fixture(scope="module")
def synth_rows():
    return synthesize(SynthConfig(n=40, seed=3))[0]


def test_a_rejection_kind_registered_outside_the_package_makes_checked_pairs(synth_rows):
    @rejection_kind("argument_dropped_everywhere", "every argument left out")
    @one_call_mistake
    def _drop_all(call, props, params, ctx):
        if not call["arguments"] or not params.get("required"):
            return "no_required_arg"
        call["arguments"] = {}
        return ""

    try:
        pairs, report = rule_pairs(synth_rows, seed=0, kinds=["argument_dropped_everywhere"], meta=True)
    finally:
        REJECTION_KIND_REGISTRY.unregister("argument_dropped_everywhere")
    assert pairs and report.by_kind == {"argument_dropped_everywhere": len(pairs)}
    for p in pairs:  # one call of the turn lost all its arguments, the others are the reference's
        rejected, chosen = p["rejected"][0]["tool_calls"], p["chosen"][0]["tool_calls"]
        emptied = [i for i, c in enumerate(rejected) if c["function"]["arguments"] == {}]
        assert len(emptied) == 1 and len(rejected) == len(chosen)
    assert "argument_dropped_everywhere" not in REJECTION_KINDS


# ------------------------------------------------------------------------------------------ dataset formats
def test_a_format_registered_outside_the_package_is_detected_and_loaded():
    def convert(row, options):
        return {"messages": [{"role": "user", "content": row["q"]}, {"role": "assistant", "content": row["a"]}],
                "tools": []}

    register_format(DatasetFormat("qa_pairs", convert, lambda row: set(row) == {"q", "a"}, "'q'+'a'"))
    try:
        rows, report = load_conversations([{"q": "Hi?", "a": "Hello."}, {"messages": [
            {"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}, {"z": 1}])
        assert detect_format({"q": 1, "a": 2}) == "qa_pairs"
        assert [r["messages"][0]["content"] for r in rows] == ["Hi?", "x"]
        assert report.formats == {"qa_pairs": 1, "openai": 1}
        assert "or 'q'+'a' (qa_pairs)" in str(report.problems[0]) and report.problems[0].row == 2
    finally:
        DATASET_FORMATS.unregister("qa_pairs")


# ------------------------------------------------------------------------------------------ synthetic categories
def test_a_category_registered_outside_the_package_goes_through_the_filters():
    def gen_two_tools_offered(ctx):
        row = gen_single(ctx, distractors=1, category="two_offered")
        assert len(row["tools"]) == 2
        return row

    register_category(SynthCategory("two_offered", gen_two_tools_offered, weight=0.0))
    try:
        rows, report = synthesize(SynthConfig(n=8, seed=1, mix={"two_offered": 1.0}))
    finally:
        SYNTH_CATEGORIES.unregister("two_offered")
    assert len(rows) == 8 and {r["category"] for r in rows} == {"two_offered"}
    assert report.kept_by_category == {"two_offered": 8}
    assert "two_offered" not in CATEGORIES


# ------------------------------------------------------------------------------------------ built-in sources
def test_a_builtin_source_registered_outside_the_package_loads_through_the_recipe_path():
    from dataclasses import dataclass

    @dataclass
    class EchoConfig:
        n: int = 2
        word: str = "ping"

    def build(cfg):
        rows = [{"messages": [{"role": "user", "content": f"{cfg.word} {i}"},
                              {"role": "assistant", "content": cfg.word}], "tools": []} for i in range(cfg.n)]
        return rows, {"rows": len(rows)}

    register_builtin_source(BuiltinSource("echo", lambda: (EchoConfig,), build))
    try:
        rows, report = load_source(SimpleNamespace(source="builtin:echo", options={"n": 3, "word": "pong"}), "sft")
        assert [r["messages"][0]["content"] for r in rows] == ["pong 0", "pong 1", "pong 2"]
        with pytest.raises(ValueError, match="wrd"):
            load_source(SimpleNamespace(source="builtin:echo", options={"wrd": "x"}), "sft")
    finally:
        BUILTIN_SOURCE_REGISTRY.unregister("echo")


def test_registries_hold_the_shipped_names():
    assert BUILTIN_PROTOCOLS == ("qa", "qa_article", "consultancy", "debate", "open_consultancy", "open_debate")
    assert CATEGORIES == ("single", "multiple", "parallel", "parallel_multiple", "nested", "multi_step",
                          "multi_turn", "irrelevance", "tool_error")
    assert DATASET_FORMATS.names()[:5] == ["openai", "sharegpt", "glaive", "xlam", "hermes"]
    assert BUILTIN_SOURCE_REGISTRY.names()[:2] == ["synthetic", "tool_world"]
    assert REJECTION_KINDS == ("wrong_function", "missing_required", "wrong_type", "hallucinated_arg",
                               "wrong_value", "call_when_none_needed", "no_call_when_needed", "repeated_call")


# ------------------------------------------------------------------------------------------ model families
TOY_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\nTools: {{ tools | tojson }}<|im_end|>\n{% endif -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'assistant' -%}<|im_start|>assistant\n"
    "{% if message.content %}{{ message.content }}{% endif %}"
    "{% for call in message.tool_calls or [] %}"
    "<tool_call>{{ {'name': call.function.name, 'arguments': call.function.arguments} | tojson }}</tool_call>"
    "{% endfor %}<|im_end|>\n"
    "{%- else %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif -%}")

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}


@pytest.fixture()
def toy_family():
    register_family(FamilySpec("toy_chatml", ("<|im_end|>",), "hermes", template_text=TOY_TEMPLATE,
                               turn_end_tokens=("<|im_end|>",), aliases=("toy",),
                               description="a ChatML template with <tool_call> JSON, kept outside the package"))
    yield
    unregister_family("toy_chatml")


@pytest.fixture(scope="module")
def smol_tokenizer():
    from transformers import AutoTokenizer

    from tooljudge.models import smollm2_checkpoint

    return AutoTokenizer.from_pretrained(smollm2_checkpoint())


def test_a_family_registered_outside_the_package_masks_renders_detects_and_parses(toy_family, smol_tokenizer):
    row = {"tools": [WEATHER], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."}]}
    ex = prepare_example(smol_tokenizer, row, family="toy")
    ids, mask = ex["input_ids"], ex["assistant_masks"]
    trained = smol_tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><|im_end|>'
    assert trained == call + "It is sunny.<|im_end|>"  # the two assistant turns, each with its stop token
    whole = smol_tokenizer.decode(ids)
    assert whole.startswith('<|im_start|>system\nTools: [{"type": "function"')
    assert whole.endswith("<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n" + call
                          + "<|im_start|>tool\nsunny<|im_end|>\n<|im_start|>assistant\nIt is sunny.<|im_end|>")
    prompt = render_prompt(smol_tokenizer, row["messages"][:1], row["tools"], family="toy_chatml")
    assert prompt.endswith("<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n")
    parsed = parse_tool_calls(call, get_family("toy"))
    assert parsed.failure is None and parsed.calls == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert get_family("toy").stop_tokens == ["<|im_end|>"]

    class Tok:
        chat_template = TOY_TEMPLATE
    assert detect_family_name(Tok()) == "toy_chatml"


def test_unknown_family_names_get_the_did_you_mean():
    with pytest.raises(UnknownNameError, match=r"unknown family 'mistral_v2' \(did you mean 'mistral_v3'\?\)"):
        get_family("mistral_v2")
    assert get_family("llama").name == "llama31" and get_family("qwen2", parallel=False).parallel is False


def test_every_registered_family_is_parsed_with_its_records_call_format():
    assert FAMILY_NAMES == ("chatml", "qwen25", "llama31", "llama31_meta", "mistral_v3", "glm4", "qwen2_fncall",
                            "auto")
    for name, spec in FAMILIES.items():
        assert FAMILY_ALIASES[name] == spec.call_format, name
        assert spec.call_format in CALL_FORMATS

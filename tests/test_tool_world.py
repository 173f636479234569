"""Generated tool world (issue 23): the schema generator, the simulated world's execution, the conversations, the
tool split, masking, and no leakage into BFCL's function docs."""

from __future__ import annotations

import copy
import importlib.resources
import json
import random
import re
import statistics
from collections import Counter

import jsonschema
import pytest
from tooljudge.data_prep.schema import validate_conversation
from tooljudge.data_prep.synthetic import (
    CATEGORIES,
    EVAL_CATEGORIES,
    SynthConfig,
    answer_problems,
    grounding_problems,
    reexecute_problems,
)
from tooljudge.data_prep.tool_world_domains import DOMAINS
from tooljudge.data_prep.tool_world_rows import (
    Planner,
    ToolSplit,
    WorldConfig,
    build_world_eval_set,
    can_serve,
    coverage,
    mask_row,
    needs_of,
    synthesize_world,
    world_setup,
)
from tooljudge.data_prep.tool_world_schemas import build_catalog
from tooljudge.data_prep.tool_world_state import World, WorldExecutor


@pytest.fixture(scope="module")
def setup():
    return world_setup(WorldConfig())


@pytest.fixture(scope="module")
def train_rows(setup):
    rows, report = synthesize_world(SynthConfig(n=300, seed=3), setup=setup)
    return rows, report


def _walk(schema):
    yield schema
    if isinstance(schema, dict):
        for v in schema.get("properties", {}).values():
            yield from _walk(v)
        if isinstance(schema.get("items"), dict):
            yield from _walk(schema["items"])


# ------------------------------------------------------------------------------------------------ generator
def test_catalog_size_domains_and_determinism(setup):
    catalog, _ = setup
    assert len(catalog) >= 2000
    assert len({t.domain.name for t in catalog.tools.values()}) >= 30
    again = build_catalog(0)
    assert [t.spec for t in again.tools.values()] == [t.spec for t in catalog.tools.values()]
    other = build_catalog(7)
    assert list(other.tools) == list(catalog.tools)  # names come from the specs; the seed varies wording
    assert sum(a.spec != b.spec for a, b in zip(other.tools.values(), catalog.tools.values(), strict=True)) > 500


def test_every_spec_is_a_valid_schema_with_the_asked_for_variety(setup):
    catalog, _ = setup
    kinds = set()
    required_sizes = set()
    draft7 = jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA)  # 2020-12's meta check: 16 s
    checked_2020: set[str] = set()
    for t in catalog.tools.values():
        params = t.spec["function"]["parameters"]
        assert not list(draft7.iter_errors(params)), t.name
        if t.action not in checked_2020:
            jsonschema.Draft202012Validator.check_schema(params)
            checked_2020.add(t.action)
        assert t.spec["function"]["description"].endswith(".")
        required_sizes.add(len(params["required"]))
        for name, prop in params["properties"].items():
            assert prop.get("description"), f"{t.name}.{name} has no description"
            for sub in _walk(prop):
                if "enum" in sub:
                    kinds.add("enum")
                if sub.get("type") in ("integer", "number") and "minimum" in sub and "maximum" in sub:
                    kinds.add(sub["type"] + "_range")
                if "default" in sub and name not in params["required"]:
                    kinds.add("optional_default")
                kinds.add(sub.get("type"))
        assert "$ref" not in json.dumps(t.spec)
    assert {"string", "enum", "integer_range", "number_range", "boolean", "array", "object",
            "optional_default"} <= kinds
    assert {0, 1, 2, 3, 4} <= required_sizes


def test_names_are_made_of_spec_words_not_gibberish(setup):
    catalog, _ = setup
    vocab = {"get", "search", "list", "by", "for", "count", "create", "update", "set", "bulk", "rank", "find",
             "toggle", "restore", "adjust", "change", "log", "stats", "ids", "home", "away", "team"}
    for d in DOMAINS:
        vocab.update(d.prefix.split("_"))
        for e in d.entities:
            vocab.update(e.name.split("_") + re.split(r"\W+", e.plural) + e.remove[0].split())
            for a in e.attrs:
                vocab.update(a.name.split("_"))
    for name in catalog.tools:
        unknown = set(name.split("_")) - vocab
        assert not unknown, f"{name}: {unknown}"


def test_every_domain_has_near_miss_families(setup):
    catalog, _ = setup
    for d in DOMAINS:
        tools = catalog.in_domain(d.name)
        same_entity = {(t.entity.name, t.action) for t in tools}
        assert len({a for e, a in same_entity if e == d.entities[0].name}) >= 10
        same_action = {}
        for t in tools:
            same_action.setdefault(t.action, set()).add(t.entity.name)
        assert any(len(v) >= 2 for v in same_action.values()), d.name
        # a setter of one field cannot do another field's change, the getter reads every field
        e = d.entities[0]
        getter = catalog[f"{d.prefix}_get_{e.name}"]
        for a in e.attrs:
            assert can_serve(getter, needs_of(catalog[f"{d.prefix}_get_{e.name}_{a.name}"]))


def test_what_a_tool_can_serve_hand_checked(setup):
    catalog, _ = setup

    def serves(tool: str, request_tool: str) -> bool:
        return can_serve(catalog[f"helpdesk_{tool}"], needs_of(catalog[f"helpdesk_{request_tool}"]))

    assert serves("update_ticket", "set_ticket_priority")          # the general update can set one field
    assert serves("set_ticket_status", "close_ticket") and serves("set_ticket_status", "restore_ticket")
    assert serves("rank_tickets_by_age_hours", "get_ticket_age_hours")  # count 10 lists every ticket's age
    assert serves("search_tickets", "count_tickets") and serves("count_tickets_by_status", "count_tickets")
    assert serves("get_tickets_by_ids", "get_ticket")
    assert not serves("set_ticket_status", "set_ticket_priority")  # same entity, another field
    assert not serves("get_ticket_priority", "get_ticket_status")
    assert not serves("set_agent_shift", "set_ticket_priority")    # same action, another entity
    assert not serves("get_ticket", "set_ticket_priority") and not serves("close_ticket", "get_ticket")


# ------------------------------------------------------------------------------------------------ execution
def _ticket_world():
    catalog = build_catalog(0)
    ex = WorldExecutor(catalog, World(DOMAINS, 0))
    table = ex.world.table(next(d for d in DOMAINS if d.name == "helpdesk"), DOMAINS[0].entities[0])
    return ex, table


def test_reads_match_the_records_and_changes_persist_until_reset():
    ex, table = _ticket_world()
    rid, rec = next((i, dict(r)) for i, r in table.items() if r["status"] != "closed")
    got = ex.call("helpdesk_get_ticket", {"ticket_id": rid})
    assert got.ok and got.value == {"ticket_id": rid, **rec}
    new = "urgent" if rec["priority"] != "urgent" else "low"
    changed = ex.call("helpdesk_set_ticket_priority", {"ticket_id": rid, "priority": new})
    assert changed.value == {"ticket_id": rid, "priority": new, "previous_priority": rec["priority"]}
    assert ex.call("helpdesk_get_ticket_priority", {"ticket_id": rid}).value["priority"] == new
    log = ex.call("helpdesk_get_ticket_change_log", {"ticket_id": rid}).value
    assert log[-1] == {"date": "2026-06-15", "field": "priority", "from": rec["priority"], "to": new}
    ex.reset()
    assert ex.call("helpdesk_get_ticket_priority", {"ticket_id": rid}).value["priority"] == rec["priority"]


def test_aggregates_against_an_independent_computation():
    ex, table = _ticket_world()
    ages = [r["age_hours"] for r in table.values()]
    stats = ex.call("helpdesk_get_ticket_age_hours_stats", {}).value
    assert stats == {"count": len(ages), "total": sum(ages), "mean": round(statistics.mean(ages), 2),
                     "min": min(ages), "max": max(ages)}
    by_status = ex.call("helpdesk_count_tickets_by_status", {"include_empty": True}).value
    assert sum(by_status.values()) == len(table) == ex.call("helpdesk_count_tickets", {}).value["count"]
    assert by_status == {s: sum(r["status"] == s for r in table.values()) for s in ("open", "pending", "solved",
                                                                                     "closed")}
    lo, hi = sorted(ages)[1], sorted(ages)[-2]
    limit = ex.catalog["helpdesk_search_tickets"].names["limit"]
    found = ex.call("helpdesk_search_tickets", {"age_hours_range": {"min": lo, "max": hi}, limit: 25})
    assert {r["ticket_id"] for r in found.value} == {i for i, r in table.items() if lo <= r["age_hours"] <= hi}
    top = ex.call("helpdesk_rank_tickets_by_age_hours", {"count": 2}).value
    assert [r["age_hours"] for r in top] == sorted(ages, reverse=True)[:2]


def test_refusals_are_tool_errors_or_schema_errors():
    ex, table = _ticket_world()
    closed = next((i for i, r in table.items() if r["status"] == "closed"), None)
    assert ex.call("helpdesk_get_ticket", {"ticket_id": "TCK-1"}).kind == "tool_error"
    assert "NotFoundError" in ex.call("helpdesk_get_ticket", {"ticket_id": "TCK-1"}).error
    assert ex.call("helpdesk_get_ticket", {"ticket_id": 12}).kind == "invalid_arguments"
    assert ex.call("helpdesk_get_ticket", {"ticket_id": "TCK-1", "extra": 1}).kind == "invalid_arguments"
    assert ex.call("helpdesk_set_ticket_priority", {"ticket_id": "TCK-1", "priority": "mega"}).kind == \
        "invalid_arguments"
    assert ex.call("helpdesk_no_such_tool", {}).kind == "unknown_tool"
    upd = ex.catalog["helpdesk_update_ticket"].names["changes"]
    rid = next(i for i, r in table.items() if r["status"] != "closed")
    assert ex.call("helpdesk_update_ticket", {"ticket_id": rid, upd: {"colour": "red"}}).kind == "invalid_arguments"
    assert ex.call("helpdesk_update_ticket", {"ticket_id": rid, upd: {}}).kind == "invalid_arguments"
    bad_agent = ex.call("helpdesk_update_ticket", {"ticket_id": rid, upd: {"agent_id": "AGT-1"}})
    assert bad_agent.kind == "tool_error" and "no support agent" in bad_agent.error
    if closed:
        refused = ex.call("helpdesk_set_ticket_priority", {"ticket_id": closed, "priority": "low"})
        assert refused.kind == "tool_error" and "ConflictError" in refused.error
    assert ex.call("helpdesk_close_ticket", {"ticket_id": rid}).value == {"ticket_id": rid, "status": "closed"}
    assert "already closed" in ex.call("helpdesk_close_ticket", {"ticket_id": rid}).error
    assert ex.call("helpdesk_restore_ticket", {"ticket_id": rid}).value == {"ticket_id": rid, "status": "open"}
    stock = ex.catalog["shop_adjust_product_stock"].names["amount"]
    pid, prod = next(iter(ex.world.table(DOMAINS[1], DOMAINS[1].entities[0]).items()))
    over = ex.call("shop_adjust_product_stock", {"product_id": pid, "direction": "decrease", stock: prod["stock"] + 1})
    assert over.kind == "tool_error" and "outside 0 to 500" in over.error


def test_every_tool_runs_a_planned_call_and_fails_a_failing_one(setup):
    catalog, ex = setup
    planner = Planner(ex.world, random.Random(0))
    from tooljudge.data_prep.synthetic import Reject
    from tooljudge.data_prep.tool_world_rows import FAILABLE

    failures = 0
    for t in catalog.tools.values():
        ex.reset()
        try:
            plan = planner.plan(t)
        except Reject:
            failures += 1  # e.g. a restore with nothing removed
            continue
        res = ex.call(t.name, plan.args)
        assert res.ok, (t.name, plan.args, res.error)
        assert plan.answer(res.value)
        if t.action in FAILABLE:
            ex.reset()
            try:
                bad = planner.plan(t, failing=True)
            except Reject:
                continue
            assert ex.call(t.name, bad.args).kind == "tool_error", (t.name, bad.args)
    assert failures < 0.02 * len(catalog)
    ex.reset()


# ------------------------------------------------------------------------------------------------ rows
def test_rows_cover_every_category_validate_and_reexecute(setup, train_rows):
    catalog, ex = setup
    rows, report = train_rows
    assert report.attempts == report.kept + sum(report.dropped.values())
    assert set(report.kept_by_category) == set(CATEGORIES)
    assert report.quality_filter_rate < 0.1
    for row in rows:
        assert validate_conversation(row) == [], row["id"]
        ex.reset()
        assert reexecute_problems(row, ex) == [], row["id"]
    cov = coverage(rows, catalog)
    assert len(cov.domains) >= 30 and len(cov.offered) > 600


def test_distractors_and_irrelevance_tools_cannot_serve_the_request(setup, train_rows):
    catalog, _ = setup
    rows, _ = train_rows
    checked = 0
    for row in rows:
        if row["category"] not in ("multiple", "irrelevance"):
            continue
        offered = [catalog[t["function"]["name"]] for t in row["tools"]]
        called = {c["function"]["name"] for m in row["messages"] for c in m.get("tool_calls") or []}
        if row["category"] == "multiple":
            [target] = called
            domains = {t.domain.name for t in offered}
            assert len(offered) >= 3 and domains == {catalog[target].domain.name}
            needs = needs_of(catalog[target])
            assert not any(can_serve(t, needs) for t in offered if t.name != target)
        else:
            assert not called
        checked += 1
    assert checked > 40


def test_filters_keep_their_meaning_on_world_rows(train_rows):
    rows, _ = train_rows
    row = next(r for r in rows if r["category"] == "single" and r["messages"][-1]["content"].startswith("There are"))
    bad = copy.deepcopy(row)
    reply = bad["messages"][-1]
    assert answer_problems(row) == []
    reply["content"] = re.sub(r"\d+", "123457", reply["content"], count=1)  # the count, changed
    assert any(k == "answer_contradicts_result" for k, _ in answer_problems(bad))
    row = next(r for r in rows if r["category"] == "single" and any(
        isinstance(v, str) and re.fullmatch(r"[A-Z]+-\d+", v)
        for m in r["messages"] for c in m.get("tool_calls") or [] for v in c["function"]["arguments"].values()))
    bad = copy.deepcopy(row)
    call = next(m for m in bad["messages"] if m.get("tool_calls"))["tool_calls"][0]["function"]
    key = next(k for k, v in call["arguments"].items() if isinstance(v, str) and re.fullmatch(r"[A-Z]+-\d+", v))
    call["arguments"][key] = "ZZZ-0000"
    assert any(k == "ungrounded_argument" for k, _ in grounding_problems(bad))


def test_nested_arguments_are_grounded_leaf_by_leaf():
    row = {"tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
        "type": "object", "properties": {"r": {"type": "object", "properties": {
            "min": {"type": "integer"}, "max": {"type": "integer"}}}}}}}],
        "messages": [{"role": "user", "content": "between 3 and 40"},
                     {"role": "assistant", "content": "", "tool_calls": [
                         {"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": {
                             "r": {"min": 3, "max": 41}}}}]}]}
    problems = grounding_problems(row)
    assert len(problems) == 1 and "r.max=41" in problems[0][1]


def test_train_rows_use_train_tools_only_and_generation_is_reproducible(setup, train_rows):
    catalog, _ = setup
    rows, _ = train_rows
    split = ToolSplit()
    names = {t["function"]["name"] for r in rows for t in r["tools"]}
    assert names and all(split.side(n) == "train" for n in names)
    share = sum(split.side(n) == "eval" for n in catalog.tools) / len(catalog)
    assert 0.15 < share < 0.25
    again, _ = synthesize_world(SynthConfig(n=60, seed=3), setup=setup)
    assert again == rows[:60]


def test_world_eval_set_asks_only_for_tools_training_never_saw(setup, train_rows):
    rows, _ = train_rows
    evals = build_world_eval_set(n=40, seed=5, setup=setup)
    assert [r["category"] for r in evals] == [c for c in EVAL_CATEGORIES for _ in range(8)]
    train_tools = {t["function"]["name"] for r in rows for t in r["tools"]}
    split = ToolSplit()
    from tooljudge.core.ast_checker import check_calls

    for r in evals:
        names = {t["function"]["name"] for t in r["tools"]}
        assert all(split.side(n) == "eval" for n in names) and not names & train_tools
        calls = [{"name": n, "arguments": {k: v[0] for k, v in a.items() if v[0] != ""}}
                 for g in r["ground_truth"] for n, a in g.items()]
        assert check_calls(calls, r["ground_truth"], r["category"], r["tools"]).correct, r["id"]
    assert evals == build_world_eval_set(n=40, seed=5, setup=setup)


def test_domain_split_keeps_whole_domains_out_of_training(setup):
    world = WorldConfig(tool_split_unit="domain")
    train, _ = synthesize_world(SynthConfig(n=60, seed=1), world, setup=setup)
    evals = build_world_eval_set(n=15, seed=2, world=world, setup=setup)
    catalog, _ = setup

    def domains(rows):
        return {catalog[t["function"]["name"]].domain.name for r in rows for t in r["tools"]}

    held_out = {d.name for d in DOMAINS if ToolSplit(unit="domain").side("domain:" + d.name) == "eval"}
    assert 3 <= len(held_out) <= 20
    assert domains(evals) <= held_out and not domains(train) & held_out
    with pytest.raises(ValueError):
        ToolSplit(unit="entity")


# ------------------------------------------------------------------------------------------------ masking
def test_masking_renames_tools_and_parameters_and_keeps_descriptions(train_rows):
    rows, _ = train_rows
    rng = random.Random(0)
    for row in rows[:80]:
        masked = mask_row(row, rng)
        assert validate_conversation(masked) == []
        for before, after in zip(row["tools"], masked["tools"], strict=True):
            b, a = before["function"], after["function"]
            assert re.fullmatch(r"fn_[a-z0-9]{6}", a["name"]) and a["description"] == b["description"]
            assert [p["description"] for p in a["parameters"]["properties"].values()] == \
                [p["description"] for p in b["parameters"]["properties"].values()]
            assert all(re.fullmatch(r"arg_[a-z0-9]{6}", k) for k in a["parameters"]["properties"])
        text = json.dumps(masked["messages"])
        for t in row["tools"]:
            assert t["function"]["name"] not in text
        specs = {t["function"]["name"]: t["function"]["parameters"] for t in masked["tools"]}
        for m in masked["messages"]:
            for c in m.get("tool_calls") or []:
                assert set(c["function"]["arguments"]) <= set(specs[c["function"]["name"]]["properties"])
    rows2, report = synthesize_world(SynthConfig(n=40, seed=9), WorldConfig(mask_fraction=0.5))
    assert 0 < report.augmented["masked"] == sum(r.get("masked", False) for r in rows2) < 40


# ------------------------------------------------------------------------------------------------ leakage
def _bfcl_docs() -> list[dict]:
    root = importlib.resources.files("bfcl_eval") / "data"
    docs = []
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        if not (path.name.startswith("BFCL_v4_") and path.name.endswith(".json")):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                break  # an index file (format_sensitivity), not JSON lines of entries
            if isinstance(entry, dict):
                docs.extend(f for f in entry.get("function") or [] if isinstance(f, dict))
    return docs


def _descriptions(schema) -> set[str]:
    out = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("description"), str):  # case, spacing and punctuation ignored
            out.add(re.sub(r"[^a-z0-9]+", " ", schema["description"].lower()).strip())
        for v in schema.values():
            out |= _descriptions(v)
    elif isinstance(schema, list):
        for v in schema:
            out |= _descriptions(v)
    return out


def test_no_generated_name_or_description_matches_bfcl_function_docs(setup):
    catalog, _ = setup
    docs = _bfcl_docs()
    assert len(docs) > 5000  # the check is not vacuous
    def norm(name: str) -> str:  # "bank.get_transaction_history" and "bank_get_transaction_history" are one name
        return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")

    bfcl_names = {norm(d["name"]) for d in docs}
    bfcl_text = set()
    for d in docs:
        bfcl_text |= _descriptions(d)
    for t in catalog.tools.values():
        assert norm(t.name) not in bfcl_names, t.name
        mine = _descriptions(t.spec["function"])
        assert not mine & bfcl_text, (t.name, mine & bfcl_text)


def test_cli_writes_world_rows_report_and_unseen_tool_eval_set(tmp_path):
    from tooljudge.data_prep.synthesize import main

    out = tmp_path / "world.jsonl"
    main(["--kind", "tools", "--tools", "world", "--n", "15", "--seed", "2", "--mask-fraction", "0.4",
          "--output", str(out)])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert len(rows) == report["kept"] == 15 and report["backend"] == "templated+tool_world"
    assert report["augmented"]["masked"] == sum(r.get("masked", False) for r in rows)
    evals = tmp_path / "unseen.jsonl"
    main(["--kind", "eval", "--tools", "world", "--n", "10", "--output", str(evals)])
    assert len(evals.read_text().splitlines()) == 10


# ------------------------------------------------------------------------------------------------ property
def _from_schema(schema: dict, ids: list[str]):
    """A hypothesis strategy of values valid for ``schema`` (the subset of JSON schema the generator writes)."""
    from hypothesis import strategies as st

    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        lo = schema.get("minimum", -(10**6))
        lo = max(lo, schema["exclusiveMinimum"] + 1) if "exclusiveMinimum" in schema else lo
        return st.integers(lo, schema.get("maximum", 10**6))
    if kind == "number":
        lo = schema.get("minimum", -1e6)
        if "exclusiveMinimum" in schema:
            lo = schema["exclusiveMinimum"] + 1e-3
        return st.floats(lo, schema.get("maximum", 1e6), allow_nan=False).map(lambda x: round(x, 2)).filter(
            lambda x: lo <= x <= schema.get("maximum", 1e6))
    if kind == "array":
        return st.lists(_from_schema(schema.get("items", {}), ids), min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 4), 4), unique=schema.get("uniqueItems", False))
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: _from_schema(v, ids) for k, v in props.items() if k in required},
            optional={k: _from_schema(v, ids) for k, v in props.items() if k not in required},
        ).filter(lambda d: len(d) >= schema.get("minProperties", 0))
    if schema.get("format") == "date":
        return st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12))
    return st.one_of(st.sampled_from(ids), st.text(max_size=20))


def test_any_schema_valid_arguments_give_a_result_or_a_tool_error(setup):
    """Property (hypothesis): every tool, any arguments its schema accepts: a result or a world refusal, never
    an exception, and a result is JSON."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    catalog, ex = setup
    ids = sorted({rid for d in DOMAINS for e in d.entities for rid in ex.world.table(d, e)}) + ["X-1", ""]
    names = sorted(catalog.tools)
    kinds: Counter = Counter()

    @settings(max_examples=200, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.sampled_from(names).flatmap(
        lambda n: st.tuples(st.just(n), _from_schema(catalog[n].spec["function"]["parameters"], ids))))
    def check(case):
        name, args = case
        ex.reset()
        res = ex.call(name, args)
        assert res.kind in ("ok", "tool_error"), (name, args, res.kind, res.error)
        json.loads(res.content)
        kinds[res.kind] += 1

    check()
    ex.reset()
    assert kinds["ok"] > 40 and kinds["tool_error"] > 15, kinds  # both outcomes really exercised

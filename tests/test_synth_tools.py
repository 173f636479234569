"""Tool registry specs, built-in tools against independent references, and the sandbox's limits."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import operator
import os
import statistics
import time
from typing import Literal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tooljudge.data_prep import builtin_tools as bt
from tooljudge.data_prep.sandbox import Sandbox, SandboxConfig
from tooljudge.data_prep.tool_registry import RegistryError, ToolRegistry, argument_problems, function_to_spec


def book_hotel(city: str, nights: int, rate: float = 99.5, tags: list[str] | None = None,
               kind: Literal["single", "double"] = "double") -> dict:
    """Book a hotel room.

    Longer explanation that is not part of the summary.

    Args:
        city: City of the hotel.
        nights: Number of nights,
            continued on a second line.
        rate: Nightly rate.
        tags: Optional labels.
        kind: Room type.
    """
    return {}


def test_spec_matches_hand_written_json():
    assert function_to_spec(book_hotel) == {
        "type": "function",
        "function": {
            "name": "book_hotel",
            "description": "Book a hotel room.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City of the hotel."},
                    "nights": {"type": "integer", "description": "Number of nights, continued on a second line."},
                    "rate": {"type": "number", "description": "Nightly rate.", "default": 99.5},
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "Optional labels."},
                    "kind": {"type": "string", "enum": ["single", "double"], "description": "Room type.",
                             "default": "double"},
                },
                "required": ["city", "nights"],
            },
        },
    }


def test_incomplete_functions_are_refused_with_a_reason():
    def undocumented(x: int) -> int:
        """Does things.

        Args:
            y: not x.
        """

    def unannotated(x) -> int:
        """Does things.

        Args:
            x: a value.
        """

    with pytest.raises(RegistryError, match=r"undocumented\(x\): missing description"):
        function_to_spec(undocumented)
    with pytest.raises(RegistryError, match="missing type annotation"):
        function_to_spec(unannotated)
    reg = ToolRegistry()
    reg.register(book_hotel)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(book_hotel)


@pytest.mark.parametrize("args,expected", [
    ({"city": "Rome", "nights": 2}, []),
    ({"city": "Rome", "nights": 2, "rate": 80}, []),              # int is accepted for a number (BFCL)
    ({"city": "Rome", "nights": 2.0}, ["nights"]),                # float never for int
    ({"city": "Rome", "nights": True}, ["nights"]),               # bool is not an int
    ({"city": "Rome", "nights": "2"}, ["nights"]),                # "2" is not an int
    ({"city": "Rome"}, ["nights"]),                               # required missing
    ({"city": "Rome", "nights": 2, "stars": 4}, ["stars"]),       # hallucinated argument
    ({"city": "Rome", "nights": 2, "kind": "suite"}, ["kind"]),   # outside the enum
])
def test_argument_problems_follow_bfcl_types(args, expected):
    problems = argument_problems(function_to_spec(book_hotel), args)
    assert len(problems) == len(expected)
    for word, problem in zip(expected, problems, strict=True):
        assert word in problem


def test_builtin_library_size_and_groups():
    reg = bt.default_registry()
    assert len(reg) >= 25
    assert {t.group for t in reg.tools.values()} == set(bt.GROUPS)
    for tool in reg.tools.values():  # every spec is complete: a description for every parameter
        for prop in tool.spec["function"]["parameters"]["properties"].values():
            assert prop["description"]


def test_builtin_tools_hand_checked_values():
    assert bt.days_between("2024-01-01", "2024-03-01") == 60
    assert bt.day_of_week("2024-07-04") == "Thursday"
    assert bt.add_days("2024-02-28", 2) == "2024-03-01"
    assert bt.convert_temperature(100, "C", "F") == 212.0
    assert bt.convert_temperature(32, "F", "K") == 273.15
    assert bt.convert_length(1, "mi", "km") == 1.6093
    assert bt.convert_mass(1, "lb", "g") == 453.5924
    assert bt.is_leap_year(1900) is False and bt.is_leap_year(2000) is True
    assert bt.compound_interest(1000, 5, 1, 1) == 1050.0
    assert bt.percentage_of(15, 80) == 12.0
    assert bt.search_books("orwell") == [
        {"isbn": "9780451524935", "title": "Nineteen Eighty-Four", "author": "George Orwell"},
        {"isbn": "9780452284241", "title": "Animal Farm", "author": "George Orwell"}]
    assert bt.book_order_total("9780451524935", 2)["total"] == 19.98
    assert bt.search_flights("LHR", "CDG") == [
        {"flight_number": "BA309", "departure": "09:40", "price": 118.0},
        {"flight_number": "AF1681", "departure": "18:25", "price": 135.0}]
    assert bt.get_weather("new  york", "fahrenheit")["temperature"] == 53.6
    assert bt.is_palindrome("A man, a plan, a canal: Panama") is True
    assert bt.count_words("It's a well-known fact.") == 4
    with pytest.raises(ValueError, match="below absolute zero"):
        bt.convert_temperature(-300, "C", "K")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9999), st.integers(1, 12))
@example(9999, 12)  # hypothesis found it: the month after is year 10000, past datetime's range
@example(1900, 2)
@example(2000, 2)
def test_days_in_month_matches_calendar(year, month):
    assert bt.days_in_month(year, month) == calendar.monthrange(year, month)[1]


@settings(max_examples=60, deadline=None)
@given(st.integers(-10**6, 10**6))
def test_is_prime_matches_trial_division(n):
    n = abs(n) % 5000
    assert bt.is_prime(n) == (n > 1 and all(n % d for d in range(2, n)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=12))
def test_describe_numbers_matches_statistics(values):
    out = bt.describe_numbers(values)
    assert out["mean"] == pytest.approx(statistics.fmean(values), abs=1e-4)
    assert out["stdev"] == pytest.approx(statistics.stdev(values), abs=1e-4)
    assert out["median"] == pytest.approx(statistics.median(values), abs=1e-4)


# Expression trees rendered to text: the calculator's parse of the text must equal the tree's value.
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_leaf = st.integers(0, 50).map(lambda v: (str(v), v))


def _combine(children):
    def build(args):
        (ta, va), op, (tb, vb) = args
        return f"({ta} {op} {tb})", _OPS[op](va, vb)
    return st.tuples(children, st.sampled_from(sorted(_OPS)), children).map(build)


@settings(max_examples=80, deadline=None)
@given(st.recursive(_leaf, _combine, max_leaves=8))
def test_calculator_matches_expression_tree(tree):
    text, value = tree
    assert bt.evaluate_arithmetic(text) == value


@pytest.mark.parametrize("expr,value", [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("2 ** 3 ** 2", 512), ("-2 ** 2", -4), ("2^10", 1024),
    ("7 // 2", 3), ("7 % 4", 3), ("1 / 4", 0.25), ("sqrt(16) + abs(-2)", 6.0), ("1.5e2", 150.0),
])
def test_calculator_precedence(expr, value):
    assert bt.evaluate_arithmetic(expr) == value


@pytest.mark.parametrize("expr", ["__import__('os')", "2 +", "open('x')", "1; 2", "[1]", "2 ** 5000",
                                  "(9 ** 999) ** 999"])
def test_calculator_refuses_non_arithmetic(expr):
    with pytest.raises((ValueError, ZeroDivisionError)):
        bt.evaluate_arithmetic(expr)


# ------------------------------------------------------------------------------------------ sandbox

def spin(n: int) -> int:
    """Never returns.

    Args:
        n: A counter.
    """
    while True:
        n += 1


def write_file(path: str) -> str:
    """Writes a file.

    Args:
        path: Where to write.
    """
    with open(path, "w") as fh:
        fh.write("leak")
    return "written"


def swallow_write(path: str) -> str:
    """Writes a file but hides the failure.

    Args:
        path: Where to write.
    """
    try:
        os.open(path, os.O_WRONLY | os.O_CREAT)
    except Exception:
        pass
    return "fine"


def open_socket(port: int) -> str:
    """Opens a network socket.

    Args:
        port: A port.
    """
    import socket

    socket.create_connection(("127.0.0.1", port), timeout=0.5)
    return "connected"


def run_code(code: str) -> str:
    """Evaluates code (must be refused).

    Args:
        code: Text.
    """
    return str(eval(code))  # noqa: S307 - the sandbox must refuse this


@pytest.fixture(scope="module")
def sandbox():
    reg = bt.default_registry()
    for fn in (spin, write_file, swallow_write, open_socket, run_code):
        reg.register(fn, group="hostile")
    with Sandbox(reg, SandboxConfig(timeout_s=1.0)) as sb:
        yield sb


def test_sandbox_stops_an_infinite_loop_and_recovers(sandbox):
    start = time.monotonic()
    result = sandbox.call("spin", {"n": 0})
    assert result.kind == "timeout" and time.monotonic() - start < 3
    assert sandbox.call("is_leap_year", {"year": 2024}).value is True  # a fresh worker takes over


def test_sandbox_blocks_a_file_write(sandbox, tmp_path):
    target = tmp_path / "leak.txt"
    result = sandbox.call("write_file", {"path": str(target)})
    assert result.kind == "blocked" and "open" in result.error
    assert not target.exists()
    hidden = tmp_path / "hidden.txt"
    assert sandbox.call("swallow_write", {"path": str(hidden)}).kind == "blocked"  # even when swallowed
    assert not hidden.exists()


def test_sandbox_blocks_network_and_eval(sandbox):
    assert sandbox.call("open_socket", {"port": 9}).kind == "blocked"
    result = sandbox.call("run_code", {"code": "1 + 1"})
    assert result.kind == "blocked" and ("compile" in result.error or "exec" in result.error)


def test_sandbox_reports_errors_and_bad_arguments(sandbox):
    err = sandbox.call("get_book_details", {"isbn": "0000000000000"})
    assert err.kind == "tool_error" and "no book with ISBN" in err.error
    assert '"error"' in err.content
    bad = sandbox.call("factorial", {"n": "5"})
    assert bad.kind == "invalid_arguments" and "is not of type 'integer'" in bad.error
    assert sandbox.call("no_such_tool", {}).kind == "unknown_tool"
    ok = sandbox.call("add_days", {"date": "2024-12-30", "days": 3})
    assert ok.ok and ok.content == '"2025-01-02"'
    assert dt.date.fromisoformat(ok.value) == dt.date(2025, 1, 2)


def test_sandbox_picks_up_newly_registered_tools():
    reg = ToolRegistry()
    with Sandbox(reg) as sb:
        def shout(text: str) -> str:
            """Upper-case a text.

            Args:
                text: The text.
            """
            return text.upper()

        assert sb.call("shout", {"text": "a"}).kind == "unknown_tool"
        reg.register(shout)
        assert sb.call("shout", {"text": "hi"}).value == "HI"


def _value_strategy(prop: dict):
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    kind = prop.get("type")
    if kind == "integer":
        return st.integers(-10**15, 10**15) | st.integers(-100, 100)
    if kind == "number":
        return st.floats(-1e12, 1e12, allow_nan=False) | st.integers(-1000, 1000)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(_value_strategy(prop.get("items", {"type": "string"})), max_size=6)
    return st.text(max_size=40) | st.sampled_from(["Paris", "9780451524935", "2024-02-29", "AF1680", "CDG", "2 ** 3"])


@st.composite
def _valid_call(draw, registry):
    name = draw(st.sampled_from(registry.names()))
    params = registry[name].spec["function"]["parameters"]
    args = {}
    for key, prop in params["properties"].items():
        if key in params["required"] or draw(st.booleans()):
            args[key] = draw(_value_strategy(prop))
    return name, args


_REG = bt.default_registry()


@settings(max_examples=150, deadline=None)
@given(_valid_call(_REG))
def test_builtin_tools_never_hang_or_crash_on_schema_valid_arguments(sandbox, call):
    """Any arguments that fit the schema give a result or a tool error: no timeout, no dead worker."""
    name, args = call
    result = sandbox.call(name, args)
    assert result.kind in ("ok", "tool_error"), (name, args, result.error)
    json.loads(result.content)  # always valid JSON for the tool message

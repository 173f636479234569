"""The normaliser's JSON copy (``schema._copy_json``) returns what ``copy.deepcopy`` returned and shares nothing
with its input (issue 21: it replaced deepcopy on every schema and every call's arguments)."""

import copy
import enum
from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st
from tooljudge.data_prep import schema

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=30,
)


def _containers(value, out):
    if isinstance(value, (dict, list)):
        out.append(value)
        for v in value.values() if isinstance(value, dict) else value:
            _containers(v, out)
    return out


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_copy_equals_deepcopy_and_shares_no_container(value):
    copied = schema._copy_json(value)
    assert copied == copy.deepcopy(value)
    assert type(copied) is type(value)
    originals = {id(c) for c in _containers(value, [])}
    assert not originals & {id(c) for c in _containers(copied, [])}


class Colour(enum.IntEnum):
    RED = 1


def test_other_types_and_cycles_go_to_deepcopy():
    inner = OrderedDict(a=[1, (2, 3)])
    value = {"x": inner, "e": Colour.RED, "t": (1, [2])}
    copied = schema._copy_json(value)
    assert copied == value and type(copied["x"]) is OrderedDict and copied["x"] is not inner
    assert copied["e"] is Colour.RED and copied["t"][1] is not value["t"][1]
    cyclic: dict = {"a": []}
    cyclic["a"].append(cyclic)
    again = schema._copy_json(cyclic)
    assert again is not cyclic and again["a"][0] is again  # deepcopy keeps the cycle


def test_schema_text_recorded_per_tool_is_the_validator_key():
    texts: dict = {}
    tools = schema.normalize_tools([{"name": "f", "parameters": {"properties": {"q": {"type": "string"}}}}], [], texts)
    assert texts == {"f": __import__("json").dumps(tools[0]["function"]["parameters"], sort_keys=True)}


def test_deep_trees_fail_or_copy_like_deepcopy():
    """Depth is where a recursive copy could differ: at every depth both copy or both raise RecursionError."""
    for depth in [*range(150, 350, 5), 1000]:
        value: object = 1
        for _ in range(depth):
            value = {"k": [value]}
        outcomes = []
        for copier in (copy.deepcopy, schema._copy_json):
            try:
                outcomes.append(copier(value) == value)
            except RecursionError:
                outcomes.append("RecursionError")
        assert outcomes[0] == outcomes[1], depth

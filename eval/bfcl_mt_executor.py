"""Run BFCL multi-turn calls against BFCL's own API classes without evaluating any text.

Why not BFCL's ``execute_multi_turn_func_call``: it prefixes method names in the model's call string and hands
the string to ``eval``, so a model that writes ``__import__('os').system(...)`` runs code. Here a call is data
(a name and literal arguments): model calls come from the family's tool-call parser, answer-key strings such as
``sort('final_report.pdf')`` are read with :mod:`ast` (literals only), and only public methods of the entry's
involved classes are ever called, as ``getattr(instance, name)(*args, **kwargs)``.

Everything else is BFCL's: the classes and their ``_load_scenario(deepcopy(initial_config[cls]), long_context)``,
the method-name map (public bound methods; a later class wins a name clash), the refused names, and the exact
text of every result (``str`` as is, ``dict`` as ``json.dumps`` (``str`` if that fails), anything else ``str``,
an exception as ``"Error during execution: <exception>"``), since the response check compares these strings.

Intentional difference: BFCL's ``eval`` resolves a name that is no API method against its module's globals and
Python's builtins (``print(...)``, ``json.dumps(...)`` run); here every such name gives the ``NameError`` text
BFCL prints for an undefined name. Argument keys that are not Python identifiers give a ``TypeError`` text here
and a ``SyntaxError`` text in BFCL; neither appears in the answer keys.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Any

from tooljudge.core.tool_parsers import dotted_name

# BFCL multi_turn_utils: names refused before evaluation, and the classes without a scenario to load.
REFUSED_NAMES = ("kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run")
MULTI_TURN_CLASSES = ("GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI", "TradingBot",
                      "TravelAPI", "VehicleControlAPI")


@dataclass
class Call:
    """One function call as data: never text to evaluate."""

    name: str
    kwargs: dict = field(default_factory=dict)
    args: tuple = ()

    def to_bfcl(self) -> str:
        """BFCL's decoded-call string (``name(k=repr(v), ...)``), for logs and for comparing with BFCL's code."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({','.join(parts)})"

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "arguments": self.kwargs}
        if self.args:
            out["positional"] = list(self.args)
        return out


class CallSyntaxError(ValueError):
    """An answer-key call string that is not ``name(literal, key=literal, ...)``."""


def parse_call_string(text: str) -> Call:
    """``"mv(source='a', destination='b')"`` -> :class:`Call`; arguments must be literals (``ast.literal_eval``)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise CallSyntaxError(f"{text!r}: not a call ({e.msg})") from None
    if not isinstance(node, ast.Call):
        raise CallSyntaxError(f"{text!r}: not a call")
    name = dotted_name(node.func)
    if name is None:
        raise CallSyntaxError(f"{text!r}: the callee is not a name")
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise CallSyntaxError(f"{text!r}: **kwargs is not supported")
            kwargs[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, TypeError, SyntaxError) as e:
        raise CallSyntaxError(f"{text!r}: an argument is not a literal ({e})") from None
    return Call(name, kwargs, args)


def format_result(value: Any) -> str:
    """BFCL's text of a method's return value (the response check compares these strings)."""
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except Exception:  # noqa: BLE001 - BFCL falls back to str() on any failure
            return str(value)
    return str(value)


def _class_object(class_name: str):
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    if class_name not in CLASS_FILE_PATH_MAPPING:
        raise ValueError(f"unknown BFCL API class {class_name!r}; known: {sorted(CLASS_FILE_PATH_MAPPING)}")
    return getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)


class ApiEnvironment:
    """The instances of one entry's involved classes, kept across turns (BFCL keeps them in ``globals()``)."""

    def __init__(self, involved_classes: list[str], initial_config: dict, long_context: bool = False):
        from bfcl_eval.constants.executable_backend_config import STATELESS_CLASSES

        self.instances: dict[str, Any] = {}
        self.methods: dict[str, Any] = {}
        for class_name in involved_classes:
            instance = _class_object(class_name)()
            if class_name not in STATELESS_CLASSES:
                instance._load_scenario(copy.deepcopy(initial_config.get(class_name, {})), long_context=long_context)
            self.instances[class_name] = instance
            for method_name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not method_name.startswith("_"):
                    self.methods[method_name] = method

    def execute_one(self, call: Call) -> str:
        """One call's result text, exactly as BFCL's executor writes it."""
        name = call.name
        head, _, rest = name.partition(".")
        # BFCL refuses by the name after the first dot once known methods are prefixed with their instance:
        # ``remove(...)`` always, ``x.remove(...)`` unless ``remove`` is an API method (then ``x`` is undefined).
        second = rest.split(".")[0]
        checked = None if rest and second in self.methods else (second if rest else head)
        if checked in REFUSED_NAMES:
            return f"Error during execution: Function call {checked} is not allowed."
        if rest or name not in self.methods:
            return f"Error during execution: name '{head}' is not defined"
        try:
            return format_result(self.methods[name](*call.args, **call.kwargs))
        except Exception as e:  # noqa: BLE001 - BFCL reports every exception as the call's result
            return f"Error during execution: {e}"

    def execute(self, calls: list[Call]) -> list[str]:
        return [self.execute_one(c) for c in calls]

"""BFCL's multi-turn verdict for one entry, from the model's decoded calls, without evaluating any text.

The rules are BFCL's (``eval_runner._evaluate_single_multi_turn_entry`` and ``multi_turn_checker``), in order:
1. fewer model turns than answer-key turns (the driver stopped after BFCL's step limit) ->
   ``multi_turn:force_terminated``;
2. per turn, every model step with calls is executed on the model's instances (kept across turns) and the turn's
   answer-key calls on separate answer-key instances;
3. a turn whose answer key has calls but where the model made none -> ``multi_turn:empty_turn_model_response``;
   a turn with an empty answer key (miss_func / miss_param: the model should not manage) is not checked, but its
   calls are still executed so the next turns' states are right;
4. state check: every public attribute of every answer-key instance equals the model's
   (``multi_turn:instance_state_mismatch``);
5. response check: the turn's answer-key results are contained, as a multiset, in the results of all the model's
   calls so far (``multi_turn:execution_response_mismatch``).
Steps 4 and 5 call BFCL's own ``state_checker`` and ``response_checker``. Only the execution is ours
(``bfcl_mt_executor``: calls as data, never ``eval``).

Decoding: as BFCL, a step whose output does not parse, or parses to no call, is left out (it ended the turn).
"""

from __future__ import annotations

import json
from typing import Any

from tooljudge.eval.bfcl_mt_executor import ApiEnvironment, Call, parse_call_string

from tooljudge.core.tool_parsers import parse_tool_calls

FORCE_TERMINATED = "multi_turn:force_terminated"
INFERENCE_ERROR = "multi_turn:inference_error"
EMPTY_TURN = "multi_turn:empty_turn_model_response"
STATE_MISMATCH = "multi_turn:instance_state_mismatch"
RESPONSE_MISMATCH = "multi_turn:execution_response_mismatch"
DETAIL_CHARS = 1500  # saved verdicts keep this much of each state / result text


def is_long_context(entry: dict) -> bool:
    """BFCL's rule: the category taken from the id (``multi_turn_long_context_3`` -> ``..._long_context``)."""
    category = entry["id"].rsplit("_", 1)[0]
    return "long_context" in category or "composite" in category


def decode_step(output: str, family: str) -> list[Call]:
    """The calls of one model step, [] when BFCL would skip it (unparsable output or no call)."""
    parsed = parse_tool_calls(output, family)
    if parsed.failure is not None:
        return []
    return [Call(c["name"], dict(c.get("arguments") or {})) for c in parsed.calls]


def decode_result(result: list[list[str]], family: str) -> list[list[list[Call]]]:
    """Per turn, the steps that decode to at least one call (BFCL drops the others)."""
    return [[calls for calls in (decode_step(o, family) for o in turn) if calls] for turn in result]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + f"... [{len(text)} chars]"


def _verdict(valid: bool, error_type: str | None = None, message: str = "", **details: Any) -> dict:
    return {"valid": valid, "error_type": error_type, "error_message": message, "details": details}


def check_decoded(entry: dict, decoded: list[list[list[Call]]]) -> dict:
    """BFCL's verdict (``valid``, ``error_type``, ``error_message``, ``details``) for decoded model calls."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import response_checker, state_checker

    ground_truth: list[list[str]] = entry["ground_truth"]
    if len(decoded) != len(ground_truth):
        return _verdict(False, FORCE_TERMINATED,
                        f"Model was force-terminated during inference phase. The length of the model result turns "
                        f"({len(decoded)}) does not match the length of the ground truth turns ({len(ground_truth)}).")
    long_context = is_long_context(entry)
    model_env = ApiEnvironment(entry["involved_classes"], entry.get("initial_config", {}), long_context)
    truth_env = ApiEnvironment(entry["involved_classes"], entry.get("initial_config", {}), long_context)
    all_model_results: list[str] = []
    for turn, (steps, truth_strings) in enumerate(zip(decoded, ground_truth, strict=True)):
        for calls in steps:
            all_model_results.extend(model_env.execute(calls))
        truth_results = truth_env.execute([parse_call_string(s) for s in truth_strings])
        if not truth_strings:
            continue
        if not steps:
            return _verdict(False, EMPTY_TURN, f"Model response list is empty for turn {turn}", turn=turn)
        state = state_checker(model_env.instances, truth_env.instances)
        if not state["valid"]:
            diffs = state["details"]["differences"]
            names = ", ".join(sorted(diffs))
            return _verdict(False, STATE_MISMATCH, f"turn {turn}: {state['error_message']} Attributes that differ: "
                            f"{names}.", turn=turn,
                            differences={k: {side: _short(v) for side, v in d.items()} for k, d in diffs.items()})
        response = response_checker(all_model_results, truth_results, turn)
        if not response["valid"]:
            missing = response["details"]["missing_items"]
            return _verdict(False, RESPONSE_MISMATCH, f"{response['error_message']} Missing {len(missing)} of "
                            f"{len(truth_results)}: {_short(missing[0])}", turn=turn,
                            missing_items=[_short(m) for m in missing])
    return _verdict(True)


def check_transcript(entry: dict, result: list[list[str]] | Any, family: str) -> dict:
    """Verdict for raw outputs per turn per step (BFCL's ``result`` shape), decoded with the family's parser."""
    if not isinstance(result, list) or any(not isinstance(t, list) for t in result):
        return _verdict(False, INFERENCE_ERROR, "Error during inference phase. Model did not output a list of model "
                        "responses.")
    return check_decoded(entry, decode_result(result, family))


def json_safe(verdict: dict) -> dict:
    """The verdict with every value JSON-serialisable (for the saved JSONL)."""
    return json.loads(json.dumps(verdict, default=_short))

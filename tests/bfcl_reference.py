"""BFCL's own AST checker, loaded from the installed ``bfcl-eval`` package for parity tests.

Importing ``bfcl_eval.eval_checker.ast_eval.ast_checker`` pulls ``bfcl_eval.constants.model_config``, which imports
every model handler and their API clients (anthropic, openai, ...), none of which the checker needs: it only reads
``MODEL_CONFIG_MAPPING[model].underscore_to_dot`` for dotted function names. That one module is stubbed (dots kept,
as our outputs keep them) while BFCL's checker file is executed as it ships; ``sys.modules`` is restored afterwards.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from importlib import resources

MODEL_NAME = "tooljudge"  # the stub's only model; its names keep their dots


def load_bfcl_checker() -> types.ModuleType:
    stub_name = "bfcl_eval.constants.model_config"
    stub = types.ModuleType(stub_name)
    stub.MODEL_CONFIG_MAPPING = {MODEL_NAME: types.SimpleNamespace(underscore_to_dot=False)}
    saved = sys.modules.get(stub_name)
    sys.modules[stub_name] = stub
    try:
        path = resources.files("bfcl_eval") / "eval_checker" / "ast_eval" / "ast_checker.py"
        spec = importlib.util.spec_from_file_location("_bfcl_reference_ast_checker", str(path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop(stub_name, None)
        else:
            sys.modules[stub_name] = saved
    return module


def bfcl_verdict(checker: types.ModuleType, functions: list[dict], calls: list[dict], ground_truth: list[dict],
                 category: str) -> dict:
    """BFCL's verdict for our calls, the way its runner gets there: irrelevance/relevance by whether a call was
    decoded; the output's shape; then ``ast_checker`` with BFCL's raw function docs."""
    if "irrelevance" in category:
        return {"valid": not calls, "error_type": "" if not calls else "irrelevance_error:decoder_success"}
    if "relevance" in category:
        return {"valid": bool(calls), "error_type": "" if calls else "relevance_error:decoder_failed"}
    output = [{c["name"]: c["arguments"]} for c in calls]
    if any(type(next(iter(o.values()))) is not dict for o in output):
        return {"valid": False, "error_type": "ast_decoder:decoder_wrong_output_format"}
    language = checker.Language.PYTHON
    result = checker.ast_checker(functions, output, ground_truth, language, category, MODEL_NAME)
    return {"valid": result["valid"], "error_type": "" if result["valid"] else result["error_type"]}

"""What the train scripts share on the command line: ``--help``, ``--debug`` and how a user error is shown.

Why: a wrong setting should cost the user one short paragraph that names the setting and the fix, not a
30-line traceback through TRL; the traceback is still there with ``--debug``. The scripts stay thin: each
passes its usage text and its ``main`` body to :func:`run_cli`.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable

DEBUG_FLAG = "--debug"
OVERRIDE_HELP = """\
Every recipe key can be overridden on the command line, with underscores, as in transformers and TRL:
  --training.learning_rate 2e-5   --lora.r 8   --model.name_or_path /models/llama   --output_dir runs/x
A bare key (--max_steps 10) works when exactly one section has it. --output_dir sets training.output_dir.
--debug shows the full traceback of an error."""


class UserError(RuntimeError):
    """A problem the user fixes by changing a setting, a file or the environment; shown without traceback."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "fix your settings" (imported lazily: the scripts import little at start)."""
    from tooljudge.data_prep.data_mix import DataError

    from tooljudge.config import ConfigError  # RecipeError is one

    return (UserError, ConfigError, DataError)  # export.ExportError is a UserError


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def format_user_error(err: BaseException) -> str:
    """One short paragraph: what is wrong and what to do, wrapped for a terminal."""
    text = " ".join(str(err).split()) or type(err).__name__
    body = textwrap.fill(text, width=110, initial_indent="[tooljudge] error: ", subsequent_indent="  ")
    return body + f"\n  (run again with {DEBUG_FLAG} for the traceback)"


def run_cli(body: Callable[[list[str]], None], argv: list[str] | None, usage: str) -> None:
    """Run ``body(argv)`` with ``--help`` (exit 0) and ``--debug`` handled and user errors shown briefly.

    A user error exits with status 2 and one paragraph on stderr (printed once, by the main process, when
    several processes were launched); anything else is a bug and keeps its traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or (len(argv) > 1 and argv[1] in ("-h", "--help")):
        print(usage.rstrip())
        raise SystemExit(0 if argv else 2)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    from tooljudge.train.heap import limit_heap_retention

    limit_heap_retention()  # freed activations leave the process (CPU peak memory: train/heap.py)
    try:
        body(argv)
    except user_error_types() as err:
        if debug:
            raise
        if is_main_process():
            print(format_user_error(err), file=sys.stderr, flush=True)
        raise SystemExit(2) from None

"""The README's Python quick start runs as written and prints what it says: the trained tokens of a tool
conversation (the call, the reply and both stop tokens, nothing of the user or the tool result), a BFCL verdict,
and the synthetic rows with their drop counts."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python quick start"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_quick_start_runs_and_prints_the_mask_the_verdict_and_the_rows():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(quick_start(), "README.md quick start", "exec"), {"__name__": "readme_quick_start"})
    lines = out.getvalue().splitlines()
    assert lines[:4] == ["<tool_call>", '{"name": "get_weather", "arguments": {"city": "Paris"}}',
                         "</tool_call><|im_end|>Yes: 24 °C in Paris.<|im_end|>", "True"]
    count, dropped = lines[4].split(" ", 1)
    assert count == "20" and dropped.startswith("{")

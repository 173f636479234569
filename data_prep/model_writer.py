"""Model-driven text for synthetic rows: a generation backend writes the user requests and the final answers.

Why: templated requests are stiff. In Llama 3's recipe a model writes the user prompt and the final answer
few-shot, while the calls and their results stay real. Here the calls were already executed by the generator;
the model rewrites each user request (keeping every value) and writes each final answer from the real results.
The quality filters in ``synthetic`` then drop what the model got wrong: a request that lost an argument value
(``ungrounded_argument``), an answer whose numbers no result shows (``answer_contradicts_result``), an answer
that ignores the results, or an empty message. Prompts are plain few-shot completions, so any
``GenerationBackend`` works (a base model, an instruct model, a server).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tooljudge.config import setting

REQUEST_SHOTS = (
    ("What's the weather like in Paris?", "Hey, could you tell me what the weather is doing in Paris today?"),
    ("Convert 12 kilometers to miles.", "I ran 12 kilometers this morning - how many miles is that?"),
    ("Is 2024 a leap year?", "Quick question: does 2024 count as a leap year?"),
)
REQUEST_HEADER = ("Rewrite each request the way a real user would type it. Keep every name, number, code and "
                  "date exactly.\n\n")
ANSWER_HEADER = "Write the assistant's final answer from the tool results. Use only facts from the results.\n\n"


@dataclass
class ModelWriter:
    """Rewrites user requests and final answers of executed rows with ``backend`` (few-shot).

    ``shots``: how many of the batch's own templated answers serve as examples for the answers.
    """

    backend: Any
    shots: int = setting(3, "the batch's own templated answers shown as examples")
    temperature: float = setting(0.7, "sampling temperature of the rewrites")
    # 64 tokens and 32 rows: the values synthesize.py chose for its model backend (6b4afeb); the class had
    # 96 and 64 until the CLI was generated from it
    max_new_tokens: int = setting(64, "new tokens per request/answer")
    seed: int = setting(0, "sampling seed")
    batch_rows: int = setting(32, "rows rewritten per model call")
    name: str = "model"
    rewrite_requests: bool = True
    calls: int = field(default=0, init=False)

    def _request_prompt(self, text: str) -> str:
        shots = "".join(f"Request: {a}\nRewritten: {b}\n\n" for a, b in REQUEST_SHOTS)
        return f"{REQUEST_HEADER}{shots}Request: {text}\nRewritten:"

    @staticmethod
    def _answer_block(request: str, results: list[str]) -> str:
        return f"Request: {request}\nResults:\n" + "\n".join(results) + "\nAnswer:"

    def rewrite(self, rows: list[dict]) -> list[dict]:
        """Return the rows with new text (the input rows are not modified)."""
        rows = json.loads(json.dumps(rows))
        req_slots: list[tuple[int, int]] = []
        ans_slots: list[tuple[int, int, str]] = []
        examples: list[tuple[int, str]] = []  # (row, shot): a row never sees its own templated answer
        for r, row in enumerate(rows):
            request, results = "", []
            for i, m in enumerate(row["messages"]):
                if m["role"] == "user":
                    request, results = m["content"], []
                    if self.rewrite_requests:
                        req_slots.append((r, i))
                elif m["role"] == "tool":
                    results.append(f"{m['name']} -> {m['content']}")
                elif m["role"] == "assistant" and not m.get("tool_calls") and results:
                    block = self._answer_block(request, results)
                    ans_slots.append((r, i, block))
                    if len(examples) <= self.shots and all(r != e for e, _ in examples):
                        examples.append((r, f"{block} {m['content']}\n\n"))
        prompts = [self._request_prompt(rows[r]["messages"][i]["content"]) for r, i in req_slots]
        for r, _, block in ans_slots:
            shots = [shot for e, shot in examples if e != r][: self.shots]
            prompts.append(ANSWER_HEADER + "".join(shots) + block)
        if not prompts:
            return rows
        outs = self.backend.generate(prompts, max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                     stop=["\n"], seed=self.seed)
        self.calls += len(prompts)
        texts = [o.strip() for o in outs]
        for (r, i), text in zip(req_slots, texts[: len(req_slots)], strict=True):
            rows[r]["messages"][i]["content"] = text
        for (r, i, _), text in zip(ans_slots, texts[len(req_slots):], strict=True):
            rows[r]["messages"][i]["content"] = text
        return rows

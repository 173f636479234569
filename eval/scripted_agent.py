"""A scripted consultant / debater that argues from the article: a stand-in for a strong model, offline.

Why: measuring whether a trained judge reads a transcript needs agents whose arguments carry evidence, and no
strong model is available offline (SmolLM2-135M ignores its assigned side, docs/judging.md). This agent is
not a language model: for the side it is given it quotes the article sentence that contains that side's
answer and shares the most words with the question. On extractive rows (``generate_extractive``) that is the
asked town's line when it argues the correct answer, and another town's line (a true quote, about the wrong
town) when it argues the distractor. So the evidence is checkable by a judge that reads which town a quote is
about, and useless to one that does not read the transcript.

It is an ``Agent`` like any model: the protocols render its prompt (``render`` passes the user turn through),
call ``backend.generate``, and its text goes through the same ``finalise_argument`` as a model's (private
thinking stripped, word limit, quote verification). It reads everything it needs from the protocol's own
prompt (``judge_protocols.consultant_messages`` / ``debater_messages``), so it argues exactly the side the
protocol assigned. ``max_new_tokens`` does not bind it (it has no tokenizer); the word limit does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tooljudge.eval.judge_protocols import Agent

_QUESTION = re.compile(r"^Question: (.*)$", re.M)
_OPTION = re.compile(r"^\(([AB])\) (.*)$", re.M)
_ARTICLE = re.compile(r"<article>\n(.*?)\n</article>", re.S)
_SIDE = re.compile(r"You argue that the answer is \(([AB])\)")
_ROUND = re.compile(r"Write your argument for round (\d+)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True)
class ArgumentPrompt:
    """What the agent reads from a consultancy / debate prompt."""

    question: str
    answers: tuple[str, str]
    article: str
    side: int
    round: int


def parse_argument_prompt(text: str) -> ArgumentPrompt:
    """The question, both answers, the article, the assigned side and the round of an agent prompt; an error
    naming what is missing when the prompt is not one (e.g. a Best-of-N chooser prompt or a row without an
    article)."""
    q, side, art = _QUESTION.search(text), _SIDE.search(text), _ARTICLE.search(text)
    options = dict(m.groups() for m in _OPTION.finditer(text[q.end():] if q else text))
    missing = [name for name, found in (("question", q), ("assigned side", side), ("article", art),
                                        ("answers", len(options) == 2)) if not found]
    if missing:
        raise ValueError(f"scripted agent: not a consultancy/debate prompt with an article (no {', '.join(missing)}): "
                         f"{text[:120]!r}")
    rnd = _ROUND.search(text)
    return ArgumentPrompt(q.group(1).strip(), (options["A"].strip(), options["B"].strip()), art.group(1),
                          "AB".index(side.group(1)), int(rnd.group(1)) if rnd else 1)


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def evidence_sentence(article: str, answer: str, question: str) -> str | None:
    """The article sentence that contains ``answer`` (as whole words) and shares the most words with the
    question (first in article order on a tie); None when no sentence contains the answer."""
    pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(answer)}(?![0-9A-Za-z])")
    sentences = [s.strip() for s in _SENTENCE_END.split(article.replace("\n", " ")) if s.strip()]
    holding = [s for s in sentences if pattern.search(s)]
    if not holding:
        return None
    q = _words(question)
    return max(holding, key=lambda s: (len(_words(s) & q), -holding.index(s)))


def scripted_argument(prompt: ArgumentPrompt, counts: Counter | None = None) -> str:
    """The agent's text: private thinking, then an argument quoting the evidence for its side. Rounds after
    the first add the same rebuttal line for either side, so only the quote tells the sides apart."""
    answer = prompt.answers[prompt.side]
    sentence = evidence_sentence(prompt.article, answer, prompt.question)
    if counts is not None:
        counts["arguments"] += 1
        counts["no_evidence" if sentence is None else "quoted"] += 1
    evidence = f"The article says: <quote>{sentence}</quote>" if sentence else "The article supports it."
    rebuttal = " My opponent's quote does not answer the question; mine does." if prompt.round > 1 else ""
    return (f"<thinking>I argue for {answer}.</thinking>"
            f"<argument>{evidence}{rebuttal} The answer is {answer}.</argument>")


@dataclass
class ScriptedArguerBackend:
    """A ``GenerationBackend`` whose every reply is ``scripted_argument`` of its prompt. It has no
    ``label_probs``: it cannot be a judge or a Best-of-N chooser. ``counts``: arguments, quoted, no_evidence."""

    counts: Counter = field(default_factory=Counter)

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 0, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, seed: int = 0, **_: object) -> list[str]:
        return [scripted_argument(parse_argument_prompt(p), self.counts) for p in prompts]


def _user_turn(messages: list[dict]) -> str:
    """The scripted agent's "chat template": the last user turn, where the protocols put everything."""
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def scripted_agent(name: str = "scripted") -> Agent:
    """The scripted arguer as an ``Agent`` for ``run_consultancy`` / ``run_debate`` / ``evaluate_judge``."""
    return Agent(ScriptedArguerBackend(), _user_turn, name)

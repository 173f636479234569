"""Rule-written judge reasonings for extractive consultancy and debate: a stand-in for a strong model's CoT.

Why: trained on bare labels, the 135M judge learns debate but not consultancy. In consultancy the right letter
is "the consultant is honest" XOR "the letter it argues for"; a probe reads honesty at 1.000 but the letter at
chance, and training on the bare letter memorised the rows instead (benchmarks/results/
cpu_2026-12-01_judge_effect_consultancy_300/). A judge that first writes what the evidence is about, then the
verdict, gets each step as something it can read off the transcript. No strong model is available offline to
write such reasonings, so this module writes them by rule, as ``scripted_agent`` writes the arguments.

The rule, for an extractive row (``generate_extractive``: short facts about fictional towns, the question asks
about one town): each speaker's first verified quote (``<v_quote>``) is about the town it names; the evidence
supports an answer when its quote is about the town the question asks about. Consultancy: the consultant's
answer if its quote is about that town, else the other answer. Debate: the answer of the debater whose quote is
about that town. What the reasoning says is only what the judge can read in its own prompt (the question and
the quotes); the article is never in it. Where the rule cannot be applied (no verified quote, a quote naming no
town or several, both or neither debater on the asked town) or concludes other than the row's correct answer,
there is no reasoning, and the caller counts the row by that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tooljudge.data_prep.judge_tasks import TOWNS
from tooljudge.eval.judges import LABELS, correct_label, displayed, other_label, speaker_name

_VERIFIED = re.compile(r"<v_quote>(.*?)</v_quote>", re.S)
PROTOCOLS = ("consultancy", "debate")


@dataclass(frozen=True)
class Rationale:
    """A reasoning text and the letter it concludes (in the display order it was written for)."""

    text: str
    label: str


class NoRationale(ValueError):
    """The rule cannot write a reasoning for this judgement; ``reason`` is the count key."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def quote_town(text: str) -> str:
    """The town the argument's first verified quote is about: the one town of ``TOWNS`` it names."""
    m = _VERIFIED.search(text)
    if m is None:
        raise NoRationale("no_verified_quote", f"no verified quote in {text[:80]!r}")
    named = [t for t in TOWNS if re.search(rf"(?<![A-Za-z]){re.escape(t)}(?![A-Za-z])", m.group(1))]
    if len(named) != 1:
        raise NoRationale("quote_town_unclear", f"the quote names {len(named)} towns: {m.group(1)!r}")
    return named[0]


def scripted_rationale(transcript: dict, order: int) -> Rationale:
    """The reasoning for judging ``transcript`` in display ``order`` (see the module docstring); raises
    :class:`NoRationale`, naming the transcript and order, where the rule does not apply or disagrees with the
    row's correct answer."""
    try:
        return _rationale(transcript, order)
    except NoRationale as exc:
        raise NoRationale(exc.reason, f"{transcript.get('transcript_id')} (order {order}): {exc}") from None


def _rationale(transcript: dict, order: int) -> Rationale:
    protocol = transcript["protocol"]
    if protocol not in PROTOCOLS or transcript.get("task") != "extractive":
        raise NoRationale("not_extractive_transcript", f"{protocol} on {transcript.get('task')} rows")
    asked = transcript.get("meta", {}).get("town")
    if not asked:
        raise NoRationale("no_question_town", "the row's meta has no town")
    shown = displayed(transcript, order)
    first = {}
    for turn in sorted(transcript["turns"], key=lambda x: x["round"]):
        first.setdefault(turn["side"], turn["text"])
    if protocol == "consultancy":
        side = transcript["assignment"]
        letter = LABELS[shown.index(side)]
        town = quote_town(first.get(side, ""))
        if town == asked:
            text = (f"The consultant argues for ({letter}) with a verified quote about {town}, the town the question "
                    f"asks about, so ({letter}) is supported.")
            label = letter
        else:
            text = (f"The consultant argues for ({letter}) with a verified quote about {town}, but the question asks "
                    f"about {asked}, so ({letter}) is not supported.")
            label = other_label(letter)
    else:
        towns = {}
        for side in sorted(first, key=shown.index):
            towns[side] = quote_town(first[side])
        on_asked = [s for s, t in towns.items() if t == asked]
        if len(towns) != 2 or len(on_asked) != 1:
            raise NoRationale("debate_towns_unclear", f"quotes about {towns}, question about {asked}")
        parts = [f"{speaker_name(protocol, s, shown)} quotes a line about {t}" for s, t in towns.items()]
        winner = on_asked[0]
        label = LABELS[shown.index(winner)]
        text = (f"{parts[0]} and {parts[1]}. The question asks about {asked}, so the evidence supports "
                f"{speaker_name(protocol, winner, shown)}, who argues for ({label}).")
    if label != correct_label(transcript, order):
        raise NoRationale("rule_disagrees", f"the rule concludes ({label}), the correct answer is the other")
    return Rationale(text, label)

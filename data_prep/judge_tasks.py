"""Two-choice judge tasks: built-in generators and loaders for public QA datasets.

Why: the judging protocols of Kenton et al. (2024) run on binary questions (the correct answer plus one wrong
one). The generators need no download and scale to thousands of seeded rows; the loaders turn local or hub
copies of BoolQ, QuALITY, MMLU, GSM8K, TruthfulQA and GPQA into the same row:

    {"id", "task", "question", "answers": [a, b], "correct": 0|1, "article"?: str}

The position of the correct answer is balanced (exactly half in position 0 for the generators, a seeded coin
for the loaders), so a judge with position bias cannot score above chance by it.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXTRACTIVE_TASKS = {"extractive", "boolq", "quality", "gpqa_extractive"}


@dataclass
class LoadReport:
    """Kept rows and skipped rows by reason, with the row index of each problem (nothing dropped silently)."""

    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def skip(self, index: int, reason: str, detail: str = "") -> None:
        self.skipped[reason] += 1
        self.problems.append(f"row {index}: {reason}" + (f" ({detail})" if detail else ""))

    def as_dict(self) -> dict:
        return {"kept": self.kept, "skipped": dict(self.skipped), "problems": self.problems[:50]}


def balanced_positions(n: int, rng: random.Random) -> list[int]:
    """Correct-answer positions with exactly floor(n/2) zeros (one extra at random when n is odd)."""
    positions = [0] * (n // 2) + [1] * (n // 2)
    if n % 2:
        positions.append(rng.randint(0, 1))
    rng.shuffle(positions)
    return positions


def make_row(row_id: str, task: str, question: str, correct: str, wrong: str, position: int,
             article: str | None = None, meta: dict | None = None) -> dict:
    """Place the correct answer at ``position`` (0 or 1) and build the contract row."""
    if correct == wrong:
        raise ValueError(f"{row_id}: correct and wrong answers are identical: {correct!r}")
    answers = [correct, wrong] if position == 0 else [wrong, correct]
    row: dict[str, Any] = {"id": row_id, "task": task, "question": question, "answers": answers,
                           "correct": position}
    if article is not None:
        row["article"] = article
    if meta:
        row["meta"] = meta
    return row


# ---------------------------------------------------------------------------------------------------------
# PrOntoQA-style logic
# ---------------------------------------------------------------------------------------------------------
_CONCEPTS = ["wumpus", "yumpus", "zumpus", "dumpus", "rompus", "numpus", "tumpus", "vumpus", "impus",
             "jompus", "gorpus", "shumpus", "lempus", "sterpus", "grimpus", "lorpus", "brimpus", "felpus"]
_PROPERTIES = ["bright", "cold", "happy", "large", "red", "sour", "wooden", "fast", "shy", "loud", "spicy",
               "dull", "aggressive", "transparent", "liquid", "metallic", "kind", "opaque"]
_NAMES = ["Max", "Alex", "Sam", "Wren", "Polly", "Rex", "Fae", "Stella", "Sally", "Ben"]


def _plural(concept: str) -> str:
    return concept[:-2] + "uses" if concept.endswith("us") else concept + "s"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _neg(neg: bool) -> str:
    return "is not" if neg else "is"


def _prontoqa_one(rng: random.Random, hops: int) -> dict:
    """One logic problem: the entity is a c0; c0 -> c1 -> ... -> c_{hops-1} by subtype rules; the last concept
    has the queried property (maybe negated). A distractor rule gives the opposite property to a concept
    the entity is not. Each intermediate concept gets an unrelated property rule, as in PrOntoQA."""
    concepts = rng.sample(_CONCEPTS, hops + 1)
    chain, distractor = concepts[:hops], concepts[hops]
    props = rng.sample(_PROPERTIES, hops + 1)
    target, others = props[0], props[1:]
    name = rng.choice(_NAMES)
    target_neg = rng.random() < 0.5  # rule: every chain[-1] is (not) target
    rules = [f"Every {chain[i]} is {_article(chain[i + 1])} {chain[i + 1]}." for i in range(hops - 1)]
    rules += [f"Each {c} {_neg(rng.random() < 0.5)} {p}." for c, p in zip(chain[:-1], others, strict=False)]
    rules.append(f"Every {chain[-1]} {_neg(target_neg)} {target}.")
    rules.append(f"Every {distractor} {_neg(not target_neg)} {target}.")  # distractor rule
    rng.shuffle(rules)
    fact = f"{name} is {_article(chain[0])} {chain[0]}."
    query_neg = rng.random() < 0.5
    query = f"{name} {_neg(query_neg)} {target}."
    truth = query_neg == target_neg
    # The proof: class membership hop by hop, then the property.
    steps = [f"{name} is {_article(chain[0])} {chain[0]}."]
    for i in range(hops - 1):
        steps.append(f"Every {chain[i]} is {_article(chain[i + 1])} {chain[i + 1]}.")
        steps.append(f"{name} is {_article(chain[i + 1])} {chain[i + 1]}.")
    steps.append(f"Every {chain[-1]} {_neg(target_neg)} {target}.")
    steps.append(f"{name} {_neg(target_neg)} {target}.")
    derived_idx = [i for i, s in enumerate(steps) if s.startswith(name + " ")]
    # Wrong option: the same chain with one derived step's is/is not flipped (the conclusion follows the
    # flipped step when the flipped step is the last one, so the wrong option stays internally plausible).
    flip_at = rng.choice(derived_idx[1:] if len(derived_idx) > 1 else derived_idx)
    wrong_steps = list(steps)
    wrong_steps[flip_at] = _flip(steps[flip_at])
    last = wrong_steps[-1]
    wrong_truth = (("is not" in query) == ("is not" in last))
    correct_text = " ".join(steps) + f" So the statement is {truth}."
    wrong_text = " ".join(wrong_steps) + f" So the statement is {wrong_truth}."
    if correct_text == wrong_text:
        raise AssertionError("flip produced an identical chain")
    question = " ".join(rules) + " " + fact + f" True or false: {query}"
    return {"question": question, "correct": correct_text, "wrong": wrong_text,
            "meta": {"hops": hops, "query_negated": query_neg, "label": truth}}


def _flip(sentence: str) -> str:
    if " is not " in sentence:
        return sentence.replace(" is not ", " is ", 1)
    return sentence.replace(" is ", " is not ", 1)


def generate_prontoqa(n: int, seed: int = 0, hops: tuple[int, ...] = (1, 3, 5)) -> list[dict]:
    """``n`` PrOntoQA-style rows; hop counts cycle through ``hops``; answers are reasoning chains."""
    rng = random.Random(seed)
    positions = balanced_positions(n, rng)
    rows = []
    for i in range(n):
        p = _prontoqa_one(rng, hops[i % len(hops)])
        rows.append(make_row(f"prontoqa-{seed}-{i}", "prontoqa", p["question"], p["correct"], p["wrong"],
                             positions[i], meta=p["meta"]))
    return rows


_RULE_SUB = re.compile(r"^(?:Every|Each) (\w+) is an? (\w+)\.$")
_RULE_PROP = re.compile(r"^(?:Every|Each) (\w+) (is not|is) (\w+)\.$")
_FACT = re.compile(r"^(\w+) is an? (\w+)\.$")
_STMT_PROP = re.compile(r"^(\w+) (is not|is) (\w+)\.$")


def solve_prontoqa(question: str) -> bool:
    """Re-derive the label of a PrOntoQA-style question from its text by forward chaining (independent of the
    generator: it parses sentences, it does not read any generator state)."""
    context, _, query = question.partition(" True or false: ")
    sentences = re.findall(r"[^.]+\.", context)
    subtype: dict[str, set[str]] = {}
    props: dict[str, dict[str, bool]] = {}
    memberships: dict[str, set[str]] = {}
    for s in (x.strip() for x in sentences):
        if m := _RULE_SUB.match(s):
            subtype.setdefault(m[1], set()).add(m[2])
        elif m := _RULE_PROP.match(s):
            props.setdefault(m[1], {})[m[3]] = m[2] == "is"
        elif m := _FACT.match(s):
            memberships.setdefault(m[1], set()).add(m[2])
        else:
            raise ValueError(f"unparsed sentence: {s!r}")
    m = _STMT_PROP.match(query.strip())
    if not m:
        raise ValueError(f"unparsed query: {query!r}")
    entity, polarity, prop = m[1], m[2] == "is", m[3]
    known = set(memberships.get(entity, set()))
    frontier = list(known)
    while frontier:
        c = frontier.pop()
        for d in subtype.get(c, ()):
            if d not in known:
                known.add(d)
                frontier.append(d)
    values = {props[c][prop] for c in known if prop in props.get(c, {})}
    if len(values) != 1:
        raise ValueError(f"query {query!r} is not decided by the context ({values})")
    return values.pop() == polarity


def check_prontoqa_chain(question: str, chain: str) -> bool:
    """True when every derived statement in ``chain`` is entailed and its stated verdict is right."""
    context, _, query = question.partition(" True or false: ")
    body, _, verdict = chain.rpartition(" So the statement is ")
    entity = _STMT_PROP.match(query.strip())[1]
    for s in re.findall(r"[^.]+\.", body):
        s = s.strip()
        if s.startswith(entity + " ") and (m := _STMT_PROP.match(s)) and m[3] not in ("a", "an"):
            if not solve_prontoqa(f"{context} True or false: {s}"):
                return False
        elif s.startswith(entity + " ") and " not " in s:
            return False  # "X is not a c": membership claims in a proof are always positive
    return verdict.rstrip(".") == str(solve_prontoqa(question))


# ---------------------------------------------------------------------------------------------------------
# Multi-step arithmetic word problems
# ---------------------------------------------------------------------------------------------------------
_ITEMS = ["apples", "marbles", "stickers", "books", "coins", "shells", "pencils", "cards"]
_PEOPLE = ["Ava", "Liam", "Noah", "Mia", "Zoe", "Omar", "Iris", "Kai"]
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a // b}


def _arith_steps(rng: random.Random, n_steps: int) -> tuple[str, list[tuple[str, int]]]:
    person, item = rng.choice(_PEOPLE), rng.choice(_ITEMS)
    value = rng.randint(5, 40)
    sentences = [f"{person} has {value} {item}."]
    ops: list[tuple[str, int]] = []
    for _ in range(n_steps):
        kind = rng.choice(["buy", "give", "times", "share"])
        if kind == "buy":
            k, b = rng.randint(2, 6), rng.randint(2, 9)
            sentences.append(f"Then {person} buys {k} packs with {b} {item} each.")
            ops.append(("+", k * b))
            value += k * b
        elif kind == "give" and value > 3:
            b = rng.randint(1, value - 1)
            sentences.append(f"Then {person} gives away {b} {item}.")
            ops.append(("-", b))
            value -= b
        elif kind == "times" and value < 200:
            b = rng.randint(2, 4)
            sentences.append(f"Then the number of {item} {person} has is multiplied by {b}.")
            ops.append(("*", b))
            value *= b
        else:
            divisors = [d for d in (2, 3, 4, 5) if value % d == 0]
            if not divisors:
                b = rng.randint(1, 9)
                sentences.append(f"Then {person} finds {b} more {item}.")
                ops.append(("+", b))
                value += b
                continue
            b = rng.choice(divisors)
            sentences.append(f"Then {person} keeps one of {b} equal shares of the {item}.")
            ops.append(("/", b))
            value //= b
    sentences.append(f"How many {item} does {person} have at the end?")
    first = int(re.search(r"has (\d+)", sentences[0])[1])
    return " ".join(sentences), [("=", first)] + ops


def _solution(ops: list[tuple[str, int]], mutate_at: int | None = None, delta: int = 0) -> tuple[str, int]:
    value = ops[0][1]
    lines = []
    for i, (op, b) in enumerate(ops[1:], start=1):
        result = _OPS[op](value, b)
        if i == mutate_at:
            result += delta
        lines.append(f"{value} {op} {b} = {result}.")
        value = result
    return " ".join(lines) + f" The answer is {value}.", value


def generate_arithmetic(n: int, seed: int = 0, steps: tuple[int, ...] = (2, 3, 4)) -> list[dict]:
    """Word problems; the wrong option is the correct worked solution with one step's result off by a small
    amount and the later steps computed correctly from the wrong value (so exactly one error)."""
    rng = random.Random(seed)
    positions = balanced_positions(n, rng)
    rows = []
    for i in range(n):
        question, ops = _arith_steps(rng, steps[i % len(steps)])
        correct, answer = _solution(ops)
        while True:
            at = rng.randint(1, len(ops) - 1)
            delta = rng.choice([-3, -2, -1, 1, 2, 3, 10])
            wrong, wrong_answer = _solution(ops, at, delta)
            if wrong_answer != answer and wrong_answer >= 0:
                break
        rows.append(make_row(f"arithmetic-{seed}-{i}", "arithmetic", question, correct, wrong, positions[i],
                             meta={"answer": answer}))
    return rows


_EQ = re.compile(r"(-?\d+) ([-+*/]) (-?\d+) = (-?\d+)\.")


def check_arithmetic_solution(solution: str) -> bool:
    """Recompute every ``a op b = c`` step (integer division for '/') and the chaining of results."""
    steps = _EQ.findall(solution)
    final = re.search(r"The answer is (-?\d+)\.", solution)
    if not steps or not final:
        return False
    prev = None
    for a, op, b, c in steps:
        a, b, c = int(a), int(b), int(c)
        if prev is not None and a != prev:
            return False
        if _OPS[op](a, b) != c:
            return False
        prev = c
    return prev == int(final[1])


# ---------------------------------------------------------------------------------------------------------
# Extractive: a generated article the debaters see and the judge does not
# ---------------------------------------------------------------------------------------------------------
TOWNS = ["Varnell", "Ostrava Minor", "Keldwick", "Marrow Bay", "Thistlemoor", "Quenford", "Halvik", "Brennock",
         "Sorrelby", "Ashcombe", "Dunmere", "Felgate", "Corriston", "Ylvath", "Penhallow", "Rookmere"]
_ATTRS = {
    "export": ["copper", "wool", "glass", "salt", "timber", "silk", "cider", "tin", "amber", "paper"],
    "founder": ["Mira Kest", "Tomas Orel", "Ines Vahl", "Duro Pike", "Lena Sorn", "Arlo Venn", "Cass Imre",
                "Juno Fell"],
    "year": [str(y) for y in range(1612, 1890, 7)],
    "river": ["the Ost", "the Kell", "the Marrow", "the Slade", "the Wend", "the Lune", "the Dray"],
    "festival": ["the Lantern Walk", "the Salt Fair", "the Harvest Bell", "the Kite Day", "the Ember Night"],
}
_TEMPLATES = {
    "export": ("The main export of {town} is {value}.", "What is the main export of {town}?"),
    "founder": ("{town} was founded by {value}.", "Who founded {town}?"),
    "year": ("{town} received its charter in {value}.", "In which year did {town} receive its charter?"),
    "river": ("{town} lies on the banks of {value}.", "On which river does {town} lie?"),
    "festival": ("Every spring {town} celebrates {value}.", "Which festival does {town} celebrate in spring?"),
}


def generate_extractive(n: int, seed: int = 0, towns_per_article: int = 3) -> list[dict]:
    """Short articles of facts about fictional towns; the wrong answer is a value of the same attribute that
    the article gives to another town, so without the article both answers look equally plausible."""
    rng = random.Random(seed)
    positions = balanced_positions(n, rng)
    rows = []
    for i in range(n):
        towns = rng.sample(TOWNS, towns_per_article)
        facts = {t: {a: v for a, v in zip(_ATTRS, [rng.choice(vs) for vs in _ATTRS.values()], strict=True)}
                 for t in towns}
        attr = rng.choice(list(_ATTRS))
        for t in towns[1:]:  # make sure another town holds a different value of the asked attribute
            while facts[t][attr] == facts[towns[0]][attr]:
                facts[t][attr] = rng.choice(_ATTRS[attr])
        paragraphs = []
        for t in towns:
            sent = [_TEMPLATES[a][0].format(town=t, value=v) for a, v in facts[t].items()]
            rng.shuffle(sent)
            paragraphs.append(" ".join(sent))
        article = "\n\n".join(paragraphs)
        target = towns[0]
        correct = facts[target][attr]
        wrong = facts[rng.choice(towns[1:])][attr]
        question = _TEMPLATES[attr][1].format(town=target)
        rows.append(make_row(f"extractive-{seed}-{i}", "extractive", question, correct, wrong, positions[i],
                             article=article, meta={"attribute": attr, "town": target}))
    return rows


GENERATORS = {"prontoqa": generate_prontoqa, "arithmetic": generate_arithmetic, "extractive": generate_extractive}


def generate_tasks(task: str, n: int, seed: int = 0, **kwargs: Any) -> list[dict]:
    """Dispatch to a built-in generator by name (``kwargs`` go to the generator, e.g. ``towns_per_article``)."""
    if task not in GENERATORS:
        raise ValueError(f"unknown generated task {task!r}; choose from {sorted(GENERATORS)}")
    return GENERATORS[task](n, seed=seed, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Loaders for public datasets (local files in the published format, a datasets.Dataset, or a hub id)
# ---------------------------------------------------------------------------------------------------------
def read_records(source: Any, split: str | None = None, config: str | None = None,
                 csv_header: bool = True, fieldnames: list[str] | None = None) -> list[dict]:
    """Rows from a JSONL/JSON/CSV/Parquet path, an iterable of dicts, a ``datasets.Dataset`` or a hub id
    (``datasets.load_dataset``; only when the caller asks for one, never in tests)."""
    if isinstance(source, (list, tuple)):
        return [dict(r) for r in source]
    if hasattr(source, "to_list"):  # datasets.Dataset
        return source.to_list()
    path = Path(str(source))
    if path.exists():
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            from tooljudge.data_prep.jsonl import read_jsonl

            return read_jsonl(path)
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, list) else data.get("data", [data])
        if suffix in (".csv", ".tsv"):
            with open(path, encoding="utf-8", newline="") as f:
                delim = "\t" if suffix == ".tsv" else ","
                if csv_header and fieldnames is None:
                    return list(csv.DictReader(f, delimiter=delim))
                return list(csv.DictReader(f, fieldnames=fieldnames, delimiter=delim))
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        raise ValueError(f"{path}: unsupported file type {suffix!r} (jsonl, json, csv, tsv, parquet)")
    import datasets

    return datasets.load_dataset(str(source), config, split=split or "validation").to_list()


def _pick_wrong(rng: random.Random, wrong: list[str], correct: str) -> str | None:
    options = [w for w in wrong if w and w.strip() and w.strip() != correct.strip()]
    return rng.choice(options) if options else None


def _binary(rng: random.Random, report: LoadReport, rows: list[dict], index: int, row_id: str, task: str,
            question: str, correct: str, wrong: list[str], article: str | None = None) -> None:
    if not question or not str(question).strip():
        report.skip(index, "empty_question")
        return
    if correct is None or not str(correct).strip():
        report.skip(index, "no_correct_answer")
        return
    w = _pick_wrong(rng, [str(x) for x in wrong], str(correct))
    if w is None:
        report.skip(index, "no_wrong_answer", "every other option is empty or equals the correct one")
        return
    rows.append(make_row(row_id, task, str(question).strip(), str(correct).strip(), w.strip(),
                         rng.randint(0, 1), article=article))
    report.kept += 1


def load_boolq(source: Any, seed: int = 0, limit: int | None = None, split: str | None = None):
    """BoolQ (``question``, ``passage``, ``answer`` bool; hub ``google/boolq``): extractive, Yes/No."""
    rng, report, rows = random.Random(seed), LoadReport(), []
    for i, r in enumerate(read_records(source, split=split)):
        ans = r.get("answer", r.get("label"))
        if isinstance(ans, str):
            ans = {"true": True, "false": False}.get(ans.strip().lower(), ans)
        if not isinstance(ans, (bool, int)):
            report.skip(i, "bad_answer", repr(ans))
            continue
        q = str(r.get("question", "")).strip()
        q = q[0].upper() + q[1:] + ("" if q.endswith("?") else "?") if q else q
        correct, wrong = ("Yes", "No") if bool(ans) else ("No", "Yes")
        _binary(rng, report, rows, i, f"boolq-{i}", "boolq", q, correct, [wrong], article=r.get("passage"))
        if limit and len(rows) >= limit:
            break
    return rows, report


def load_quality(source: Any, seed: int = 0, limit: int | None = None, split: str | None = None):
    """QuALITY (article JSONL with ``questions: [{question, options, gold_label (1-based)}]``): extractive."""
    rng, report, rows = random.Random(seed), LoadReport(), []
    for i, art in enumerate(read_records(source, split=split)):
        article = art.get("article")
        if not article:
            report.skip(i, "no_article")
            continue
        for j, q in enumerate(art.get("questions", [])):
            opts, gold = q.get("options") or [], q.get("gold_label")
            if not isinstance(gold, int) or not 1 <= gold <= len(opts):
                report.skip(i, "no_gold_label", f"question {j}")
                continue
            qid = q.get("question_unique_id") or f"{art.get('article_id', i)}-{j}"
            _binary(rng, report, rows, i, f"quality-{qid}", "quality", q.get("question", ""),
                    opts[gold - 1], [o for k, o in enumerate(opts) if k != gold - 1], article=article)
            if limit and len(rows) >= limit:
                return rows, report
    return rows, report


def load_mmlu(source: Any, seed: int = 0, limit: int | None = None, split: str | None = None):
    """MMLU: hub form (``question``, ``choices``, ``answer`` int) or the original header-less CSV
    (question, A, B, C, D, answer letter)."""
    rng, report, rows = random.Random(seed), LoadReport(), []
    is_csv = str(source).lower().endswith(".csv")
    records = read_records(source, split=split, csv_header=False,
                           fieldnames=["question", "A", "B", "C", "D", "answer"] if is_csv else None)
    for i, r in enumerate(records):
        choices = r.get("choices") or [r.get(k) for k in "ABCD" if r.get(k) is not None]
        ans = r.get("answer")
        if isinstance(ans, str) and ans.strip().upper() in ("A", "B", "C", "D"):
            ans = "ABCD".index(ans.strip().upper())
        if not isinstance(ans, int) or not 0 <= ans < len(choices):
            report.skip(i, "bad_answer", repr(ans))
            continue
        _binary(rng, report, rows, i, f"mmlu-{r.get('subject', 'x')}-{i}", "mmlu", r.get("question", ""),
                choices[ans], [c for k, c in enumerate(choices) if k != ans])
        if limit and len(rows) >= limit:
            break
    return rows, report


_GSM_FINAL = re.compile(r"####\s*([-\d,\.]+)")


def load_gsm8k(source: Any, seed: int = 0, limit: int | None = None, split: str | None = None):
    """GSM8K (``question``, ``answer`` ending ``#### N``). GSM8K has no wrong options: the wrong answer is the
    final number perturbed by a seeded offset (documented choice; the answers are the final numbers)."""
    rng, report, rows = random.Random(seed), LoadReport(), []
    for i, r in enumerate(read_records(source, split=split)):
        m = _GSM_FINAL.search(str(r.get("answer", "")))
        if not m:
            report.skip(i, "no_final_answer", "missing '#### N'")
            continue
        text = m[1].replace(",", "").rstrip(".")
        try:
            value = int(text)
        except ValueError:
            report.skip(i, "non_integer_answer", text)
            continue
        offset = rng.choice([-10, -2, -1, 1, 2, 10]) if abs(value) < 20 else rng.choice([-1, 1]) * max(
            1, round(abs(value) * rng.choice([0.1, 0.2, 0.5])))
        _binary(rng, report, rows, i, f"gsm8k-{i}", "gsm8k", r.get("question", ""), str(value),
                [str(value + offset)])
        if limit and len(rows) >= limit:
            break
    return rows, report


def load_truthfulqa(source: Any, seed: int = 0, limit: int | None = None, split: str | None = None):
    """TruthfulQA: hub ``multiple_choice`` (``mc1_targets: {choices, labels}``), hub ``generation``
    (``best_answer``, ``incorrect_answers``) or the published CSV (``Best Answer``, ``Incorrect Answers``
    separated by ';')."""
    rng, report, rows = random.Random(seed), LoadReport(), []
    for i, r in enumerate(read_records(source, split=split)):
        q = r.get("question") or r.get("Question")
        if "mc1_targets" in r:
            t = r["mc1_targets"]
            labels = t.get("labels", [])
            if labels.count(1) != 1:
                report.skip(i, "bad_mc1_labels")
                continue
            k = labels.index(1)
            correct, wrong = t["choices"][k], [c for j, c in enumerate(t["choices"]) if j != k]
        elif "best_answer" in r:
            correct, wrong = r["best_answer"], list(r.get("incorrect_answers") or [])
        elif "Best Answer" in r:
            correct = r["Best Answer"]
            wrong = [w.strip() for w in str(r.get("Incorrect Answers", "")).split(";")]
        else:
            report.skip(i, "unknown_format", ",".join(sorted(r))[:80])
            continue
        _binary(rng, report, rows, i, f"truthfulqa-{i}", "truthfulqa", q or "", correct, wrong)
        if limit and len(rows) >= limit:
            break
    return rows, report


def load_gpqa(source: Any, seed: int = 0, limit: int | None = None, split: str | None = None,
              extractive: bool = False):
    """GPQA CSV / hub (``Question``, ``Correct Answer``, ``Incorrect Answer 1..3``, ``Explanation``).
    ``extractive=True`` is the paper's GPQA-extractive: the expert explanation becomes the hidden article."""
    rng, report, rows = random.Random(seed), LoadReport(), []
    task = "gpqa_extractive" if extractive else "gpqa"
    for i, r in enumerate(read_records(source, split=split)):
        article = None
        if extractive:
            article = str(r.get("Explanation") or "").strip()
            if not article:
                report.skip(i, "no_explanation")
                continue
        _binary(rng, report, rows, i, f"{task}-{r.get('Record ID', i)}", task, r.get("Question", ""),
                r.get("Correct Answer"), [r.get(f"Incorrect Answer {k}") or "" for k in (1, 2, 3)],
                article=article)
        if limit and len(rows) >= limit:
            break
    return rows, report


LOADERS = {"boolq": load_boolq, "quality": load_quality, "mmlu": load_mmlu, "gsm8k": load_gsm8k,
           "truthfulqa": load_truthfulqa, "gpqa": load_gpqa,
           "gpqa_extractive": lambda s, **kw: load_gpqa(s, extractive=True, **kw)}


def load_task(name: str, source: Any, seed: int = 0, limit: int | None = None, split: str | None = None):
    """Load a public dataset into binary judge rows; returns ``(rows, LoadReport)``."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(LOADERS)}")
    return LOADERS[name](source, seed=seed, limit=limit, split=split)


def validate_judge_row(row: dict) -> list[str]:
    """Problems with a judge row (empty list = valid)."""
    problems = []
    for key in ("id", "task", "question", "answers", "correct"):
        if key not in row:
            problems.append(f"missing {key!r}")
    answers = row.get("answers")
    if not isinstance(answers, list) or len(answers) != 2 or not all(isinstance(a, str) and a for a in answers):
        problems.append("answers must be a list of two non-empty strings")
    elif answers[0] == answers[1]:
        problems.append("both answers are identical")
    if row.get("correct") not in (0, 1):
        problems.append(f"correct must be 0 or 1, got {row.get('correct')!r}")
    if row.get("task") in EXTRACTIVE_TASKS and not row.get("article"):
        problems.append(f"extractive task {row.get('task')!r} needs an article")
    return problems

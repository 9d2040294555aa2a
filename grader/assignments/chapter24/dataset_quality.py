"""Exercise 24.27 (a–b): instruction dataset quality — diversity metrics and near-duplicates (seed 002, torch).

distinct-n counts the distinct n-grams of a corpus (Li et al., "A Diversity-Promoting Objective Function for
Neural Conversation Models", NAACL 2016, "distinct-1" and "distinct-2"). Li et al. scale the count by the number of
generated tokens; the course divides by the number of n-grams, so that distinct-n is the share of n-grams that are
new (the two agree for n = 1), and says so in the spec.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.chapter24.returned import decoded, pairs, returns, scalar
from grader.code.checks import CodeCheck, FULL, NONE, failed, tensor

F = Fraction

SPEC = """\
distinct_n(texts, n) -> float: the number of distinct n-grams divided by the number of n-grams, pooled over
the whole list (a corpus-level ratio, not a mean of per-text ratios). Tokens are text.split() (any run of
whitespace separates; case and punctuation kept); n-grams never cross from one text into the next; a text
with fewer than n tokens has none; 0.0 when there are no n-grams at all.
instruction_template(instruction) -> str: the instruction lowercased, every double-quoted span ("…", from a "
to the next ") replaced by <str>, then every number (a run of digits with an optional decimal part: 3, 2.5;
inside words too: v2 → v<num>) replaced by <num>, and whitespace runs collapsed to one space, stripped.
Single quotes are apostrophes, not quotes. unique_templates(instructions) -> int: the number of distinct
templates.
task_distribution(tasks) -> dict: tasks holds one task-type string per example; each task type → its
fraction of the examples (in [0, 1], summing to 1).
near_duplicates(embeddings, threshold=0.9) -> the pairs (i, j), i < j, whose cosine similarity is ≥ threshold;
embeddings is a float tensor (n × d), one row per example. A list of (i, j) pairs in any order (or an m × 2
tensor).
"""


# ---------------------------------------------------------------- distinct-n

def _grams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _ratio(grams: list[tuple[str, ...]]) -> float:
    return len(set(grams)) / len(grams) if grams else 0.0


def distinct_reference(texts: list[str], n: int) -> float:
    return _ratio([g for t in texts for g in _grams(t.split(), n)])


def _distinct_readings(texts: list[str], n: int) -> dict[str, float]:
    """What the classic mistakes compute, keyed by the feedback that names them."""
    per_text = [_ratio(_grams(t.split(), n)) for t in texts if len(t.split()) >= n]
    grams = [g for t in texts for g in _grams(t.split(), n)]
    return {
        "tokens were lowercased: the spec keeps case (The ≠ the)":
            _ratio([g for t in texts for g in _grams(t.lower().split(), n)]),
        "this is a mean of per-text ratios: pool the n-grams of the whole list, then divide":
            sum(per_text) / len(per_text) if per_text else 0.0,
        "n-grams crossed from one text into the next: take n-grams within each text":
            _ratio(_grams(" ".join(texts).split(), n)),
        "split(' ') makes empty tokens of repeated spaces and keeps tabs/newlines: use split()":
            _ratio([g for t in texts for g in _grams(t.split(" "), n)]),
        "this divides by the number of tokens (Li et al.'s scaling); the spec divides by the number of n-grams":
            len(set(grams)) / max(1, sum(len(t.split()) for t in texts)),
        "return the ratio distinct / total, not the count of distinct n-grams": float(len(set(grams))),
    }


def _distinct_texts(rng: np.random.Generator) -> list[str]:
    words = ["the", "The", "model", "answers", "a", "question", "about", "cats", "and", "dogs", "briefly"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(4, 9)))) for _ in range(6)]
    texts[1] = texts[1].replace(" ", "  ", 1)          # repeated spaces
    texts[2] = texts[2].replace(" ", "\t", 1) + "\n"   # a tab and a trailing newline
    texts += [texts[0], "briefly", "The model answers", "the model answers"]  # a repeat, a 1-token text, case
    return [texts[i] for i in rng.permutation(len(texts))]


def _distinct(rng: np.random.Generator) -> list[CodeCheck]:
    texts = _distinct_texts(rng)
    ns = (1, 2, 3)

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        share, notes = F(0), []
        for n, v in zip(ns, vals):
            got, want = scalar(v), distinct_reference(texts, n)
            if got is not None and abs(got - want) <= 1e-9:
                share += F(1, len(ns))
                continue
            if not notes:
                named = [why for why, r in _distinct_readings(texts, n).items()
                         if got is not None and abs(got - r) <= 1e-9 and abs(r - want) > 1e-9]
                notes.append(f"distinct-{n} = {got}: " + (named[0] if named else f"expected {want:.6f}"))
        return share, "; ".join(notes) or "distinct-1/2/3 pooled over the corpus, n-grams within each text"

    ops = [{"op": "call", "func": "distinct_n", "args": [texts, n], "store": f"d{n}"} for n in ns]
    return [CodeCheck("24.27.distinct", "24.27", "distinct_n: corpus-level n-gram diversity", F(2),
                      [*ops, *returns(*(f"d{n}" for n in ns))], judge)]


# ---------------------------------------------------------------- instruction templates

_QUOTED = re.compile(r'"[^"]*"')
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def template_reference(instruction: str, *, lower: bool = True, quotes: bool = True, numbers: bool = True,
                       collapse: bool = True, decimals: bool = True, single_quotes: bool = False) -> str:
    """The spec's template; the keyword switches give the classic mistakes' readings."""
    t = instruction.lower() if lower else instruction
    if quotes:
        t = _QUOTED.sub("<str>", t)
    if single_quotes:
        t = re.sub(r"'[^']*'", "<str>", t)
    if numbers:
        t = (_NUMBER if decimals else re.compile(r"\d+")).sub("<num>", t)
    return " ".join(t.split()) if collapse else t


_TEMPLATE_MISTAKES = {
    "lower": "lowercase the instruction", "quotes": 'replace each double-quoted span "…" by <str>',
    "numbers": "replace each number by <num>", "collapse": "collapse whitespace runs to one space and strip",
    "decimals": "a number's decimal part belongs to it: 2.5 → <num>, not <num>.<num>",
}


def _template_mistake(instruction: str, got: Any) -> str:
    for switch, why in _TEMPLATE_MISTAKES.items():
        if got == template_reference(instruction, **{switch: False}):
            return why
    if got == template_reference(instruction, single_quotes=True):
        return "single quotes are apostrophes (don't, isn't), not quotes: mask double-quoted spans only"
    return f"expected {template_reference(instruction)!r}"


_PATTERNS = ('Translate "{q}" into French.', "Summarize the article in {num} sentences.",
             'Write a haiku about "{q}".', "List {num} ways to cook {food}.", "Rate this review from 1 to {num}.")


def _instructions(rng: np.random.Generator, size: int) -> list[str]:
    phrases = ["good morning", "the Quick Fox", "it's 5 o'clock", "see you in 2 days"]
    nums = ["3", "10", "2.5", "7"]
    foods = ["rice", "eggs", "beans"]
    out = []
    for _ in range(size):
        s = str(rng.choice(_PATTERNS)).format(q=rng.choice(phrases), num=rng.choice(nums), food=rng.choice(foods))
        if rng.random() < 0.4:
            s = s.upper() if rng.random() < 0.5 else s.replace(" ", "   ", 1)
        out.append(s)
    return out


def _templates(rng: np.random.Generator) -> list[CodeCheck]:
    probes = ['Translate  "Good Morning" into French.', "Summarize the article in 2.5 sentences. ",
              "Don't say it isn't v2 of the spec", 'LIST 10 WAYS TO COOK "RICE"', "Rate\tthis review from 1 to 7."]
    # two corpora with different counts: no constant answer is right on both
    corpora = [_instructions(rng, 6), _instructions(rng, 16)]
    while len({template_reference(s) for s in corpora[0]}) == len({template_reference(s) for s in corpora[1]}):
        corpora[0] = _instructions(rng, 6)
    counts = [len({template_reference(s) for s in corpus}) for corpus in corpora]

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = [decoded(v) for v in vals[:len(probes)]]
        share, notes = F(0), []
        wrong = [(p, g) for p, g in zip(probes, got) if g != template_reference(p)]
        if not wrong:
            share += F(1, 2)
        else:
            probe, g = wrong[0]
            notes.append(f"instruction_template({probe!r}) = {str(g)[:100]!r}: {_template_mistake(probe, g)}")
        found = [scalar(v) for v in vals[len(probes):]]
        if found == counts:
            share += F(1, 2)
        else:
            notes.append(f"unique_templates gave {found}, expected {counts} distinct templates among "
                         f"{[len(c) for c in corpora]} instructions")
        return share, "; ".join(notes) or "templates mask quotes and numbers; distinct templates counted"

    ops = [{"op": "call", "func": "instruction_template", "args": [p], "store": f"t{k}"} for k, p in enumerate(probes)]
    ops += [{"op": "call", "func": "unique_templates", "args": [c], "store": f"n{k}"} for k, c in enumerate(corpora)]
    return [CodeCheck("24.27.templates", "24.27", "instruction_template and unique_templates", F(1),
                       [*ops, *returns(*(f"t{k}" for k in range(len(probes))), "n0", "n1")], judge)]


# ---------------------------------------------------------------- task distribution

def _tasks(rng: np.random.Generator) -> list[CodeCheck]:
    kinds = ["qa", "summarization", "classification", "extraction", "rewrite"]
    counts = rng.integers(1, 9, size=len(kinds))
    counts[0] += 6  # skewed: one dominant task type
    tasks = [str(t) for t in rng.permutation(np.repeat(kinds, counts))]
    total = len(tasks)
    want = {k: c / total for k, c in Counter(tasks).items()}

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = decoded(vals[0])
        if not isinstance(got, dict):
            return NONE, "return a dict: task type → fraction of the examples"
        fractions = {k: scalar(v) for k, v in got.items()}
        if set(fractions) != set(want):
            return NONE, f"the keys must be the task types present: {sorted(want)} (got {sorted(fractions)[:8]})"
        if any(v is None for v in fractions.values()):
            return NONE, "each value must be a number (the task type's fraction)"

        def matches(scale: float) -> bool:
            return all(abs(fractions[k] - scale * want[k]) <= 1e-9 * max(1.0, scale) for k in want)  # type: ignore

        if matches(1.0):
            return FULL, "fractions of the examples per task type"
        if matches(float(total)):
            return NONE, "these are counts: divide by the number of examples to get fractions"
        if matches(100.0):
            return NONE, "these are percentages: the spec asks for fractions in [0, 1]"
        return NONE, f"expected {', '.join(f'{k}: {v:.4f}' for k, v in sorted(want.items()))}"

    return [CodeCheck("24.27.tasks", "24.27", "task_distribution: fractions per task type", F(1),
                      [{"op": "call", "func": "task_distribution", "args": [tasks], "store": "dist"},
                       *returns("dist")], judge)]


# ---------------------------------------------------------------- near-duplicates

THRESHOLD = 0.9


def _cosine(e: np.ndarray) -> np.ndarray:
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    return unit @ unit.T


def near_duplicate_reference(e: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    sim = _cosine(e)
    return {(i, j) for i in range(len(e)) for j in range(i + 1, len(e)) if sim[i, j] >= threshold}


def _embeddings(rng: np.random.Generator) -> np.ndarray:
    """20 rows: four planted near-duplicate pairs and one near-duplicate triple among random rows, of
    norms 0.3–3 (a raw dot product is not a cosine); no pair within 0.02 of the threshold (float32-safe)."""
    while True:
        e = rng.normal(size=(20, 12))
        for a, b in ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (8, 10)):
            e[b] = e[a] + rng.normal(size=12) * 0.08
        e *= rng.uniform(0.3, 3.0, size=(20, 1))
        e = e[rng.permutation(20)]
        sim = _cosine(e)[np.triu_indices(20, 1)]
        if np.all(np.abs(sim - THRESHOLD) > 0.02):
            return e


def _near_duplicates(rng: np.random.Generator) -> list[CodeCheck]:
    e = _embeddings(rng)
    want = near_duplicate_reference(e, THRESHOLD)
    dot = e @ e.T
    raw = {(i, j) for i in range(len(e)) for j in range(i + 1, len(e)) if dot[i, j] >= THRESHOLD}

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = pairs(vals[0])
        if got is None:
            return NONE, "return a list of (i, j) index pairs"
        found = set(got)
        ordered = {(min(i, j), max(i, j)) for i, j in found if i != j}
        if found == want and len(got) == len(want):
            return FULL, f"{len(want)} near-duplicate pairs by cosine similarity ≥ {THRESHOLD}"
        if found == raw:
            return NONE, ("these pairs have a raw dot product ≥ threshold: normalise the embeddings (cosine "
                          "similarity) first")
        if ordered == want:
            notes = []
            if any(i == j for i, j in found):
                notes.append("self-pairs (i, i) are not duplicates: exclude the diagonal")
            if any(i > j for i, j in found) or len(got) != len(found):
                notes.append("report each pair once, as (i, j) with i < j")
            return F(1, 2), "; ".join(notes)
        return NONE, f"found {len(ordered)} pairs, {len(ordered & want)} of the {len(want)} expected"

    return [CodeCheck("24.27.duplicates", "24.27", "near_duplicates: cosine similarity ≥ threshold", F(2),
                      [{"op": "call", "func": "near_duplicates", "args": [tensor(e)],
                        "kwargs": {"threshold": THRESHOLD}, "store": "pairs"}, *returns("pairs")], judge)]


def _quality(rng: np.random.Generator) -> list[CodeCheck]:
    return [*_distinct(rng), *_templates(rng), *_tasks(rng), *_near_duplicates(rng)]


EXERCISE = Exercise("24.27", "instruction dataset quality: diversity metrics and near-duplicates (a–b)", SPEC,
                    _quality)

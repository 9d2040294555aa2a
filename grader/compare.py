"""Grading one part against the key: numbers in any unit, formulas, choices, rubric-graded prose.

Returns data (:class:`PartResult`), never raises for anything a student wrote.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from typing import Any

from answers.key import Answer
from grader.assignments import Scoring
from grader.numeric import grade_numeric
from grader.parse import ParseError, numbers_in, parse_formula
from grader.reading import split_values
from grader.result import PartResult, answer_text, quote, sentences

__all__ = ["PartResult", "grade_part"]
FEEDBACK_LIMIT = 400  # characters of the key's text quoted as feedback: whole sentences up to this

# ---- choices, formulas, prose ------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9+ ]", " ", text.lower().replace("-", " "))).strip()


def _first_mention(text: str, phrases: list[str]) -> int | None:
    found = [m.start() for p in phrases for m in [re.search(rf"(^| ){re.escape(_norm(p))}s?( |$)", text)] if m]
    return min(found) if found else None


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"(^| ){re.escape(_norm(phrase))}s?( |$)", text) is not None


def grade_choice(ans: Answer, raw: Any, points: Fraction, scoring: Scoring) -> PartResult:
    text = _norm(answer_text(raw))
    if not text:
        return PartResult(ans.id, Fraction(0), points, "no answer", "missing")
    first = re.split(r"[.;:]| because | since | as ", answer_text(raw).lower(), maxsplit=1)[0]
    head = _norm(first)
    names = {str(ans.value): [str(ans.value), *ans.synonyms]}
    for acc in ans.accepted:
        names.setdefault(str(acc.value), [str(acc.value)])
    chosen = None
    combined = [v for v in names if "," in v and all(_mentions(head, p.strip()) for p in v.split(","))]
    if combined:  # "adapters and prompt tuning" names both parts of a combined choice
        chosen = max(combined, key=len)
    else:  # else the choice named first: "hybrid — prompting now, fine-tune later" chose hybrid
        mentioned = [(pos, value) for value, phrases in names.items() if "," not in value
                     for pos in [_first_mention(head, phrases)] if pos is not None]
        chosen = min(mentioned)[1] if mentioned else None
    wrong = [m for m in ans.mistakes if isinstance(m.value, str) and _mentions(head, m.value)]
    if chosen is None or (wrong and not _mentions(head, str(ans.value))):
        if wrong:
            m = wrong[0]
            return PartResult(ans.id, points * m.credit, points, f"{m.label}: {m.explanation}", "wrong")
        return PartResult(ans.id, Fraction(0), points, f"expected {ans.value!r}: {sentences(ans.text, FEEDBACK_LIMIT)}",
                          "wrong")
    label = next((a.label for a in ans.accepted if str(a.value) == chosen), chosen)
    if wrong and not re.search(r"\b(?:unlike|not|except|but|rather than|instead of|than|vs|versus)\b", head):
        # "Adapters and LoRA": the right choice listed beside a known wrong one (not "adapters, unlike LoRA")
        m = wrong[0]
        return PartResult(ans.id, points / 2, points, f"{label} is right, but the answer also names {m.value}: "
                          f"{m.explanation}. Half credit until staff review it.", "partial", needs_review=True,
                          convention=label)
    if not ans.rubric or "justif" not in ans.question.lower():
        return PartResult(ans.id, points, points, "correct" if chosen == ans.value else f"accepted: {label}",
                          "correct" if chosen == ans.value else "accepted", convention=label)
    share, missed = rubric_share(ans, answer_text(raw))
    base = scoring.credit["choice_without_reason"]
    score = points * (base + (1 - base) * share)
    feedback = f"choice {label!r} is right" + (f"; the justification should say: {'; '.join(missed)}" if missed else "")
    return PartResult(ans.id, score, points, feedback, "review", needs_review=True, convention=label)


def rubric_share(ans: Answer, text: str, *, shown: bool = False) -> tuple[Fraction, list[str]]:
    """The share of the rubric's weight the text covers, and the points it misses; ``shown``: the part's value
    was written, which shows the rubric points marked ``value_shows``."""
    low = text.lower()
    total = sum(p.weight for p in ans.rubric)
    hit = [p for p in ans.rubric if any(k in low for k in p.keywords) or (shown and p.value_shows)]
    return Fraction(sum(p.weight for p in hit), total or 1), [p.point for p in ans.rubric if p not in hit]


def grade_conceptual(ans: Answer, raw: Any, points: Fraction, scoring: Scoring) -> PartResult:
    text = answer_text(raw)
    words = re.findall(r"[a-zA-Z]+", text.lower())
    shown = [p for p in ans.rubric if p.value_shows]
    if shown and isinstance(ans.value, int) and ans.value in numbers_in(text):
        share, missed = rubric_share(ans, text, shown=True)
        feedback = (f"{ans.value} is right" + (f"; a full answer also covers: {'; '.join(missed)}" if missed else "")
                    + " (provisional: staff review)")
        return PartResult(ans.id, points * share, points, feedback, "review", needs_review=True)
    if len(words) < 3:
        return PartResult(ans.id, Fraction(0), points, "no answer" if not words else "too short to grade: explain",
                          "missing")
    question = set(re.findall(r"[a-zA-Z]+", ans.question.lower()))
    if len(set(words) - question) <= max(2, len(set(words)) // 10):
        return PartResult(ans.id, Fraction(0), points, "the answer repeats the question; it needs an explanation",
                          "wrong", needs_review=True)
    share, missed = rubric_share(ans, text)
    feedback = "covers every key point" if not missed else "missing: " + "; ".join(missed)
    return PartResult(ans.id, points * share, points, f"{feedback} (provisional: staff review)", "review",
                      needs_review=True)


def grade_formula(ans: Answer, raw: Any, points: Fraction, scoring: Scoring) -> PartResult:
    import sympy

    text = answer_text(raw)
    if not text:
        return PartResult(ans.id, Fraction(0), points, "no answer", "missing")
    try:
        student = parse_formula(text)
    except ParseError as exc:
        return PartResult(ans.id, Fraction(0), points, f"could not read the formula {quote(text)}: {exc}; scored 0 "
                          "for now and marked for staff review.", "unreadable", needs_review=True)
    for acc in ans.accepted:
        if equivalent(student, parse_formula(str(acc.value))):
            primary = acc is ans.accepted[0]
            return PartResult(ans.id, points, points, "correct" if primary else f"accepted: {acc.label} — {acc.reason}",
                              "correct" if primary else "accepted", convention=acc.label)
    for m in ans.mistakes:
        if isinstance(m.value, str) and equivalent(student, parse_formula(m.value)):
            return PartResult(ans.id, points * m.credit, points, f"{m.label}: {m.explanation}", "wrong")
    return PartResult(ans.id, Fraction(0), points, f"{sympy.sstr(student)} is not {ans.value}", "wrong")


def equivalent(a: Any, b: Any, trials: int = 6) -> bool:
    """Symbolic equality: expand the difference; else probe random rational points (matrices stay symbols)."""
    import sympy

    diff = sympy.expand(a - b)
    if diff == 0:
        return True
    scalars = [s for s in diff.free_symbols if s.is_commutative]
    if any(not s.is_commutative for s in diff.free_symbols):
        return False
    rng = random.Random(0)
    for _ in range(trials):
        point = {s: sympy.Rational(rng.randint(1, 97), rng.randint(1, 13)) for s in scalars}
        if diff.subs(point) != 0:
            return False
    return True


GRADERS = {"numeric": grade_numeric, "choice": grade_choice, "conceptual": grade_conceptual,
           "proof": grade_conceptual, "formula": grade_formula}


def grade_part(ans: Answer, raw: Any, scoring: Scoring) -> list[PartResult]:
    """One part (a group part gives one result per named value)."""
    if ans.kind == "group":
        return _grade_group(ans, raw, scoring)
    points = scoring.points[ans.kind]
    try:
        return [_whole_sentence(GRADERS[ans.kind](ans, raw, points, scoring))]
    except (ParseError, ValueError, ArithmeticError, RecursionError, TypeError) as exc:
        return [PartResult(ans.id, Fraction(0), points, f"could not grade this answer ({type(exc).__name__}): scored 0 "
                           "for now and marked for staff review.", "unreadable", needs_review=True)]


def _whole_sentence(result: PartResult) -> PartResult:
    """Feedback ends as a sentence does (the key's explanations are clauses)."""
    if result.feedback and not result.feedback.rstrip().endswith((".", "!", "?", ")")):
        from dataclasses import replace

        return replace(result, feedback=result.feedback.rstrip() + ".")
    return result


def _grade_group(ans: Answer, raw: Any, scoring: Scoring) -> list[PartResult]:
    items = list(ans.items)
    if isinstance(raw, dict):
        by_name = {str(k).strip().lower(): v for k, v in raw.items()}
        values = [by_name.get(i.id.rsplit(".", 1)[1].lower(), by_name.get(i.id.lower())) for i in items]
    elif isinstance(raw, (list, tuple)):
        values = list(raw) + [None] * (len(items) - len(raw))
    elif raw is None:
        values = [None] * len(items)
    else:
        values = split_values(str(raw), [item.unit for item in items])
    out: list[PartResult] = []
    for item, value in zip(items, values):
        out += grade_part(item, value, scoring)
    return out

"""Grading one part against the key: numbers in any unit, formulas, choices, rubric-graded prose.

Returns data (:class:`PartResult`), never raises for anything a student wrote.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from answers.format import fmt
from answers.key import Answer
from grader.assignments import SLIP, Spec
from grader.parse import (ParseError, Quantity, looks_like_formula, numbers_in, parse_formula, parse_quantity)

# key parameter names → formula symbols students use
_SYMBOL_OF = {"d": "d", "k": "k", "r": "r", "alpha": "alpha", "layers": "L", "p": "p", "m": "m",
              "tokens": "p", "bottleneck": "m"}


@dataclass(frozen=True)
class PartResult:
    id: str
    score: Fraction
    max_score: Fraction
    feedback: str
    status: str                 # correct, accepted, partial, wrong, missing, unreadable, review
    needs_review: bool = False
    convention: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "score": float(self.score), "max_score": float(self.max_score),
                "feedback": self.feedback, "status": self.status, "needs_review": self.needs_review,
                "convention": self.convention}


def _text(raw: Any) -> str:
    if isinstance(raw, (list, tuple)):
        return ", ".join(_text(x) for x in raw)
    if isinstance(raw, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in raw.items())
    return "" if raw is None else str(raw).strip()


def _to_unit(q: Quantity, unit: str) -> list[tuple[Fraction, Fraction, str]]:
    """Readings of the student's quantity in the key's unit: (value, half ulp, note). Empty if none fits."""
    dim = q.dim
    if unit == "bytes":
        if dim == "bytes":
            return [(q.value, q.half_ulp, "")]
        if dim == "":
            return [(q.value, q.half_ulp, "")] if q.value >= 10**4 else [(q.value * 10**9, q.half_ulp * 10**9, "GB")]
        return []
    if unit == "percent":
        if dim == "percent":
            return [(q.value, q.half_ulp, "")]
        if dim == "":
            return [(q.value, q.half_ulp, "")]  # a bare number: read as a percentage (the fraction is a unit slip)
        return []
    if unit == "ratio":
        return [(q.value, q.half_ulp, "")] if dim in ("ratio", "") else []
    if unit == "USD":
        return [(q.value, q.half_ulp, "")] if dim in ("USD", "") else []
    if unit == "days":
        return [(q.value, q.half_ulp, "")] if dim in ("days", "") else []
    return [(q.value, q.half_ulp, "")] if dim in ("",) else []


def _close(value: Fraction, half_ulp: Fraction, target: Fraction, ans: Answer, sig: int) -> bool:
    tol = max(ans.tolerance.rel * abs(target), ans.tolerance.abs)
    written = half_ulp if sig >= 2 else Fraction(0)
    return abs(value - target) <= max(tol, written)


def _formula_value(expr: Any, ans: Answer) -> Fraction | None:
    import sympy

    inputs = dict(ans.inputs)
    subs = {sympy.Symbol(_SYMBOL_OF[k], positive=True): sympy.Rational(str(v)) for k, v in inputs.items()
            if k in _SYMBOL_OF and isinstance(v, (int, Fraction))}
    if "k" not in inputs and "d" in inputs:
        subs[sympy.Symbol("k", positive=True)] = sympy.Rational(str(inputs["d"]))
    value = expr.subs(subs)
    if value.free_symbols or not value.is_number:
        return None
    value = sympy.nsimplify(value) if not value.is_Rational else value
    return Fraction(str(value)) if value.is_Rational else None


def grade_numeric(ans: Answer, raw: Any, points: Fraction, spec: Spec) -> PartResult:
    text = _text(raw)
    if not text:
        return PartResult(ans.id, Fraction(0), points, "no answer", "missing")
    unit = ans.unit
    target = Fraction(ans.value)  # type: ignore[arg-type]
    readings: list[tuple[Fraction, Fraction, str, int]] = []
    try:
        q = parse_quantity(text, hint=unit)
        readings = [(v, h, note, q.sig_digits) for v, h, note in _to_unit(q, unit)]
        if not readings:
            other = _wrong_dimension(q, ans, points, spec)
            if other:
                return other
            return PartResult(ans.id, Fraction(0), points, f"{text!r} is in {q.dim or 'no unit'}, expected "
                              f"{unit}: the answer is {fmt(target, unit)}", "wrong")
    except ParseError as exc:
        if unit == "rank" or (unit == "percent" and "%" in text):
            nums = numbers_in(text)
            if nums:
                return _grade_choices_of_numbers(ans, nums, points)
        if looks_like_formula(text):
            try:
                value = _formula_value(parse_formula(text), ans)
            except ParseError as fexc:
                return PartResult(ans.id, Fraction(0), points, f"could not read the answer: {fexc}", "unreadable")
            if value is None:
                return PartResult(ans.id, Fraction(0), points, f"the formula {text!r} leaves symbols this part does "
                                  f"not define ({', '.join(k for k, _ in ans.inputs) or 'none'}): give a number",
                                  "unreadable")
            readings = [(value, Fraction(0), "formula", 99)]
        else:
            return PartResult(ans.id, Fraction(0), points, f"could not read the answer: {exc}", "unreadable")
    if unit == "rank" and len(numbers_in(text)) > 1:
        return _grade_choices_of_numbers(ans, numbers_in(text), points)
    for value, half, note, sig in readings:
        for acc in ans.accepted:
            acc_unit = acc.unit or unit
            if acc_unit != unit or isinstance(acc.value, str):
                continue
            if _close(value, half, Fraction(acc.value), ans, sig):
                primary = acc is ans.accepted[0]
                how = f" (from your formula)" if note == "formula" else ""
                feedback = ("correct" if primary else f"accepted: {acc.label} — {acc.reason}") + how
                if not primary:
                    feedback += f"; the key's primary answer is {fmt(target, unit)}"
                return PartResult(ans.id, points, points, feedback, "correct" if primary else "accepted",
                                  convention=acc.label)
        for mistake in ans.mistakes:
            m_unit = mistake.unit or unit
            if isinstance(mistake.value, str) or m_unit != unit:
                continue
            if _close(value, half, Fraction(mistake.value), ans, sig):
                return PartResult(ans.id, points * mistake.credit, points,
                                  f"{mistake.label}: {mistake.explanation}. The answer is {fmt(target, unit)}",
                                  "partial" if mistake.credit else "wrong")
    value, half, note, sig = readings[0]
    unit_slip = _unit_slip(value, target, ans, q if note != "formula" else None)
    if unit_slip:
        return PartResult(ans.id, points * spec.credit["wrong_unit"], points, unit_slip, "partial")
    if target and abs(value - target) <= SLIP * abs(target):
        if sig <= 1:
            return PartResult(ans.id, points * spec.credit["too_coarse"], points,
                              f"{text!r} is rounded too coarsely: give at least 2–3 significant digits "
                              f"({fmt(target, unit)})", "partial")
        return PartResult(ans.id, points * spec.credit["arithmetic_slip"], points,
                          f"close ({float((value - target) / target):+.1%}) but not right: check the arithmetic — "
                          f"the answer is {fmt(target, unit)}", "partial")
    ratio = value / target if target else None
    hint = ""
    if ratio and ratio.denominator == 1 and ratio in (2, 4, 8) or ratio and (1 / ratio) in (2, 4, 8):
        hint = f" (off by a factor of {ratio if ratio > 1 else 1 / ratio}: {'too large' if ratio > 1 else 'too small'})"
    return PartResult(ans.id, Fraction(0), points, f"{fmt(value, unit)} is not right{hint}; the answer is "
                      f"{fmt(target, unit)}", "wrong")


def _unit_slip(value: Fraction, target: Fraction, ans: Answer, q: Quantity | None) -> str:
    sig = q.sig_digits if q else 99
    half = q.half_ulp if q else Fraction(0)
    if ans.unit == "bytes" and q is not None and q.unit.lower() in ("gb", "mb", "tb", "gib", "mib", "tib", "kb", "kib"):
        swap = {"gb": 2**30 / 10**9, "mb": 2**20 / 10**6, "tb": 2**40 / 10**12, "kb": 2**10 / 10**3}
        low = q.unit.lower()
        factor = Fraction(swap[low.replace("i", "")]) if "i" not in low else 1 / Fraction(swap[low.replace("i", "")])
        if _close(value * factor, half * factor, target, ans, sig):
            written, meant = (q.unit, q.unit.replace("B", "iB")) if "i" not in low else (q.unit, q.unit.replace("iB", "B"))
            return (f"right number in the wrong unit: {q.text} is the answer in {meant}, written as {written} "
                    f"(GB = 10⁹ B, GiB = 2³⁰ B); the answer is {fmt(target, 'bytes')}")
    if ans.unit == "percent" and (q is None or q.dim == ""):
        if _close(value * 100, half * 100, target, ans, sig):
            return f"that is the fraction, not the percentage: {value} = {fmt(value * 100, 'percent')}"
    if ans.unit == "percent" and q is not None and q.dim == "percent" and _close(value / 100, half / 100, target, ans, sig):
        return "the percentage is 100× too small: did you multiply a fraction by 100 twice or not at all?"
    return ""


def _wrong_dimension(q: Quantity, ans: Answer, points: Fraction, spec: Spec) -> PartResult | None:
    if ans.unit == "percent" and q.dim == "ratio":
        return PartResult(ans.id, Fraction(0), points, f"{q.text} is a ratio (×); the question asks for a percentage: "
                          f"{fmt(Fraction(ans.value), 'percent')}", "wrong")  # type: ignore[arg-type]
    return None


def _grade_choices_of_numbers(ans: Answer, nums: list[Fraction], points: Fraction) -> PartResult:
    ok = {Fraction(a.value) for a in ans.accepted if not isinstance(a.value, str)}
    hits = [n for n in nums if n in ok]
    if hits and all(n in ok or n in (1, 2) for n in nums):
        return PartResult(ans.id, points, points, "correct", "correct")
    if hits:
        return PartResult(ans.id, points / 2, points, f"partly: {', '.join(map(str, hits))} is recommended, but "
                          f"{', '.join(str(n) for n in nums if n not in ok)} is not", "partial")
    return PartResult(ans.id, Fraction(0), points, f"the key recommends {' or '.join(str(a.value) for a in ans.accepted)}",
                      "wrong")


# ---- choices, formulas, prose ------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9+ ]", " ", text.lower().replace("-", " "))).strip()


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"(^| ){re.escape(_norm(phrase))}s?( |$)", text) is not None


def grade_choice(ans: Answer, raw: Any, points: Fraction, spec: Spec) -> PartResult:
    text = _norm(_text(raw))
    if not text:
        return PartResult(ans.id, Fraction(0), points, "no answer", "missing")
    first = re.split(r"[.;:]| because | since | as ", _text(raw).lower(), maxsplit=1)[0]
    head = _norm(first)
    names = {str(ans.value): [str(ans.value), *ans.synonyms]}
    for acc in ans.accepted:
        names.setdefault(str(acc.value), [str(acc.value)])
    chosen = None
    for value, phrases in sorted(names.items(), key=lambda kv: -len(kv[0])):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) > 1:
            if all(_mentions(head, p) for p in parts):
                chosen = value
                break
        elif any(_mentions(head, p) for p in phrases):
            chosen = value
            break
    wrong = [m for m in ans.mistakes if isinstance(m.value, str) and _mentions(head, m.value)]
    if chosen is None or (wrong and not _mentions(head, str(ans.value))):
        if wrong:
            m = wrong[0]
            return PartResult(ans.id, points * m.credit, points, f"{m.label}: {m.explanation}", "wrong")
        return PartResult(ans.id, Fraction(0), points, f"expected {ans.value!r}: {ans.text[:160]}", "wrong")
    label = next((a.label for a in ans.accepted if str(a.value) == chosen), chosen)
    if not ans.rubric or "justif" not in ans.question.lower():
        return PartResult(ans.id, points, points, "correct" if chosen == ans.value else f"accepted: {label}",
                          "correct" if chosen == ans.value else "accepted", convention=label)
    share, missed = rubric_share(ans, _text(raw))
    base = spec.credit["choice_without_reason"]
    score = points * (base + (1 - base) * share)
    feedback = f"choice {label!r} is right" + (f"; the justification should say: {'; '.join(missed)}" if missed else "")
    return PartResult(ans.id, score, points, feedback, "review", needs_review=True, convention=label)


def rubric_share(ans: Answer, text: str) -> tuple[Fraction, list[str]]:
    low = text.lower()
    total = sum(p.weight for p in ans.rubric)
    hit = [p for p in ans.rubric if any(k in low for k in p.keywords)]
    return Fraction(sum(p.weight for p in hit), total or 1), [p.point for p in ans.rubric if p not in hit]


def grade_conceptual(ans: Answer, raw: Any, points: Fraction, spec: Spec) -> PartResult:
    text = _text(raw)
    words = re.findall(r"[a-zA-Z]+", text.lower())
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


def grade_formula(ans: Answer, raw: Any, points: Fraction, spec: Spec) -> PartResult:
    import sympy

    text = _text(raw)
    if not text:
        return PartResult(ans.id, Fraction(0), points, "no answer", "missing")
    try:
        student = parse_formula(text)
    except ParseError as exc:
        return PartResult(ans.id, Fraction(0), points, f"could not read the formula: {exc}", "unreadable")
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


def grade_part(ans: Answer, raw: Any, spec: Spec) -> list[PartResult]:
    """One part (a group part gives one result per named value)."""
    if ans.kind == "group":
        return _grade_group(ans, raw, spec)
    points = spec.points[ans.kind]
    try:
        return [GRADERS[ans.kind](ans, raw, points, spec)]
    except (ParseError, ValueError, ArithmeticError, RecursionError, TypeError) as exc:
        return [PartResult(ans.id, Fraction(0), points, f"could not grade this answer ({type(exc).__name__})",
                           "unreadable")]


def _grade_group(ans: Answer, raw: Any, spec: Spec) -> list[PartResult]:
    items = list(ans.items)
    if isinstance(raw, dict):
        by_name = {str(k).strip().lower(): v for k, v in raw.items()}
        values = [by_name.get(i.id.rsplit(".", 1)[1].lower(), by_name.get(i.id.lower())) for i in items]
    elif isinstance(raw, (list, tuple)):
        values = list(raw) + [None] * (len(items) - len(raw))
    elif raw is None:
        values = [None] * len(items)
    else:
        pieces = [p for p in re.split(r"[;\n]|,\s+(?=\D)", str(raw)) if p.strip()]
        values = pieces + [None] * (len(items) - len(pieces))
    out: list[PartResult] = []
    for item, value in zip(items, values):
        out += grade_part(item, value, spec)
    return out

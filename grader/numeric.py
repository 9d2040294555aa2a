"""Grading a numeric part: the value a student gave (see :mod:`grader.reading`) against the key's accepted
values and known mistakes, each in its own unit, with the precision the student wrote.

The rules, in the order they are tried:

1. *Accepted values* (the key's primary answer first, then every convention it accepts, each in the unit
   the key states it in): right within the key's tolerance, or within the precision written — the exact
   value rounded *or truncated* to the digits written (``65K`` and ``66K`` for 65,536; ``0.4%`` for
   0.390625 %). A tolerance never reaches a neighbouring accepted or mistaken value: it is capped at
   less than half the distance to it. An answer so coarse that its digits also cover a known mistake
   (``0.1 TB`` between 56 GB and 112 GB) is *too coarse* and earns the scoring's share.
2. *Known mistakes*: the key's credit and explanation.
3. A right number in the wrong unit (GB for GiB, a fraction for a percentage), then an arithmetic slip
   (within 10 %), else wrong — with the factor when it is off by 2, 4 or 8.

When the final value is wrong but a step of the working (a formula, or arithmetic) gives the right
value, the answer earns the arithmetic-slip share: the method was right. An answer with no number is
scored 0 *provisionally* and marked for staff review, never silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from answers.format import fmt
from answers.key import Answer, Tolerance
from grader.assignments import SLIP, Scoring
from grader.parse import ParseError, Quantity, looks_like_formula, numbers_in, parse_formula
from grader.reading import Reading, Refused, evaluate, read, steps
from grader.result import PartResult, answer_text, quote

# key parameter names → formula symbols students use
_SYMBOL_OF = {"d": "d", "k": "k", "r": "r", "alpha": "alpha", "layers": "L", "p": "p", "m": "m",
              "tokens": "p", "bottleneck": "m"}


_HEDGE = re.compile(r"\b(?:or|maybe|either|perhaps|probably|possibly)\b|\n|\s/\s", re.IGNORECASE)
_NOTHING = re.compile(r"^\s*(?:n/?a|none|nothing|zero|nil|no (?:memory|parameters|params|bytes))\b(?![^(]*\d)",
                      re.IGNORECASE)


@dataclass(frozen=True)
class _Target:
    """One value the key recognises: accepted (credit 1) or a mistake (its credit), in its own unit."""

    label: str
    value: Fraction
    unit: str
    credit: Fraction
    primary: bool
    feedback: str
    tolerance: Tolerance


def _targets(ans: Answer) -> list[_Target]:
    out = []
    for i, acc in enumerate(ans.accepted):
        if not isinstance(acc.value, str):
            out.append(_Target(acc.label, Fraction(acc.value), acc.unit or ans.unit, Fraction(1), i == 0,
                               "correct" if i == 0 else f"accepted: {acc.label} — {acc.reason}",
                               acc.tolerance or ans.tolerance))
    for m in ans.mistakes:
        if not isinstance(m.value, str):
            out.append(_Target(m.label, Fraction(m.value), m.unit or ans.unit, m.credit, False,
                               f"{m.label}: {m.explanation}", ans.tolerance))
    return out


def _to_unit(q: Quantity, unit: str) -> list[tuple[Fraction, Fraction, str]]:
    """Readings of the student's quantity in ``unit``: (value, half a unit of the last digit, note)."""
    dim = q.dim
    if unit == "bytes":
        if dim == "bytes":
            return [(q.value, q.half_ulp, "")]
        if dim == "":  # a bare number: bytes when large, else GB (the unit every question here uses)
            return [(q.value, q.half_ulp, "")] if q.value >= 10**4 else [(q.value * 10**9, q.half_ulp * 10**9, "GB")]
        return []
    if unit == "percent":
        return [(q.value, q.half_ulp, "")] if dim in ("percent", "") else []
    if unit == "ratio":
        if (dim == "" or q.unit == ":") and 0 < q.value < 1:  # 1/256 or 256:1 for "256×": the other way round
            return [(q.value, q.half_ulp, ""), (1 / q.value, Fraction(0), "reciprocal")]
        return [(q.value, q.half_ulp, "")] if dim in ("ratio", "") else []
    if unit in ("USD", "days"):
        return [(q.value, q.half_ulp, "")] if dim in (unit, "") else []
    if unit == "scalar":  # a factor: "2x" is 2
        return [(q.value, q.half_ulp, "")] if dim in ("", "ratio") else []
    return [(q.value, q.half_ulp, "")] if dim == "" else []


def _window(target: _Target, others: list[_Target]) -> Fraction:
    """The key's tolerance around ``target``, capped below half the distance to any other value in its unit."""
    tol = max(target.tolerance.rel * abs(target.value), target.tolerance.abs)
    gaps = [abs(o.value - target.value) for o in others if o.unit == target.unit and o.value != target.value]
    return min([tol, *(g / 2 * Fraction(99, 100) for g in gaps)])


def _as_written(value: Fraction, half: Fraction, target: Fraction, sig: int = 2) -> bool:
    """``target`` rounded or truncated to the digits written gives ``value`` — with two digits or more; a single
    significant digit counts only as a rounding within half the arithmetic-slip margin, 5 % (seed 004's "0.4%"
    for 0.390625 %, "7B" for 6.74B; not "1%" for 0.78 % or "1e5" for 65,536), and 0 rounds nothing else."""
    if half == 0 or (value == 0) != (target == 0):
        return False
    rounded = abs(value - target) <= half
    if sig <= 1:
        return rounded and abs(value - target) <= SLIP / 2 * abs(target)
    truncated = value <= target < value + 2 * half if value >= 0 else value - 2 * half < target <= value
    return rounded or truncated


def _exact(value: Fraction, unit: str) -> str:
    """The exact value, for feedback on a rounded answer: 65,536; 84,000,000,000 B; 0.390625 %."""
    if unit == "bytes" and value.denominator == 1:
        return f"{int(value):,} B"
    return fmt(value, unit)


def _covers(value: Fraction, half: Fraction, other: Fraction) -> bool:
    return value - half <= other < value + 2 * half


def judge(ans: Answer, q: Quantity, points: Fraction, scoring: Scoring) -> PartResult:
    """One quantity against the key (the rules in the module docstring): a value within a target's tolerance
    first, then one the student's digits round or truncate to."""
    targets = _targets(ans)
    readings = [(t, value, half, note) for t in targets for value, half, note in _to_unit(q, t.unit)]
    for t, value, half, note in readings:
        if abs(value - t.value) <= _window(t, targets):
            return _hit(ans, t, q, value, note, points, exact=True)
    for t, value, half, note in readings:
        if not _as_written(value, half, t.value, q.sig_digits):
            continue
        # the digits written must tell the answer from its neighbours (another convention, a mistake);
        # a printed rounding of the same value (65,000 beside 65,536) is no neighbour
        near = [o for o in targets if o.unit == t.unit and o.value != t.value and _covers(value, half, o.value)
                and not (o.credit == t.credit == 1 and abs(o.value - t.value) <= _window(t, []))]
        if t.credit == 1 and near:
            return PartResult(ans.id, points * scoring.credit["too_coarse"], points,
                              f"{quote(q.text)} is too coarse to tell the answer from {near[0].label} "
                              f"({fmt(near[0].value, near[0].unit)}): give more digits. "
                              f"The answer is {fmt(Fraction(ans.value), ans.unit)}.", "partial")  # type: ignore[arg-type]
        return _hit(ans, t, q, value, note, points, exact=False)
    return _miss(ans, q, points, scoring)


def _hit(ans: Answer, t: _Target, q: Quantity, value: Fraction, note: str, points: Fraction, *,
         exact: bool) -> PartResult:
    how = {"reciprocal": f" (read as 1:{fmt(value, 'ratio').rstrip('×')})", "formula": " (from your formula)"}.get(note, "")
    feedback = t.feedback + how
    if t.credit == 1:
        if not t.primary:
            feedback += f"; the key's primary answer is {fmt(Fraction(ans.value), ans.unit)}"  # type: ignore[arg-type]
        elif not exact:
            feedback += f" to the digits written (exactly {_exact(t.value, t.unit)})"
        return PartResult(ans.id, points, points, feedback + ".", "correct" if t.primary else "accepted",
                          convention=t.label)
    return PartResult(ans.id, points * t.credit, points,
                      f"{feedback}. The answer is {fmt(Fraction(ans.value), ans.unit)}.",  # type: ignore[arg-type]
                      "partial" if t.credit else "wrong")


def _miss(ans: Answer, q: Quantity, points: Fraction, scoring: Scoring) -> PartResult:
    unit = ans.unit
    target = Fraction(ans.value)  # type: ignore[arg-type]
    readings = _to_unit(q, unit)
    if not readings:
        if unit == "percent" and q.dim == "ratio":
            return PartResult(ans.id, Fraction(0), points, f"{quote(q.text)} is a ratio (×); the question asks for "
                              f"a percentage: {fmt(target, 'percent')}.", "wrong")
        return PartResult(ans.id, Fraction(0), points, f"{quote(q.text)} is in {q.dim or 'no unit'}, but the "
                          f"question asks for {unit}: the answer is {fmt(target, unit)}.", "wrong")
    value, half, _ = readings[0]
    slip = _unit_slip(value, target, ans, q)
    if slip:
        return PartResult(ans.id, points * scoring.credit["wrong_unit"], points, slip, "partial")
    if target and abs(value - target) <= SLIP * abs(target) and q.sig_digits <= 1:
        return PartResult(ans.id, points * scoring.credit["too_coarse"], points,
                          f"{quote(q.text)} is rounded too coarsely: give at least 2–3 significant digits. "
                          f"The answer is {fmt(target, unit)}.", "partial")
    if target and abs(value - target) <= SLIP * abs(target):
        return PartResult(ans.id, points * scoring.credit["arithmetic_slip"], points,
                          f"{quote(q.text)} is close ({float((value - target) / target):+.2g} relative) but not right: check "
                          f"the arithmetic. The answer is {fmt(target, unit)}.", "partial")
    hint = ""
    tol = max(ans.tolerance.rel * abs(target), ans.tolerance.abs)
    for factor in (2, 4, 8, Fraction(1, 2), Fraction(1, 4), Fraction(1, 8)):
        if target and value and (abs(value - target * factor) <= tol * factor
                                 or _as_written(value, half, target * factor, q.sig_digits)):
            size = factor if factor > 1 else 1 / factor
            hint = f" (off by a factor of {size}: {'too large' if factor > 1 else 'too small'})"
            break
    return PartResult(ans.id, Fraction(0), points, f"{fmt(value, unit)} is not right{hint}; the answer is "
                      f"{fmt(target, unit)}.", "wrong")


def _unit_slip(value: Fraction, target: Fraction, ans: Answer, q: Quantity) -> str:
    tol = max(ans.tolerance.rel * abs(target), ans.tolerance.abs)
    q = q if q.sig_digits >= 2 else Quantity(q.value, q.dim, Fraction(0), q.sig_digits, q.text, q.unit)  # one digit: no slack
    low = q.unit.lower()
    if ans.unit == "bytes" and low in ("gb", "mb", "tb", "kb", "gib", "mib", "tib", "kib"):
        decimal = low.replace("i", "")
        factor = {"gb": Fraction(2**30, 10**9), "mb": Fraction(2**20, 10**6), "tb": Fraction(2**40, 10**12),
                  "kb": Fraction(2**10, 10**3)}[decimal]
        if "i" in low:
            factor = 1 / factor
        swapped = value * factor
        if abs(swapped - target) <= max(tol, q.half_ulp * factor):
            meant = q.unit.replace("B", "iB") if "i" not in low else q.unit.replace("iB", "B")
            return (f"right number in the wrong unit: {q.text} is the answer in {meant}, written as {q.unit} "
                    f"(GB = 10⁹ B, GiB = 2³⁰ B). The answer is {fmt(target, 'bytes')}.")
    if ans.unit == "percent" and q.dim == "" and abs(value * 100 - target) <= max(tol, q.half_ulp * 100):
        return (f"that is the fraction, not the percentage: {q.text} = {fmt(value * 100, 'percent')}. "
                f"The answer is {fmt(target, 'percent')}.")
    if ans.unit == "percent" and q.dim == "percent" and abs(value / 100 - target) <= max(tol, q.half_ulp / 100):
        return "the percentage is 100× too small: a fraction was multiplied by 100 twice, or not at all."
    return ""


def _formula_value(expr: Any, ans: Answer) -> Fraction | None:
    """A formula's value at the part's inputs (``r*(d+k)`` at d = k = 4096, r = 8), or None."""
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


def _symbolic(step: str, ans: Answer) -> tuple[Fraction | None, str]:
    """(value, error) of a step written with the question's symbols; (None, "") when it has none."""
    if not looks_like_formula(step):
        return None, ""
    try:
        expr = parse_formula(step)
    except ParseError as exc:
        return None, str(exc)
    if not expr.free_symbols:
        return None, ""
    value = _formula_value(expr, ans)
    if value is None:
        return None, (f"the formula {quote(step)} uses symbols this part does not define "
                      f"({', '.join(k for k, _ in ans.inputs) or 'none'}): give a number")
    return value, ""


def _working_value(step: str, ans: Answer) -> tuple[Fraction, str] | None:
    """The value a step of working gives, at the key's unit, and how it was read."""
    value, _ = _symbolic(step, ans)
    if value is not None:
        return value, "formula"
    q = evaluate(step, hint=ans.unit)
    if q is None:
        return None
    readings = _to_unit(q, ans.unit)
    return (readings[0][0], "arithmetic") if readings else None


def grade_numeric(ans: Answer, raw: Any, points: Fraction, scoring: Scoring) -> PartResult:
    text = answer_text(raw)
    if not text:
        return PartResult(ans.id, Fraction(0), points, "no answer", "missing")
    if ans.unit == "rank":  # a rank is a positive whole number: "16 (with dropout 0.1)" names one rank
        nums = [n for n in numbers_in(text) if n.denominator == 1 and n >= 1]
        if nums:
            return _grade_choices_of_numbers(ans, nums, points)
    chain = steps(text)
    final = chain[-1] if chain else ""
    value, error = _symbolic(final, ans)
    if value is not None:  # the answer is a formula: r*(d+k)
        q = Quantity(value, "", Fraction(0), 99, final, "")
        result = judge(ans, q, points, scoring)
        if result.score == points:
            result = PartResult(result.id, result.score, points, result.feedback.rstrip(".") + " (from your formula).",
                                result.status, convention=result.convention)
        return result
    if _NOTHING.match(final):  # "N/A (frozen)", "none": a person reads 0
        return judge(ans, Quantity(Fraction(0), "", Fraction(0), 99, final, ""), points, scoring)
    try:
        reading = read(text, hint=ans.unit)
    except ParseError as exc:
        reason = error if error and re.search(r"[*/^()+=]", final) and not isinstance(exc, Refused) else str(exc)
        return PartResult(ans.id, Fraction(0), points, f"could not read a number in {quote(text)} ({reason}): scored "
                          "0 for now and marked for staff review.", "unreadable", needs_review=True)
    return _grade_reading(ans, reading, points, scoring)


def _grade_reading(ans: Answer, reading: Reading, points: Fraction, scoring: Scoring) -> PartResult:
    units = {t.unit for t in _targets(ans)} | {ans.unit}
    fitting = [q for q in reading.candidates if any(_to_unit(q, u) for u in units)] or list(reading.candidates)
    result = judge(ans, fitting[0], points, scoring)
    if len(fitting) > 1 and _HEDGE.search(reading.text):  # "84 GB or 14 GB": which one is the answer?
        graded = [(judge(ans, q, points, scoring), q) for q in fitting]
        if len({r.score for r, _ in graded}) > 1:
            low, _ = min(graded, key=lambda rq: rq[0].score)
            shown = ", ".join(quote(q.text) for _, q in graded)
            return PartResult(ans.id, low.score, points, f"the answer gives several values ({shown}) that grade "
                              f"differently: the lowest counts until staff review it. {low.feedback}", low.status,
                              needs_review=True, convention=low.convention)
    if result.score < points:
        for other in fitting[1:]:
            alt = judge(ans, other, points, scoring)
            if alt.score > result.score:  # a person would look twice: which number is the answer?
                return PartResult(result.id, result.score, points, f"{result.feedback} The answer also has "
                                  f"{quote(other.text)}, which would score more: marked for staff review.",
                                  result.status, needs_review=True, convention=result.convention)
    if result.status not in ("correct", "accepted") and result.score <= points * scoring.credit["arithmetic_slip"]:
        target = Fraction(ans.value)  # type: ignore[arg-type]
        for step in reading.working:
            got = _working_value(step, ans)
            if got and target and abs(got[0] - target) <= max(ans.tolerance.rel * abs(target), ans.tolerance.abs):
                return PartResult(ans.id, points * scoring.credit["arithmetic_slip"], points,
                                  f"your working ({got[1]} {quote(step)}) gives the right value, {fmt(target, ans.unit)}, "
                                  f"but the final value {quote(fitting[0].text)} is not: check the arithmetic.",
                                  "partial")
    return result


def _grade_choices_of_numbers(ans: Answer, nums: list[Fraction], points: Fraction) -> PartResult:
    ok = {Fraction(a.value) for a in ans.accepted if not isinstance(a.value, str)}
    hits = [n for n in nums if n in ok]
    if hits and all(n in ok or n in (1, 2) for n in nums):
        return PartResult(ans.id, points, points, "correct", "correct")
    if hits:
        return PartResult(ans.id, points / 2, points, f"partly: {', '.join(map(str, hits))} is recommended, but "
                          f"{', '.join(str(n) for n in nums if n not in ok)} is not.", "partial")
    return PartResult(ans.id, Fraction(0), points, f"r = {' or '.join(str(n) for n in nums)} is not right: the key "
                      f"recommends {' or '.join(str(a.value) for a in ans.accepted)}.", "wrong")

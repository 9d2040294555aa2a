"""The answer key's data: what a worked answer is, and how parts are registered.

A *part* is one gradable question (``9.2a``, ``24.4d``, ``19.1.lora_r8_params``). Its answer is
computed by a function of named inputs (the question's numbers, with the seed's values as
defaults), so a variant of the question — another d, r or model — is answered by the same code.

Values stay exact (``int`` / ``Fraction``) until rendered. Every numeric answer lists the
conventions that earn credit (``accepted``, the primary one first) and the known mistakes a grader
can recognise (``mistakes``); conceptual answers carry a ``rubric`` of key points.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

Value = int | Fraction | str
Kind = Literal["numeric", "choice", "formula", "conceptual", "proof", "group"]
# Units a numeric value is stated in. "percent" values are percentages (0.39 means 0.39 %).
Unit = Literal["params", "bytes", "USD", "queries", "days", "percent", "ratio", "scalar", "GPUs", "rank", ""]


@dataclass(frozen=True)
class Tolerance:
    """A numeric answer is right within ``rel`` (relative) or ``abs`` (absolute, in the unit)."""

    rel: Fraction = Fraction(1, 100)
    abs: Fraction = Fraction(0)


@dataclass(frozen=True)
class Accepted:
    """One defensible convention and its value, with a one-line reason (and its breakdown)."""

    label: str
    value: Value
    reason: str
    breakdown: tuple[tuple[str, Value], ...] = ()
    unit: str = ""               # when it differs from the answer's unit (e.g. 128× accepted as 0.78125 %)
    tolerance: Tolerance | None = None  # when it differs from the answer's (an exact figure beside an estimate)


@dataclass(frozen=True)
class Mistake:
    """A wrong value that reveals a known mistake; ``credit`` is the fraction of the points it earns."""

    label: str
    value: Value
    explanation: str
    credit: Fraction = Fraction(0)
    unit: str = ""               # when it differs from the answer's unit (a fraction where a percent was asked)


@dataclass(frozen=True)
class RubricPoint:
    """A key point a full-credit answer makes. ``keywords``: any one of these words/phrases shows it."""

    point: str
    keywords: tuple[str, ...]
    weight: int = 1
    value_shows: bool = False    # writing the part's value (24.7c's r = 9) shows this point


@dataclass(frozen=True)
class Answer:
    """A worked answer: assumptions, formula, substitution, result — and how to grade it."""

    id: str
    question: str
    kind: Kind
    value: Value | None
    unit: Unit = ""
    text: str = ""
    formula: str = ""            # LaTeX
    substitution: str = ""
    assumptions: tuple[str, ...] = ()
    accepted: tuple[Accepted, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    rubric: tuple[RubricPoint, ...] = ()
    synonyms: tuple[str, ...] = ()   # choice answers: other names for the same choice
    tolerance: Tolerance = Tolerance()
    notes: tuple[str, ...] = ()      # inconsistencies in the question, exact figures for the real model
    items: tuple[Answer, ...] = ()   # a multi-value part's named values
    source: str = ""
    inputs: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "question": self.question, "kind": self.kind,
            "value": json_value(self.value) if self.kind != "group" else {i.id: json_value(i.value) for i in self.items},
            "unit": self.unit, "text": self.text, "formula": self.formula, "substitution": self.substitution,
            "accepted": [{"label": a.label, "value": json_value(a.value), "unit": a.unit or self.unit, "reason": a.reason,
                          "breakdown": {k: json_value(v) for k, v in a.breakdown}} for a in self.accepted],
            "assumptions": list(self.assumptions),
            "mistakes": [{"label": m.label, "value": json_value(m.value), "unit": m.unit or self.unit,
                          "explanation": m.explanation,
                          "credit": float(m.credit)} for m in self.mistakes],
            "rubric": [{"point": r.point, "keywords": list(r.keywords), "weight": r.weight} for r in self.rubric],
            "synonyms": list(self.synonyms),
            "tolerance": {"rel": float(self.tolerance.rel), "abs": float(self.tolerance.abs)},
            "notes": list(self.notes), "source": self.source,
            "inputs": {k: json_value(v) for k, v in self.inputs},
            "items": [item.to_json() for item in self.items],
        }
        if isinstance(self.value, Fraction):
            out["exact"] = str(self.value)
        return out


def json_value(value: Any) -> Any:
    """Exact values → JSON: integers stay integers, fractions become floats (the exact form is kept apart)."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    return value


Solver = Callable[..., Answer]


@dataclass(frozen=True)
class Part:
    """A registered question: its ID, wording, source and the function that answers it."""

    id: str
    question: str
    source: str
    kind: Kind
    solve: Solver
    defaults: tuple[tuple[str, Any], ...] = field(default=())
    # inputs the student states in their own answer (``9.mini.model``), not the question: graded against them
    described: tuple[str, ...] = ()

    def answer(self, **inputs: Any) -> Answer:
        """The worked answer for the seed's numbers, or for a variant (``inputs`` override them)."""
        from peftcalc.errors import InputError

        names = dict(self.defaults)
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise InputError("input", unknown[0], f"one of {', '.join(names) or '(none: this part has no inputs)'}")
        from answers.seed_notes import NOTES

        used = {**names, **inputs}
        ans = self.solve(**used)
        return replace(ans, id=self.id, question=self.question, source=self.source,
                       inputs=tuple(used.items()), notes=ans.notes + NOTES.get(self.id, ()))


def part(registry: list[Part], part_id: str, question: str, source: str, kind: Kind = "numeric",
         described: tuple[str, ...] = ()) -> Callable[[Solver], Solver]:
    """Register a solver: its keyword arguments (with defaults = the seed's numbers) are the part's inputs;
    ``described`` names those the student states in the answer itself."""

    def register(fn: Solver) -> Solver:
        defaults = tuple((name, p.default) for name, p in inspect.signature(fn).parameters.items()
                         if p.default is not inspect.Parameter.empty)
        registry.append(Part(part_id, question, source, kind, fn, defaults, described))
        return fn

    return register


def concept(registry: list[Part], part_id: str, question: str, source: str, *, text: str,
            rubric: tuple[RubricPoint, ...]) -> None:
    """Register a conceptual part: a model answer and the rubric a full-credit answer must cover."""
    registry.append(Part(part_id, question, source, "conceptual",
                         lambda: Answer("", "", "conceptual", None, text=text, rubric=rubric)))


def pct(fraction: Fraction) -> Fraction:
    """A fraction as an exact percentage."""
    return Fraction(fraction) * 100

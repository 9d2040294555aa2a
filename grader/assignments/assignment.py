"""What an assignment is: its analytical parts (from the answer key), its code exercises (from their checks),
how its points are shared out, and the conventions its students are told.

An assignment is declared once, in its own module under ``grader/assignments`` (one line in the registry,
``grader/assignments/__init__.py``); nothing else in the grader names one. Its exercise list is derived
from its exercises' checks, so a check can never run and silently drop out of the score.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from answers import Part
    from grader.code.checks import CodeCheck

POINTS = {"numeric": Fraction(2), "choice": Fraction(1), "formula": Fraction(2), "conceptual": Fraction(3),
          "proof": Fraction(3)}
# share of a part's points for each recognised class of mistake (the key's own mistakes carry theirs)
CREDIT = {
    "wrong_unit": Fraction(1, 2),        # right number, wrong unit (GB vs GiB, % vs fraction)
    "arithmetic_slip": Fraction(1, 2),   # within 10 % of the key: right method, a slip in the arithmetic
    "too_coarse": Fraction(1, 2),        # one significant digit: 4M for 4,194,304
    "choice_without_reason": Fraction(3, 5),  # right choice, justification missing (choice parts with a rubric)
}
SLIP = Fraction(1, 10)


@dataclass(frozen=True)
class Scoring:
    """What each kind of analytical part is worth, and the share each recognised class of mistake earns."""
    points: dict[str, Fraction] = field(default_factory=lambda: dict(POINTS))
    credit: dict[str, Fraction] = field(default_factory=lambda: dict(CREDIT))


@dataclass(frozen=True)
class Exercise:
    """One code exercise: the conventions its students are told (``spec``, listing every accepted reading)
    and its hidden checks, drawn from a generator seeded for the exercise alone."""
    id: str
    title: str
    spec: str
    build: Callable[[np.random.Generator], list[CodeCheck]]

    def checks(self, seed: int) -> list[CodeCheck]:
        import numpy as np

        # a stream of its own per exercise: adding an exercise never changes another's hidden inputs
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(self.id.encode()),)))
        out = self.build(rng)
        strays = sorted({c.exercise for c in out} - {self.id})
        if strays:  # a check filed under another exercise would be scored there, or nowhere
            raise ValueError(f"exercise {self.id}: checks filed under {', '.join(strays)}")
        return out


@dataclass(frozen=True)
class Assignment:
    """An assignment of the course. ``part_prefix`` picks its analytical parts from the answer key (None: it
    has none); ``exercises`` are its code exercises, in the order they are reported."""
    id: str
    title: str
    part_prefix: str | None = None
    exercises: tuple[Exercise, ...] = ()
    needs_torch: bool = False            # the jail preloads torch for its checks
    variants: bool = True                # per-student numbers for the analytical parts
    reference: str | None = None         # the reference solution, a file in grader/reference
    ungraded: tuple[tuple[str, str], ...] = ()  # (exercise, why no grader checks it), for the spec
    notes: str = ""                      # conventions common to every exercise, for the spec
    scoring: Scoring = field(default_factory=Scoring)

    @property
    def exercise_ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.exercises)

    @property
    def has_code(self) -> bool:
        return bool(self.exercises)

    def parts(self) -> list[Part]:
        """Its analytical parts, in exercise order."""
        import answers

        return answers.with_prefix(self.part_prefix) if self.part_prefix else []

    def checks(self, seed: int) -> list[CodeCheck]:
        out: list[CodeCheck] = []
        for exercise in self.exercises:
            out += exercise.checks(seed)
        ids = [c.id for c in out]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.id}: two checks share an id")
        return out

    def points(self, seed: int = 0) -> dict[str, Fraction]:
        """Each exercise's points (the sum of its checks')."""
        out = {e.id: Fraction(0) for e in self.exercises}
        for check in self.checks(seed):
            out[check.exercise] += check.points
        return out

    def spec_text(self) -> str:
        """The student-facing conventions: ``peftcalc grade --spec ID``."""
        torch = " (torch)" if self.needs_torch else " (numpy)"
        lines = [f"{self.id} — {self.title}{torch if self.has_code else ''}."]
        if self.has_code:
            lines.append("Submit one .py file (or several: they are joined in path order) or a Jupyter notebook "
                         "(.ipynb: its code cells; IPython magics and shell escapes are dropped).")
        if self.notes:
            lines.append(self.notes.rstrip())
        if self.exercises:
            points = self.points()
            lines.append("")
            for exercise in self.exercises:
                lines.append(f"{exercise.id} {exercise.title} ({float(points[exercise.id]):g} points)")
                lines += [f"     {line}" if line else "" for line in exercise.spec.strip("\n").splitlines()]
        if self.part_prefix:
            lines += ["", f"Analytical parts ({self.part_prefix}*): an answer file (YAML/JSON/TOML) or notebook; "
                          f"`peftcalc grade --template {self.id}` writes one to fill."]
        if self.ungraded:
            lines += ["", "Not graded automatically (they need a trained model, a benchmark or a judge):"]
            lines += [f"  {ex}: {why}" for ex, why in self.ungraded]
        return "\n".join(lines) + "\n"


def describe(assignment: Assignment) -> dict[str, Any]:
    """Plain data about an assignment (for listings and the autograder kit)."""
    return {"id": assignment.id, "title": assignment.title, "exercises": list(assignment.exercise_ids),
            "analytical": bool(assignment.part_prefix), "needs_torch": assignment.needs_torch}

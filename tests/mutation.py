"""Grading the reference solutions and their mutants, shared by the assignment tests.

A mutant is a one-place change to the reference solution that makes one classic mistake; it must lose points
on its own exercise and nowhere else. The grading runs in the real sandbox.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1] / "grader" / "reference"
SEED = 20261122  # the hidden inputs: fixed, so a failure is reproducible with --run-seed


def reference(aid: str) -> str:
    from grader import assignments

    return (REFERENCE / assignments.get(aid).reference).read_text()


def grade(source: str, aid: str):
    from grader.code.runner import grade_source

    return grade_source(source.encode(), aid, seed=SEED)


@cache
def full_marks(aid: str) -> dict[str, Fraction]:
    res = grade(reference(aid), aid)
    assert res.score == res.max_score, [(p.id, p.feedback) for p in res.parts if p.score != p.max_score]
    return {p.id: p.score for p in res.parts}


def lost(aid: str, source: str) -> tuple[set[str], dict[str, str]]:
    """The exercises on which ``source`` scores less than the reference, and the feedback of every exercise."""
    res = grade(source, aid)
    marks = full_marks(aid)
    return {p.id for p in res.parts if p.score < marks[p.id]}, {p.id: p.feedback for p in res.parts}


def assert_mutant_loses_only(aid: str, exercise: str, old: str, new: str, name: str = "") -> None:
    source = reference(aid)
    assert source.count(old) == 1, f"mutant {name!r}: snippet not found exactly once"
    lost_on, feedback = lost(aid, source.replace(old, new))
    assert lost_on == {exercise}, (name, {ex: feedback[ex] for ex in lost_on | {exercise}})

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


_JAILS: dict[bool, object] = {}  # needs torch → one warm jail, for one test module


def jail(torch: bool):
    """A torch jail costs ~2 s of CPU to start, a graded run in a warm one ~0.2 s: one jail per kind, reused
    (a jail left dirty by a submission replaces itself), closed when the module ends (tests/conftest.py)."""
    from grader.sandbox import Jail

    if torch not in _JAILS:
        _JAILS[torch] = Jail(preload_torch=torch)
    return _JAILS[torch]


def close_jails() -> None:
    while _JAILS:
        _JAILS.popitem()[1].close()


def grade(source: str, aid: str):
    from grader import assignments
    from grader.code.runner import grade_source

    return grade_source(source.encode(), aid, seed=SEED, jail=jail(assignments.get(aid).needs_torch))


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

"""The course's assignments: each one module declaring ``ASSIGNMENT``, registered by one line below.

    >>> from grader import assignments
    >>> assignments.get("stage9").exercise_ids[:3]
    ('9.5', '9.6', '9.7')
    >>> assignments.get("lesson19").has_code
    False
"""

from __future__ import annotations

import importlib
from functools import cache

from grader.assignments.assignment import CREDIT, POINTS, SLIP, Assignment, Exercise, Scoring

__all__ = ["CREDIT", "MODULES", "choices", "POINTS", "SLIP", "Assignment", "Exercise", "Scoring", "get", "ids"]

# assignment ID (DESIGN.md) → the module declaring it
MODULES = {
    "stage9": "grader.assignments.stage9",
    "chapter24": "grader.assignments.chapter24",
    "lesson19": "grader.assignments.lesson19",
    "section9.6": "grader.assignments.section9_6",
}


def ids() -> tuple[str, ...]:
    return tuple(MODULES)


def choices() -> str:
    return ", ".join(MODULES)


@cache
def get(assignment_id: str) -> Assignment:
    """The assignment with this ID; an unknown ID is an InputError listing the choices."""
    from peftcalc.errors import InputError

    if assignment_id not in MODULES:
        raise InputError("--assignment", assignment_id, f"one of {choices()}")
    declared = importlib.import_module(MODULES[assignment_id]).ASSIGNMENT
    if declared.id != assignment_id:
        raise ValueError(f"{MODULES[assignment_id]} declares {declared.id!r}, registered as {assignment_id!r}")
    return declared

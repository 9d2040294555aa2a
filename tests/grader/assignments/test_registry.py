"""The assignment registry: each assignment declared once, its exercises derived from its checks, nothing
else in the grader naming one."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import pytest

import answers
from grader import assignments
from grader.assignments import Assignment, Exercise
from grader.code.checks import CodeCheck
from peftcalc.errors import InputError

GRADER = Path(__file__).resolve().parents[3] / "grader"


def test_every_registered_assignment_declares_itself():
    for aid in assignments.ids():
        declared = assignments.get(aid)
        assert declared.id == aid
        assert declared.has_code or declared.parts(), f"{aid} grades nothing"


def test_unknown_assignment_lists_the_choices():
    with pytest.raises(InputError, match="stage9, chapter24"):
        assignments.get("stage10")


def test_analytical_parts_are_partitioned():
    """Every part of the key's exercises belongs to at most one assignment (seed figures to none)."""
    owners: dict[str, list[str]] = {}
    for aid in assignments.ids():
        for part in assignments.get(aid).parts():
            owners.setdefault(part.id, []).append(aid)
    assert all(len(v) == 1 for v in owners.values()), {k: v for k, v in owners.items() if len(v) > 1}
    assert owners["9.2a"] == ["stage9"] and owners["24.4d"] == ["chapter24"]
    assert owners["19.1.lora_r8_params"] == ["lesson19"]
    unowned = {p.id for p in answers.parts()} - set(owners)
    assert unowned and all(pid.startswith("seed") for pid in unowned), sorted(unowned)[:5]


@pytest.mark.parametrize("aid", [a for a in assignments.ids() if assignments.get(a).has_code])
def test_exercises_are_derived_from_checks(aid):
    """Every check is scored under a declared exercise, and every exercise has points."""
    declared = assignments.get(aid)
    checks = declared.checks(seed=1)
    assert {c.exercise for c in checks} == set(declared.exercise_ids)
    assert all(p > 0 for p in declared.points().values())
    assert len(set(declared.exercise_ids)) == len(declared.exercise_ids)
    spec = declared.spec_text()
    assert all(f"\n{e.id} " in spec for e in declared.exercises)
    assert declared.reference and (GRADER / "reference" / declared.reference).is_file()


def test_a_check_filed_under_another_exercise_is_refused():
    def build(rng):
        return [CodeCheck("x.1", "9.99", "stray", Fraction(1), [], lambda v, e: (Fraction(1), ""))]

    stray = Assignment("demo", "demo", exercises=(Exercise("9.98", "demo", "", build),))
    with pytest.raises(ValueError, match="9.99"):
        stray.checks(seed=0)


def test_hidden_inputs_of_one_exercise_do_not_depend_on_the_others():
    """Each exercise draws from a stream of its own: adding one never changes another's inputs."""
    stage9 = assignments.get("stage9")
    lone = Assignment("lone", "lone", exercises=(stage9.exercises[-1],))
    assert [c.ops for c in lone.checks(seed=7)] == [c.ops for c in stage9.checks(seed=7) if c.exercise == "9.12"]
    assert [c.ops for c in stage9.checks(seed=7)] != [c.ops for c in stage9.checks(seed=8)]


def _string_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_nothing_outside_an_assignment_names_one():
    """Assignment IDs appear as code only in their own module and the registry (docs and help text may
    show examples)."""
    names = set(assignments.ids())
    root = GRADER.parent
    own = {root.joinpath(*module.split(".")) for module in assignments.MODULES.values()}
    offenders = []
    for path in GRADER.rglob("*.py"):
        if path == GRADER / "assignments" / "__init__.py" or path.with_suffix("") in own or path.parent in own:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):  # `assignment == "stage9"`, `in ("stage9", ...)`
                for lit in ast.walk(node):
                    if isinstance(lit, ast.Constant) and lit.value in names:
                        offenders.append(f"{path.relative_to(GRADER)}:{node.lineno}")
            if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
                values = node.keys if isinstance(node, ast.Dict) else node.elts
                if sum(isinstance(v, ast.Constant) and v.value in names for v in values) >= 2:
                    offenders.append(f"{path.relative_to(GRADER)}:{node.lineno}")
    assert offenders == []

"""Grading a code submission: build the plan, run it in the sandbox, judge the plain data that comes back."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from grader import assignments
from grader.analytic import SubmissionResult
from grader.code.checks import CodeCheck
from grader.sandbox import DEFAULT_LIMITS, Limits, Plan, SandboxResult, run_once
from grader.compare import PartResult

def fresh_seed() -> int:
    """A seed for the hidden inputs of one grading run (64 bits from the OS)."""
    return int.from_bytes(np.random.SeedSequence().generate_state(2).tobytes(), "little")


def build_checks(assignment: str, seed: int) -> list[CodeCheck]:
    """The hidden checks of an assignment's code exercises, their inputs drawn from ``seed``."""
    from peftcalc.errors import InputError

    declared = assignments.get(assignment)
    if not declared.has_code:
        raise InputError("--assignment", assignment, f"an assignment with code exercises "
                         f"({', '.join(a for a in assignments.ids() if assignments.get(a).has_code)})")
    return declared.checks(seed)


@lru_cache(maxsize=8)
def run_checks(assignment: str, seed: int) -> tuple[tuple[CodeCheck, ...], list[dict[str, Any]]]:
    """The run's hidden checks and their plan entries, built once per (assignment, seed) — a batch grades
    every submission on the same inputs, and building them (the inputs, what is expected) costs ~4 ms.
    Shared between submissions: neither is modified (checks are frozen, judges keep no state)."""
    checks = tuple(build_checks(assignment, seed))
    return checks, [{"id": c.id, "ops": c.ops} for c in checks]


@dataclass
class Prepared:
    """A code submission ready to run: its hidden checks, the plan the jail runs (None when the source is
    refused before running) and the messages so far."""
    submission: str
    assignment: str
    source: bytes
    checks: tuple[CodeCheck, ...]
    plan: Plan | None
    messages: list[str]


def prepare(source: bytes, assignment: str, *, submission: str = "", seed: int | None = None,
            limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """Draw the hidden checks (``seed``: the run's seed; None draws one) and build the jail's plan."""
    seed = fresh_seed() if seed is None else seed
    checks, plan_checks = run_checks(assignment, seed)
    messages = [f"hidden inputs: --run-seed {seed} draws them again"]
    if len(source) > limits.source_bytes:
        messages.append(f"submission is {len(source):,} bytes; the limit is {limits.source_bytes:,}")
        return Prepared(submission, assignment, source, checks, None, messages)
    # the checks are a function of (assignment, seed): a warm jail that already holds them is sent the key
    plan = Plan(plan_checks, f"{assignment}/{seed}", preload_torch=assignments.get(assignment).needs_torch, limits=limits)
    return Prepared(submission, assignment, source, checks, plan, messages)


def run_prepared(prepared: Prepared, *, isolation: str | None = None, jail: Any = None) -> SandboxResult | None:
    """Run the plan in ``jail`` (a :class:`~grader.sandbox.Jail`, or anything with its ``run``) or in a jail
    of its own; None if the source was refused."""
    plan = prepared.plan
    if plan is None:
        return None
    if jail is not None:
        return jail.run(plan, prepared.source)
    return run_once(plan, prepared.source, isolation=isolation)


def score(prepared: Prepared, box: SandboxResult | None) -> SubmissionResult:
    """Judge the plain data that came back from the jail: one result per exercise."""
    messages = list(prepared.messages)
    records: dict[str, dict[str, Any]] = {}
    stdout = stderr = ""
    if box is not None:
        records, stdout, stderr = box.records, box.stdout, box.stderr
        messages += box.notes
        if box.killed:
            messages.append(box.killed)
    by_exercise: dict[str, list[tuple[CodeCheck, Fraction, str]]] = {}
    for check in prepared.checks:
        record = records.get(check.id)
        if record is None:
            share, msg = Fraction(0), "no result (the submission's process ended before this check)"
        elif record.get("ok"):
            try:
                share, msg = check.grade(record.get("values"), None)
            except Exception as exc:  # malformed data from the child: the student's loss, never ours
                share, msg = Fraction(0), f"the returned data could not be judged ({type(exc).__name__})"
        else:
            share, msg = check.grade(None, str(record.get("error", "failed")))
            if str(record.get("error", "")).startswith("time limit"):
                msg = f"{record['error']} in {check.id} ({check.title})"
        share = min(max(Fraction(share), Fraction(0)), Fraction(1))
        by_exercise.setdefault(check.exercise, []).append((check, share, msg))
    parts = []
    for exercise in assignments.get(prepared.assignment).exercise_ids:
        items = by_exercise.get(exercise, [])
        total = sum((c.points * s for c, s, _ in items), Fraction(0))
        max_score = sum((c.points for c, _, _ in items), Fraction(0))
        lines = [f"{'✓' if s == 1 else ('½' if s else '✗')} {c.title} ({float(c.points * s):g}/{float(c.points):g}): {m}"
                 for c, s, m in items]
        status = "correct" if total == max_score else ("partial" if total else "wrong")
        parts.append(PartResult(exercise, total, max_score, "\n".join(lines), status))
    if stdout.strip():
        messages.append("stdout (truncated):\n" + stdout[:2000])
    if stderr.strip():
        messages.append("stderr (truncated):\n" + stderr[-2000:])
    return SubmissionResult(prepared.submission, prepared.assignment, parts, messages)


def grade_source(source: bytes, assignment: str, *, submission: str = "", seed: int | None = None,
                 isolation: str | None = None, limits: Limits = DEFAULT_LIMITS, jail: Any = None) -> SubmissionResult:
    """Run every hidden check on ``source`` in a jail and score it, one result per exercise. ``jail``: a
    :class:`~grader.sandbox.Jail` to reuse; otherwise a jail of its own."""
    prepared = prepare(source, assignment, submission=submission, seed=seed, limits=limits)
    return score(prepared, run_prepared(prepared, isolation=isolation, jail=jail))


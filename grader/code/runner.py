"""Grading a code submission: build the plan, run it in the sandbox, judge the plain data that comes back."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from grader.analytic import SubmissionResult
from grader.code.checks import CodeCheck
from grader.code.sandbox import run_plan
from grader.compare import PartResult

ASSIGNMENTS = ("stage9", "chapter24")
EXERCISES = {"stage9": ("9.5", "9.6", "9.7", "9.8", "9.9", "9.10", "9.11", "9.12"),
             "chapter24": ("24.11", "24.12", "24.13", "24.21", "24.26")}
MAX_SOURCE = 256 * 1024


def build_checks(assignment: str, seed: int) -> list[CodeCheck]:
    rng = np.random.default_rng(seed)
    if assignment == "stage9":
        from grader.code import stage9

        return stage9.checks(rng)
    if assignment == "chapter24":
        from grader.code import chapter24

        return chapter24.checks(rng)
    from peftcalc.errors import InputError

    raise InputError("--assignment", assignment, "stage9 or chapter24 for code submissions")


def spec_text(assignment: str) -> str:
    if assignment == "stage9":
        from grader.code.stage9 import SPEC
    elif assignment == "chapter24":
        from grader.code.chapter24 import SPEC
    else:
        from peftcalc.errors import InputError

        raise InputError("--spec", assignment, "stage9 or chapter24")
    return SPEC


def grade_source(source: bytes, assignment: str, *, submission: str = "", seed: int | None = None,
                 isolation: str | None = None, timeout: float = 10.0, budget: float = 60.0,
                 jail: Any = None) -> SubmissionResult:
    """Run every hidden check on ``source`` in a jail and score it, one result per exercise. ``jail``: a
    :class:`~grader.code.sandbox.WarmJail` to reuse (batch grading); otherwise a fresh jail."""
    seed = int.from_bytes(np.random.SeedSequence().generate_state(1).tobytes(), "little") if seed is None else seed
    checks = build_checks(assignment, seed)
    messages: list[str] = []
    if len(source) > MAX_SOURCE:
        records: dict[str, dict[str, Any]] = {}
        messages.append(f"submission is {len(source):,} bytes; the limit is {MAX_SOURCE:,}")
        stdout = stderr = ""
    else:
        plan = {"timeout": timeout, "budget": budget, "preload_torch": assignment == "chapter24",
                "checks": [{"id": c.id, "ops": c.ops} for c in checks]}
        box = jail.run(plan, source) if jail is not None else \
            run_plan(plan, {"submission.py": source}, isolation=isolation, wall=budget + 2 * timeout + 15)
        records, stdout, stderr = box.records, box.stdout, box.stderr
        messages += box.notes
        if box.killed:
            messages.append(box.killed)
    by_exercise: dict[str, list[tuple[CodeCheck, Fraction, str]]] = {}
    for check in checks:
        record = records.get(check.id)
        if record is None:
            share, msg = Fraction(0), "no result (the submission's process ended before this check)"
        elif record.get("ok"):
            try:
                share, msg = check.judge(record.get("values"), None)
            except Exception as exc:  # malformed data from the child: the student's loss, never ours
                share, msg = Fraction(0), f"the returned data could not be judged ({type(exc).__name__})"
        else:
            share, msg = check.judge(None, str(record.get("error", "failed")))
            if str(record.get("error", "")).startswith("time limit"):
                msg = f"{record['error']} in {check.id} ({check.title})"
        share = min(max(Fraction(share), Fraction(0)), Fraction(1))
        by_exercise.setdefault(check.exercise, []).append((check, share, msg))
    parts = []
    for exercise in EXERCISES[assignment]:
        items = by_exercise.get(exercise, [])
        score = sum((c.points * s for c, s, _ in items), Fraction(0))
        max_score = sum((c.points for c, _, _ in items), Fraction(0))
        lines = [f"{'✓' if s == 1 else ('½' if s else '✗')} {c.title} ({float(c.points * s):g}/{float(c.points):g}): {m}"
                 for c, s, m in items]
        status = "correct" if score == max_score else ("partial" if score else "wrong")
        parts.append(PartResult(exercise, score, max_score, "\n".join(lines), status))
    if stdout.strip():
        messages.append("stdout (truncated):\n" + stdout[:2000])
    if stderr.strip():
        messages.append("stderr (truncated):\n" + stderr[-2000:])
    return SubmissionResult(submission, assignment, parts, messages)


def grade_path(path: Path, assignment: str, **kw: Any) -> SubmissionResult:
    """A .py file, or a folder whose .py files are concatenated in name order (one module)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.py") if p.is_file())
        source = b"\n\n".join(p.read_bytes() for p in files[:20])
    else:
        source = path.read_bytes()
    return grade_source(source, assignment, submission=kw.pop("submission", path.stem), **kw)

"""Grading a student's analytical answers for one assignment: one result per part, plus totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from grader import assignments
from grader.assignments import Scoring
from grader.compare import PartResult, grade_part
from grader.loader import LoadError, load_answers
from grader.variants import inputs_for, student_numbers


@dataclass
class SubmissionResult:
    submission: str
    assignment: str
    parts: list[PartResult]
    messages: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> Fraction:
        return sum((p.score for p in self.parts), Fraction(0))

    @property
    def max_score(self) -> Fraction:
        return sum((p.max_score for p in self.parts), Fraction(0))


def _collect(answers: dict[str, Any], part_ids: set[str]) -> tuple[dict[str, Any], list[str]]:
    """Answers by part ID; sub-IDs of a group part (24.9a.prefix) are gathered under the part."""
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in answers.items():
        pid = key.strip().rstrip(":").removeprefix("Exercise ").strip()
        if pid in part_ids:
            out[pid] = value
            continue
        parent, _, leaf = pid.rpartition(".")
        if parent in part_ids:
            existing = out.get(parent)
            merged = dict(existing) if isinstance(existing, dict) else {}
            merged[leaf] = value
            out[parent] = merged
        else:
            unknown.append(key)
    return out, unknown


def grade_answers(assignment: str, answers: dict[str, Any], *, submission: str = "", student: str | None = None,
                  seed: str | int | None = None, scoring: Scoring | None = None) -> SubmissionResult:
    """Grade a mapping of part ID → answer. With ``seed`` and ``student``, against that student's variant."""
    declared = assignments.get(assignment)
    scoring = scoring or declared.scoring
    parts = declared.parts()
    given, unknown = _collect(answers, {p.id for p in parts})
    numbers = student_numbers(assignment, student, seed) if seed is not None and student and declared.variants \
        else {}
    results: list[PartResult] = []
    for part in parts:
        mine = inputs_for(part.defaults, numbers)
        if part.described:
            results += _grade_described(part, given.get(part.id), scoring)
            continue
        graded = grade_part(part.answer(**mine), given.get(part.id), scoring)
        if mine and any(r.score < r.max_score for r in graded):
            graded = _printed_numbers_hint(part, given.get(part.id), graded, mine, scoring)
        results += graded
    messages = [f"ignored {len(unknown)} unknown part ID(s): {', '.join(map(str, unknown[:8]))}"] if unknown else []
    return SubmissionResult(submission, assignment, results, messages, numbers)


def _grade_described(part: Any, raw: Any, scoring: Scoring) -> list[PartResult]:
    """A part graded against what the student states in the answer itself (the mini-project's model): each
    value against the exact figure for that description; no description, or one that cannot be counted, is 0
    with the reason."""
    from peftcalc.errors import PeftcalcError

    stated = {str(k).strip().lower(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
    missing = [name for name in part.described if stated.get(name) in (None, "")]
    why = ""
    if missing:
        why = (f"state {' and '.join(f'{part.id}.{name}' for name in missing)} in your answer: the values are "
               "graded against the exact counts for what you describe")
    else:
        try:
            ans = part.answer(**{name: stated[name] for name in part.described})
        except PeftcalcError as exc:
            why = f"your description could not be counted: {exc}"
        except Exception as exc:  # noqa: BLE001 - a submission's data must cost that submission only
            # a description peftcalc does not validate yet (a bug of ours, named for the grader to report)
            why = f"your description could not be counted ({type(exc).__name__}: {str(exc)[:200]})"
    if why:
        template = part.answer()
        answered = any(stated.get(item.id.rsplit(".", 1)[1]) not in (None, "") for item in template.items)
        if not answered and len(missing) == len(part.described):
            why = "no answer"  # nothing stated at all: missing, like any unanswered part (nothing to review)
        return [PartResult(item.id, Fraction(0), scoring.points[item.kind], why, "missing", needs_review=answered
                           or why != "no answer") for item in template.items]
    return grade_part(ans, stated, scoring)


def _printed_numbers_hint(part: Any, raw: Any, graded: list[PartResult], mine: dict[str, Any], scoring: Scoring) -> list[PartResult]:
    """A student who answered the question's printed numbers instead of their own is told so."""
    from dataclasses import replace

    printed = grade_part(part.answer(), raw, scoring)
    yours = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in mine.items())
    return [replace(r, feedback=f"{r.feedback} That is the answer for the question's printed numbers; yours are "
                    f"{yours} (see your template).") if r.score < r.max_score and p.score == p.max_score else r
            for r, p in zip(graded, printed)]


def grade_file(path: Path, assignment: str, *, student: str | None = None, seed: str | int | None = None,
               scoring: Scoring | None = None) -> SubmissionResult:
    """Grade one answer file; a file that cannot be read scores 0 on every part, with the reason."""
    try:
        answers = load_answers(path)
    except (LoadError, OSError) as exc:
        blank = grade_answers(assignment, {}, submission=str(path), student=student, seed=seed, scoring=scoring)
        blank.parts = [PartResult(p.id, Fraction(0), p.max_score, f"not graded: {exc}", "unreadable")
                       for p in blank.parts]
        blank.messages.append(f"could not read the submission: {exc}")
        return blank
    return grade_answers(assignment, answers, submission=str(path), student=student, seed=seed, scoring=scoring)

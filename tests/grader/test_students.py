"""Answers written the way students write them (fixtures/students/answers.yaml, written from the key and the
seeds by someone who had not read the grader): working, units, arrows, trailing words, fractions, the
seeds' rounded values — right and wrong. Every right one earns full credit; every wrong one is read and
marked down with feedback that names the mistake; only answers with no number are "could not read",
and those are marked for review."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import yaml

import answers
from grader.assignments import Scoring
from grader.compare import grade_part

ENTRIES = yaml.safe_load((Path(__file__).parent / "fixtures" / "students" / "answers.yaml").read_text())
SPEC = Scoring()


def _grade(entry):
    results = grade_part(answers.answer(entry["part"]), entry["answer"], SPEC)
    score = sum((r.score for r in results), Fraction(0))
    top = sum((r.max_score for r in results), Fraction(0))
    return score, top, results


def test_enough_fixtures_of_every_kind():
    assert len(ENTRIES) >= 60
    kinds = {e["expect"] for e in ENTRIES}
    assert kinds == {"full", "partial", "zero"}
    assert sum(e["expect"] != "full" for e in ENTRIES) >= 25


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e['part']}:{e['answer'][:40]}")
def test_student_answer(entry):
    score, top, results = _grade(entry)
    feedback = " ".join(r.feedback for r in results)
    why = f"{entry['answer']!r} on {entry['part']}: {float(score)}/{float(top)} — {feedback} (fixture: {entry['why']})"
    has_number = any(ch.isdigit() for ch in entry["answer"])
    if has_number:
        assert "could not read" not in feedback, why
    if entry["expect"] == "full":
        assert score == top, why
        return
    if entry["expect"] == "partial":
        assert 0 < score < top, why
    else:
        assert score == 0, why
    if entry["names"] == "review":  # no number at all: a provisional 0, never a silent one
        assert not has_number and all(r.needs_review for r in results), why
    else:
        assert entry["names"].lower() in feedback.lower(), why

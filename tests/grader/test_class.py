"""A hand-written class of answer files, graded with the expected scores (fixtures/class/).

Each row: the part and the points expected (of 2 for numbers, 1 for choices, 3 for prose), with why.
Files not listed for a part leave it unanswered (0, "missing"). Every file must grade in well under a
second; a SIGALRM guard turns a hang into a failure instead of a stuck suite.
"""

from __future__ import annotations

import signal
from fractions import Fraction
from pathlib import Path

import pytest

from grader.analytic import grade_file

CLASS = Path(__file__).parent / "fixtures" / "class"
F = Fraction
UNREADABLE = "unreadable-file"

EXPECTED: dict[str, dict[str, Fraction] | str] = {
    # correct answers in every notation the issue lists: full credit
    "s9_correct_plain.yaml": {"9.1a": F(2), "9.2a": F(2), "9.2b": F(2), "9.3a": F(1), "9.3b": F(1), "9.3c": F(1)},
    "s9_correct_commas.yaml": {"9.1a": F(2), "9.2a": F(2), "9.2b": F(2)},        # 78.2 GiB, 65,536, 0.39%
    "s9_correct_underscore.json": {"9.1a": F(2), "9.2a": F(2), "9.2b": F(2)},    # 84e9, 65_536
    "s9_correct_sci.toml": {"9.1a": F(2), "9.2a": F(2), "9.2b": F(2)},           # 6.5536e4, TOML float
    "s9_correct_suffix.yaml": {"9.1a": F(2), "9.2a": F(2)},                      # 65.5K, ~84GB
    "s9_correct_tilde.yaml": {"9.1a": F(2), "9.2a": F(2)},                       # ~65.5k
    "s9_formula_rdk.yaml": {"9.2a": F(2)},                                       # r*(d+k) at d=k=4096, r=8
    "s9_formula_2rd.yaml": {"9.2a": F(2)},                                       # 2*r*d (d = k)
    "s9_formula_implicit.yaml": {"9.2a": F(2)},                                  # r(d + k)
    "s9_yaml_numbers.yaml": {"9.2a": F(2), "9.2b": F(2)},                        # unquoted YAML numbers
    "s9_json_numbers.json": {"9.1a": F(2), "9.2a": F(2), "9.2b": F(2)},          # JSON numbers
    "s9_accepted_conventions.yaml": {"9.1a": F(2), "9.3a": F(1), "9.3b": F(1)},  # 112 GB (master weights)
    "c24_correct.yaml": {"24.2a": F(2), "24.2b": F(2), "24.2c": F(2), "24.2d": F(2), "24.4a": F(2), "24.4b": F(2),
                         "24.4c": F(2), "24.4d.params": F(2), "24.4d.percent": F(2), "24.8a": F(2),
                         "24.9a.prefix": F(2), "24.9a.prompt": F(2), "24.9a.ratio": F(2)},
    "c24_subids.yaml": {"24.9a.prefix": F(2), "24.9a.prompt": F(2), "24.9a.ratio": F(2), "24.6a": F(2),
                        "24.6d": F(2)},
    "l19_correct.yaml": {"19.1.full_ft_params": F(2), "19.1.lora_r8_params": F(2), "19.1.reduction_ratio": F(2),
                         "19.2.full_ft.total": F(2), "19.3.A.rank": F(2), "19.4.merge_formula": F(2)},
    # each known mistake: the key's credit, or the spec's class credit
    "s9_mistake_weights_only.yaml": {"9.1a": F(1, 2)},     # 14 GB: weights only, 1/4 of 2
    "s9_mistake_no_optimizer.yaml": {"9.1a": F(1)},        # 28 GB: forgot Adam, 1/2
    "s9_mistake_one_factor.yaml": {"9.2a": F(1)},          # 32,768: forgot the 2 in r(d+k)
    "s9_mistake_fraction.yaml": {"9.2b": F(3, 2)},         # 0.0039: fraction, not percent (the key's 3/4)
    "s9_wrong_unit_gib.yaml": {"9.1a": F(1)},              # 84 GiB: GB meant
    "s9_wrong_unit_gb.yaml": {"9.1a": F(1)},               # 78.23 GB: GiB meant
    "s9_arithmetic_slip.yaml": {"9.2a": F(1)},             # 65,000: within 10 %
    "s9_too_coarse.yaml": {"9.2a": F(1)},                  # 70K: one significant digit
    "s9_factor_two.yaml": {"9.2a": F(0)},                  # 131,072: 2× too large
    "s9_choice_wrong.yaml": {"9.3a": F(0), "9.3c": F(0)},
    "c24_mistakes.yaml": {"24.8a": F(1), "24.9a.prefix": F(1), "24.2c": F(2), "24.2d": F(2), "24.4c": F(0)},
    "l19_mistakes.yaml": {"19.4.merge_formula": F(0), "19.3.C.rank": F(0), "19.1.lora_r64_params": F(1)},
    # prose: rubric points, provisional
    "s9_conceptual_good.yaml": {"9.1b": F(3), "9.1c": F(3)},
    "s9_conceptual_copy.yaml": {"9.1b": F(0), "9.1c": F(0)},
    # hostile or broken input: that part (or the whole file) scores 0 with a message, nothing crashes
    "s9_garbage_part.yaml": {"9.2a": F(0), "9.2b": F(2)},
    "s9_formula_evil.yaml": {"9.2a": F(0), "9.2b": F(0), "9.1a": F(0)},
    "s9_formula_power.yaml": {"9.2a": F(0), "9.2b": F(0)},
    "s9_empty.yaml": {},
    "s9_alias_bomb.yaml": UNREADABLE,
    "s9_python_tag.yaml": UNREADABLE,
    "s9_not_mapping.yaml": UNREADABLE,
    "s9_binary_junk.yaml": UNREADABLE,
    "s9_deeply_nested.yaml": UNREADABLE,
}
ASSIGNMENT = {"s9": "stage9", "c2": "chapter24", "l1": "lesson19"}


def test_every_fixture_is_listed():
    assert sorted(p.name for p in CLASS.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 30


def _alarm(seconds: int):
    def handler(signum, frame):
        raise TimeoutError(f"grading took more than {seconds} s")
    signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_grades_as_expected(name):
    _alarm(5)
    try:
        result = grade_file(CLASS / name, ASSIGNMENT[name[:2]])
    finally:
        signal.alarm(0)
    scores = {p.id: p.score for p in result.parts}
    expected = EXPECTED[name]
    if expected == UNREADABLE:
        assert result.score == 0 and result.messages and "could not read" in result.messages[0]
        assert all(p.status == "unreadable" for p in result.parts)
        return
    for part_id, points in expected.items():
        assert scores[part_id] == points, (part_id, next(p.feedback for p in result.parts if p.id == part_id))
    for p in result.parts:
        if p.id not in expected:
            assert p.score == 0 and p.status == "missing", p


def test_partial_credit_messages_teach():
    def feedback(name, part):
        return next(p.feedback for p in grade_file(CLASS / name, ASSIGNMENT[name[:2]]).parts if p.id == part)

    assert "weights only" in feedback("s9_mistake_weights_only.yaml", "9.1a")
    assert "optimizer" in feedback("s9_mistake_no_optimizer.yaml", "9.1a")
    assert "r·(d + k)" in feedback("s9_mistake_one_factor.yaml", "9.2a")
    assert "fraction" in feedback("s9_mistake_fraction.yaml", "9.2b")
    assert "GiB" in feedback("s9_wrong_unit_gib.yaml", "9.1a")
    assert "check the arithmetic" in feedback("s9_arithmetic_slip.yaml", "9.2a")
    assert "significant digits" in feedback("s9_too_coarse.yaml", "9.2a")
    assert "factor of 2" in feedback("s9_factor_two.yaml", "9.2a")
    assert "master" in feedback("s9_accepted_conventions.yaml", "9.1a")  # names the convention used
    assert "could not read" in feedback("s9_garbage_part.yaml", "9.2a")
    assert "A·B" in feedback("l19_mistakes.yaml", "19.4.merge_formula")


def test_prose_is_provisional_and_never_free():
    result = grade_file(CLASS / "s9_conceptual_good.yaml", "stage9")
    prose = [p for p in result.parts if p.id in ("9.1b", "9.1c")]
    assert all(p.needs_review for p in prose)
    empty = grade_file(CLASS / "s9_empty.yaml", "stage9")
    assert empty.score == 0


def test_evil_formula_runs_nothing(tmp_path):
    marker = Path("/tmp/peftcalc-pwned")
    marker.unlink(missing_ok=True)
    grade_file(CLASS / "s9_formula_evil.yaml", "stage9")
    grade_file(CLASS / "s9_python_tag.yaml", "stage9")
    assert not marker.exists()


def test_huge_file_is_refused_quickly(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("9.2a: " + "6" * (10 * 2**20) + "\n")
    _alarm(5)
    try:
        result = grade_file(huge, "stage9")
    finally:
        signal.alarm(0)
    assert result.score == 0 and "limited to" in result.messages[0]

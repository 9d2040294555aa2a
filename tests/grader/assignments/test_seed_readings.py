"""Every reasonable reading of the seeds is accepted and judged by its effect (runs in the real sandbox).

Fixtures (tests/grader/fixtures/students/) written from the seeds: a Stage 9 student who pasted Section 9.6's
classes (seed 003: merge_weights, Adapter(d_model, bottleneck_dim)), a Chapter 24 student who built 24.11/24.12 on
Lesson 19's LoRA code (seed 004: LoRALayer(in_features, …), LinearWithLoRA, apply_lora_to_model, merge_weights), a
LoRAManager that switches by merging and unmerging, a symmetric absmax int4 and an NF4 quantizer. Each scores full
marks on what the seeds define — except the Lesson 19 student's 24.12, whose merged model counts ΔW twice, as the
lesson's merge_weights does — and its feedback names the reading graded. Mutants of the fixtures still lose
points on their own exercise only; what is ambiguous (two readings, or none) gets a clear message.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest
import mutation
from mutation import full_marks, reference

from grader import assignments

STUDENTS = Path(__file__).resolve().parents[1] / "fixtures" / "students"

# fixture → (assignment, the exercises it implements: those it is graded on)
FIXTURES = {
    "seed003_literal_stage9.py": ("stage9", ("9.5", "9.6", "9.7", "9.8", "9.9", "9.10", "9.11", "9.12")),
    "seed004_literal_chapter24.py": ("chapter24", ("24.11", "24.12", "24.13", "24.21", "24.26")),
    "stage9_switch_by_merging.py": ("stage9", ("9.11",)),
    "stage9_absmax_int4.py": ("stage9", ("9.12",)),
    "stage9_nf4.py": ("stage9", ("9.12",)),
}
# where a fixture rightly loses points (the seed itself is wrong there)
RIGHTLY_LOST = {("seed004_literal_chapter24.py", "24.12")}


def source(fixture: str) -> str:
    return (STUDENTS / fixture).read_text()


def grade(text: str, aid: str):
    """Grade ``text`` in the real sandbox on the mutation tests' hidden inputs, in the session's warm jail."""
    return mutation.grade(text, aid)


@cache
def graded(fixture: str) -> tuple[dict[str, Fraction], dict[str, str]]:
    aid, _ = FIXTURES[fixture]
    res = grade(source(fixture), aid)
    return {p.id: p.score for p in res.parts}, {p.id: p.feedback for p in res.parts}


def assert_loses_only(fixture: str, exercise: str, old: str, new: str) -> str:
    """A one-place mutant of a fixture loses points on ``exercise`` and on no other exercise the fixture
    implements (compared with the fixture's own marks); returns the exercise's feedback."""
    aid, scope = FIXTURES[fixture]
    text = source(fixture)
    assert text.count(old) == 1, f"{fixture}: snippet not found exactly once: {old!r}"
    res = grade(text.replace(old, new), aid)
    marks, _ = graded(fixture)
    lost = {p.id for p in res.parts if p.id in scope and p.score < marks[p.id]}
    feedback = {p.id: p.feedback for p in res.parts}
    assert lost == {exercise}, {ex: feedback[ex] for ex in lost | {exercise}}
    return feedback[exercise]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_scores_full_marks_on_what_the_seeds_define(fixture):
    aid, scope = FIXTURES[fixture]
    marks, feedback = graded(fixture)
    reference_marks = full_marks(aid)
    for exercise in scope:
        if (fixture, exercise) in RIGHTLY_LOST:
            assert 0 < marks[exercise] < reference_marks[exercise], feedback[exercise]
        else:
            assert marks[exercise] == reference_marks[exercise], (exercise, feedback[exercise])


def test_section_9_6_student_is_told_which_reading_was_graded():
    _, feedback = graded("seed003_literal_stage9.py")
    assert "graded merge_weights(W), Section 9.6's name (seed 003)" in feedback["9.5"]
    assert feedback["9.7"].count("Adapter(d_model, bottleneck_dim), Section 9.6's keyword (seed 003)") == 2
    assert "self.active_adapter names the active adapter" in feedback["9.11"]


def test_lesson_19_student_is_told_which_reading_was_graded_and_why_24_12_loses():
    marks, feedback = graded("seed004_literal_chapter24.py")
    assert "Lesson 19's apply_lora_to_model" in feedback["24.11"]
    assert feedback["24.11"].count("graded Lesson 19's reading (seed 004): LinearWithLoRA(linear, rank=…, alpha=…)") == 2
    assert "counts ΔW twice" in feedback["24.12"] and "merge_weights" in feedback["24.12"]
    # the double count costs the "merged == LoRA output" share only: unmerge still restores W₀
    assert marks["24.12"] == Fraction(1)


def test_reference_feedback_names_the_exercises_own_reading():
    res = grade(reference("chapter24"), "chapter24")
    feedback = {p.id: p.feedback for p in res.parts}
    assert "Chapter 24's reading (seed 002): LoRALayer(base, r=…, alpha=…)" in feedback["24.11"]
    assert "graded merge_lora(model) and unmerge_lora(model)" in feedback["24.12"]


def test_switch_by_merging_is_graded_as_that_reading():
    _, feedback = graded("stage9_switch_by_merging.py")
    assert "graded reading (2), merged on switch" in feedback["9.11"]


def test_absmax_and_nf4_are_named_and_never_told_about_a_zero_point():
    _, absmax = graded("stage9_absmax_int4.py")
    _, nf4 = graded("stage9_nf4.py")
    assert "16 uniform levels, 12 sets of levels" in absmax["9.12"]          # one scale per row
    assert "QLoRA's NF4 code book × absmax, 2 sets of levels" in nf4["9.12"]  # 120 weights: 2 blocks of 64
    assert "zero_point" not in nf4["9.12"] and "scale" not in nf4["9.12"]


def test_nf4_code_book_is_the_published_one():
    pytest.importorskip("torch")
    from grader.assignments.stage9.qlora import NF4
    from peftcalc.verify.checks import PUBLISHED_NF4

    assert NF4 == PUBLISHED_NF4


def test_the_spec_lists_every_accepted_reading():
    stage9, chapter24 = assignments.get("stage9").spec_text(), assignments.get("chapter24").spec_text()
    for reading in ("merge_weights(W)", "bottleneck_dim", "base kept", "merged on switch", "NF4", "absmax",
                    "[-8, 7]"):
        assert reading in stage9, reading
    for reading in ("LoRALayer(in_features, out_features, rank, alpha, dropout)", "LinearWithLoRA(linear, rank, alpha)",
                    "apply_lora_to_model", "every nn.Linear", "merge_weights()", "unmerge_weights()", "lora_alpha",
                    "import math", "never switches the LoRA path off"):
        assert reading in chapter24, reading


# (fixture, exercise, snippet, replacement, what the feedback must say): classic mistakes made on top of the seeds'
# readings
MUTANTS = [
    ("seed003_literal_stage9.py", "9.5", "return W + self.scaling * (self.B @ self.A)", "return W + self.B @ self.A",
     "merge forgets the scaling"),
    ("seed003_literal_stage9.py", "9.5", "def merge_weights(self, W", "def fold(self, W",
     "LoRALayer defines none of merge, merge_weights"),
    ("seed003_literal_stage9.py", "9.7", "        return x + up\n", "        return up\n", "the residual is missing"),
    ("seed003_literal_stage9.py", "9.7", "bottleneck_dim: int = 64,", "size: int = 64,",
     "Adapter() takes none of the keywords bottleneck, bottleneck_dim (its parameters: d_model, size)"),
    ("seed003_literal_stage9.py", "9.11", "        self.active_adapter = name\n", "        pass\n",
     "switch_adapter had no visible effect"),
    ("seed004_literal_chapter24.py", "24.11", "return self.scaling * (self.dropout(x) @ self.lora_A.T @ self.lora_B.T)",
     "return self.dropout(x) @ self.lora_A.T @ self.lora_B.T", "not scaled by alpha/r"),
    ("seed004_literal_chapter24.py", "24.11", "            param.requires_grad = False\n", "            pass\n",
     "only lora_A and lora_B; the base frozen"),
    ("seed004_literal_chapter24.py", "24.11", "nn.init.zeros_(self.lora_B)", "nn.init.normal_(self.lora_B)",
     "lora_B must be zero at initialisation"),
    ("seed004_literal_chapter24.py", "24.12", "module.linear.weight -= (module.lora.lora_B",
     "module.linear.weight += (module.lora.lora_B", "must restore the original weights"),
    ("stage9_switch_by_merging.py", "9.11", "            self._apply(self.merged, -1.0)", "            pass",
     "left t1's ΔW in base_model"),
    ("stage9_absmax_int4.py", "9.12", "np.clip(np.round(weight / scale)", "np.clip(np.trunc(weight / scale)",
     "not decoded to their nearest level"),
    ("stage9_nf4.py", "9.12", "codes = np.abs(normed[..., None] - NF4).argmin(axis=-1).astype(np.uint8)",
     "codes = np.minimum(np.searchsorted(NF4, normed), 15).astype(np.uint8)", "not decoded to their nearest level"),
    ("stage9_nf4.py", "9.12", "absmax = np.abs(blocks).max(axis=1, keepdims=True)",
     "absmax = np.abs(blocks).max(axis=1, keepdims=True) / 2", "lie outside the levels open to them"),
]


@pytest.mark.parametrize("fixture, exercise, old, new, says", MUTANTS,
                         ids=[f"{m[0].split('_')[0]}:{m[1]}:{m[4][:30]}" for m in MUTANTS])
def test_mutant_of_a_fixture_loses_points_only_on_its_exercise(fixture, exercise, old, new, says):
    feedback = assert_loses_only(fixture, exercise, old, new)
    assert says in feedback, feedback
    if fixture == "stage9_nf4.py":  # NF4 has no zero point: the feedback must not send the student looking for one
        assert "zero_point" not in feedback and "scale" not in feedback, feedback


def _variant(text: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_both_names_defined_grades_the_exercises_own_and_says_so():
    stage9 = _variant(reference("stage9"), ("    def merge(self, W", "    def merge_weights(self, W"),
                      ("def lora_backward(", "LoRALayer.merge = LoRALayer.merge_weights\n\n\ndef lora_backward("))
    res = {p.id: p for p in grade(stage9, "stage9").parts}
    assert res["9.5"].score == full_marks("stage9")["9.5"], res["9.5"].feedback
    assert "the class defines merge and merge_weights: graded merge" in res["9.5"].feedback
    chapter24 = reference("chapter24") + "\n\napply_lora_to_model = replace_linear_with_lora\n"
    res = {p.id: p for p in grade(chapter24, "chapter24").parts}
    assert res["24.11"].score == full_marks("chapter24")["24.11"], res["24.11"].feedback
    assert "both replace_linear_with_lora and apply_lora_to_model are defined: graded replace_linear_with_lora" in \
        res["24.11"].feedback


def test_lesson_19_layer_without_its_wrapper_or_no_lora_function_gets_a_clear_message():
    no_wrapper = _variant(source("seed004_literal_chapter24.py"), *[(f"{a}LinearWithLoRA{b}", f"{a}LoRALinear{b}")
                                                                 for a, b in (("class ", "(nn.Module)"),
                                                                              ("lora_linear = ", "(module"),
                                                                              ("isinstance(module, ", "):\n            module.merge"),
                                                                              ("isinstance(module, ", "):\n                module"))])
    res = {p.id: p for p in grade(no_wrapper, "chapter24").parts}
    assert "no LinearWithLoRA(linear, rank, alpha) to wrap an nn.Linear" in res["24.11"].feedback
    assert res["24.11"].score == 3 and res["24.12"].score == 1  # replacing still works; only the layer checks fail
    no_function = _variant(reference("chapter24"), ("def replace_linear_with_lora(", "def add_lora("),
                           ("            replace_linear_with_lora(child", "            add_lora(child"))
    res = {p.id: p for p in grade(no_function, "chapter24").parts}
    message = ("defines neither replace_linear_with_lora(model, r, alpha) nor apply_lora_to_model(model, rank, alpha, "
               "target_modules)")
    assert message in res["24.11"].feedback and message in res["24.12"].feedback


def test_lesson_19_per_layer_merge_methods_are_a_reading_of_24_12():
    # no merge_lora/unmerge_lora: each LinearWithLoRA's own merge_weights()/unmerge_weights() — here with the LoRA
    # path switched off once merged, which is all the lesson's code lacks
    text = source("seed004_literal_chapter24.py")
    text = text[:text.index("def merge_lora(")] + text[text.index("# ---- the other exercises"):]
    text = _variant(text, ("        return self.linear(x) + self.lora(x)",
                           "        return self.linear(x) + (0 if getattr(self, 'merged', False) else self.lora(x))"),
                    ("            ) * self.lora.scaling\n", "            ) * self.lora.scaling\n        self.merged = True\n\n"
                     "    def unmerge_weights(self):\n        with torch.no_grad():\n            self.linear.weight -= "
                     "(self.lora.lora_B @ self.lora.lora_A) * self.lora.scaling\n        self.merged = False\n"))
    res = {p.id: p for p in grade(text, "chapter24").parts}
    assert res["24.12"].score == full_marks("chapter24")["24.12"], res["24.12"].feedback
    assert "graded each LoRA layer's merge_weights() and each LoRA layer's unmerge_weights()" in res["24.12"].feedback

"""Reference solutions score full marks and an empty submission none; each classic mistake (a one-place mutant
of the reference) loses points on its own exercise and nowhere else. Runs in the real sandbox.

Exercises added later keep their mutants beside their own tests (tests/grader/assignments/test_<assignment>_*.py),
through :func:`mutation.assert_mutant_loses_only`.
"""

from __future__ import annotations

import pytest
from mutation import assert_mutant_loses_only, full_marks, grade

from grader import assignments

CODE = [a for a in assignments.ids() if assignments.get(a).has_code]

# (name, assignment, exercise, snippet of the reference, replacement)
MUTANTS = [
    ("scaling is alpha", "stage9", "9.5", "self.scaling = alpha / rank", "self.scaling = alpha"),
    ("B random at init", "stage9", "9.5", "self.B = np.zeros((out_features, rank))                         #",
     "self.B = np.random.randn(out_features, rank)  #"),
    ("A zero at init", "stage9", "9.5", "self.A = np.random.randn(rank, in_features) / np.sqrt(rank)   # Gaussian",
     "self.A = np.zeros((rank, in_features))"),
    ("W not transposed", "stage9", "9.5", "return x @ W.T + self.scaling * (x @", "return x @ W + self.scaling * (x @"),
    ("base path missing", "stage9", "9.5", "return x @ W.T + self.scaling * (x @ self.A.T @ self.B.T)",
     "return self.scaling * (x @ self.A.T @ self.B.T)"),
    ("merge without scaling", "stage9", "9.5", "return W + self.scaling * (self.B @ self.A)", "return W + self.B @ self.A"),
    ("grad_B transposed", "stage9", "9.6", "grad_B = scaling * g.T @ h", "grad_B = scaling * h.T @ g"),
    ("grads not scaled", "stage9", "9.6", "grad_A = scaling * (g @ B).T @ xf", "grad_A = (g @ B).T @ xf"),
    ("grad_x missing scaling", "stage9", "9.6", "grad_x = scaling * (grad_output @ B @ A)", "grad_x = grad_output @ B @ A"),
    ("adapter without residual", "stage9", "9.7", "return x + np.maximum(x @ self.W_down, 0.0) @ self.W_up",
     "return np.maximum(x @ self.W_down, 0.0) @ self.W_up"),
    ("adapter without relu", "stage9", "9.7", "return x + np.maximum(x @ self.W_down, 0.0) @ self.W_up",
     "return x + (x @ self.W_down) @ self.W_up"),
    ("prompt appended", "stage9", "9.8", "np.concatenate([prompts, input_embeddings], axis=1)",
     "np.concatenate([input_embeddings, prompts], axis=1)"),
    ("count includes A only", "stage9", "9.9", "return sum(self.lora_A[n].size + self.lora_B[n].size",
     "return sum(self.lora_A[n].size"),
    ("merge_lora drops the update", "stage9", "9.9",
     "self.W[name] = self.W[name] + self.scaling * self.lora_B[name] @ self.lora_A[name]", "pass"),
    ("lora count forgets the factor 2", "stage9", "9.10", "trainable = L * 2 * method_config[\"rank\"] * (d + d)",
     "trainable = L * 2 * method_config[\"rank\"] * d"),
    ("prompt count times layers", "stage9", "9.10", "trainable = method_config[\"length\"] * d",
     "trainable = L * method_config[\"length\"] * d"),
    ("merge_adapter does nothing", "stage9", "9.11",
     "self.base_model[layer] = self.base_model[layer] + ab[\"B\"] @ ab[\"A\"]", "pass"),
    ("switch merges", "stage9", "9.11", "        self.active = name\n\n    def merge_adapter",
     "        self.active = name\n        self.merge_adapter(name)\n\n    def merge_adapter"),
    ("switch records nothing", "stage9", "9.11", "        self.active = name\n\n    def merge_adapter",
     "        pass\n\n    def merge_adapter"),
    ("codes beyond 4 bits", "stage9", "9.12", "0, 15).astype(np.uint8)", "0, 15).astype(np.uint8) * 2"),
    ("17 quantization levels", "stage9", "9.12", "scale = (hi - lo) / 15 if hi > lo else 1.0",
     "scale = (hi - lo) / 16 if hi > lo else 1.0"),
    ("dequantize forgets the zero point", "stage9", "9.12", "return quantized.astype(np.float64) * scale + zero_point",
     "return quantized.astype(np.float64) * scale"),
    ("torch B random", "chapter24", "24.11", "self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))",
     "self.lora_B = nn.Parameter(torch.randn(base.out_features, r))"),
    ("torch scaling is alpha", "chapter24", "24.11", "self.scaling = alpha / r", "self.scaling = alpha"),
    ("merge without scaling (torch)", "chapter24", "24.12", "m.base.weight += m.scaling * m.lora_B @ m.lora_A",
     "m.base.weight += m.lora_B @ m.lora_A"),
    ("merge keeps the LoRA path on", "chapter24", "24.12", "m.merged = True", "pass"),
    ("unmerge adds again", "chapter24", "24.12", "m.base.weight -= m.scaling * m.lora_B @ m.lora_A",
     "m.base.weight += m.scaling * m.lora_B @ m.lora_A"),
    ("loss on instruction tokens", "chapter24", "24.13",
     "lab += list(turn[\"ids\"]) if turn[\"role\"] == \"assistant\" else [-100] * len(turn[\"ids\"])",
     "lab += list(turn[\"ids\"])"),
    ("padding not masked in labels", "chapter24", "24.13", "\"labels\": pad(labels, -100)", "\"labels\": pad(labels, 0)"),
    ("TIES without trim", "chapter24", "24.21", "k = max(1, int(round(density * tv.shape[1])))", "k = tv.shape[1]"),
    ("TIES plain mean", "chapter24", "24.21", "return lam * total / count", "return lam * tv.mean(dim=0)"),
    ("DARE without rescale", "chapter24", "24.26", "return delta * keep / (1 - p)", "return delta * keep"),
    ("DARE keeps with p", "chapter24", "24.26", "keep = torch.rand(delta.shape, generator=gen) >= p",
     "keep = torch.rand(delta.shape, generator=gen) < p"),
]


@pytest.mark.parametrize("aid", CODE)
def test_reference_scores_full_marks_and_empty_scores_nothing(aid):
    marks = full_marks(aid)
    assert set(marks) == set(assignments.get(aid).exercise_ids)
    empty = grade("", aid)
    assert empty.score == 0 and empty.max_score == sum(marks.values())


def test_there_are_enough_mutants():
    assert len(MUTANTS) >= 25
    assert {m[2] for m in MUTANTS} >= {"9.5", "9.6", "9.7", "9.8", "9.9", "9.10", "9.11", "9.12", "24.11", "24.12",
                                       "24.13", "24.21", "24.26"}


@pytest.mark.parametrize("name, assignment, exercise, old, new", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_loses_points_only_on_its_exercise(name, assignment, exercise, old, new):
    assert_mutant_loses_only(assignment, exercise, old, new, name)

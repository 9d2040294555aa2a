"""Section 9.6's extension exercises (seed 003), graded in the real sandbox: the reference scores full marks
and an empty file nothing (tests/grader/assignments/test_mutants.py, for every assignment), each classic
mistake — a one-place mutant of the reference — loses points on its own exercise only, and the other 4-bit
schemes the spec accepts score full marks. The judges' own tests: test_section9_6_judges.py."""

from __future__ import annotations

from collections import Counter

import pytest
from mutation import assert_mutant_loses_only, full_marks, grade, reference

from grader import assignments
from peftcalc.cli import main

AID = "section9.6"

# (name, exercise, snippet of the reference, replacement)
MUTANTS = [
    ("FFN: LoRA on w_up only", "9.6.1", "return self.down.forward(np.maximum(0, self.up.forward(x)))",
     "return np.maximum(0, self.up.forward(x)) @ self.down.weight.T"),
    ("FFN: no activation", "9.6.1", "return self.down.forward(np.maximum(0, self.up.forward(x)))",
     "return self.down.forward(self.up.forward(x))"),
    ("FFN: one matrix counted", "9.6.1", "return self.up.lora.num_parameters() + self.down.lora.num_parameters()",
     "return self.up.lora.num_parameters()"),
    ("FFN: merge without scaling", "9.6.1", "return self.up.merge()[0], self.down.merge()[0]",
     "return self.up.weight + self.up.lora.B @ self.up.lora.A, self.down.weight + self.down.lora.B @ self.down.lora.A"),
    ("dropout on the base path", "9.6.2", "        lora_output = (lora_input @ self.A.T) @ self.B.T\n",
     "        lora_output = (lora_input @ self.A.T) @ self.B.T\n        base_output = lora_input @ W.T\n"),
    ("dropout in eval", "9.6.2", "if self.training and self.dropout > 0:", "if self.dropout > 0:"),
    ("dropout not rescaled", "9.6.2", "lora_input = x * keep / (1 - self.dropout)", "lora_input = x * keep"),
    ("dropout keeps with p", "9.6.2", "keep = np.random.rand(*x.shape) >= self.dropout",
     "keep = np.random.rand(*x.shape) < self.dropout"),
    ("dropout: one mask for every call", "9.6.2", "keep = np.random.rand(*x.shape) >= self.dropout",
     "keep = np.random.RandomState(0).rand(*x.shape) >= self.dropout"),
    ("parallel adapter reads the sublayer output", "9.6.3", "activated = np.maximum(0, x @ self.W_down)",
     "activated = np.maximum(0, sublayer_out @ self.W_down)"),
    ("parallel adapter without scale", "9.6.3", "return sublayer_out + self.scale * (activated @ self.W_up)",
     "return sublayer_out + (activated @ self.W_up)"),
    ("parallel adapter added to x", "9.6.3", "return sublayer_out + self.scale * (activated @ self.W_up)",
     "return x + self.scale * (activated @ self.W_up)"),
    ("prefix MLP counted without biases", "9.6.4",
     "return sum(a.size for a in (self.embedding, self.W1, self.b1, self.W2, self.b2))",
     "return sum(a.size for a in (self.embedding, self.W1, self.W2))"),
    ("prefix MLP with ReLU", "9.6.4", "np.tanh(self.embedding @ self.W1 + self.b1)",
     "np.maximum(0, self.embedding @ self.W1 + self.b1)"),
    ("prefix MLP reshaped without moving the position axis", "9.6.4", "return out.transpose(1, 2, 0, 3, 4)",
     "return out.reshape(self.num_layers, 2, self.prefix_length, self.num_heads, self.d_head)"),
    ("prompt length not added to the sequence", "9.6.5",
     "return self.linear.forward(self.prompt.forward(input_embeds))", "return self.linear.forward(input_embeds)"),
    ("LoRA + prompt counted as LoRA only", "9.6.5",
     "return self.prompt.num_parameters() + self.linear.lora.num_parameters()", "return self.linear.lora.num_parameters()"),
    ("4-bit: one absmax for the whole matrix", "9.6.6",
     "absmax = np.array([np.abs(flat[i:i + block_size]).max() for i in starts])",
     "absmax = np.full(len(starts), np.abs(flat).max())"),
    ("4-bit: truncated, not rounded", "9.6.6",
     "codes = np.abs(normalized[:, None] - NF4[None, :]).argmin(axis=1).astype(np.uint8)",
     "codes = (np.searchsorted(NF4, normalized, side='right') - 1).clip(0, 15).astype(np.uint8)"),
    ("QLoRA forward on the full-precision W", "9.6.6",
     "        self.lora = LoRALayer(in_features, out_features, rank, alpha)\n\n    def forward(self, x: np.ndarray) -> "
     "np.ndarray:\n        return self.lora.forward(x, dequantize_4bit_blockwise(self.codes, self.state))",
     "        self.lora = LoRALayer(in_features, out_features, rank, alpha)\n        self.W = W\n\n    def forward(self, "
     "x: np.ndarray) -> np.ndarray:\n        return self.lora.forward(x, self.W)"),
]

# other 4-bit schemes the spec accepts: each replaces the reference's NF4 quantizer and must keep full marks
UNIFORM_MIN_MAX = '''
def quantize_4bit_blockwise(W, block_size=64):
    flat = W.reshape(-1)
    lo = np.array([flat[i:i + block_size].min() for i in range(0, flat.size, block_size)])
    hi = np.array([flat[i:i + block_size].max() for i in range(0, flat.size, block_size)])
    step = np.where(hi > lo, (hi - lo) / 15, 1.0)
    lo_e, step_e = np.repeat(lo, block_size)[:flat.size], np.repeat(step, block_size)[:flat.size]
    codes = np.clip(np.round((flat - lo_e) / step_e), 0, 15).astype(np.uint8)
    return codes, (lo_e, step_e, W.shape)


def dequantize_4bit_blockwise(codes, state):
    lo_e, step_e, shape = state
    return (codes * step_e + lo_e).reshape(shape)
'''
ABSMAX_INT4 = '''
def quantize_4bit_blockwise(W, block_size=64):
    flat = W.reshape(-1)
    scale = np.array([np.abs(flat[i:i + block_size]).max() / 7 for i in range(0, flat.size, block_size)])
    scale_e = np.repeat(scale, block_size)[:flat.size]
    codes = (np.clip(np.round(flat / scale_e), -7, 7) + 8).astype(np.uint8)   # stored offset by 8: 1..15
    return codes.reshape(W.shape), {"scale": scale_e, "shape": W.shape}


def dequantize_4bit_blockwise(codes, state):
    return ((codes.reshape(-1).astype(float) - 8) * state["scale"]).reshape(state["shape"])
'''


def test_every_exercise_has_two_mutants_or_more():
    per_exercise = Counter(m[1] for m in MUTANTS)
    assert set(per_exercise) == set(assignments.get(AID).exercise_ids) == {f"9.6.{i}" for i in range(1, 7)}
    assert min(per_exercise.values()) >= 2


@pytest.mark.parametrize("name, exercise, old, new", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_mutant_loses_points_only_on_its_exercise(name, exercise, old, new):
    assert_mutant_loses_only(AID, exercise, old, new, name)


def _replace_quantizer(scheme: str) -> str:
    source = reference(AID)
    start = source.index("def quantize_4bit_blockwise")
    end = source.index("class QLoRALayer")
    return source[:start] + scheme.lstrip() + "\n\n" + source[end:]


@pytest.mark.parametrize("scheme", [UNIFORM_MIN_MAX, ABSMAX_INT4], ids=["uniform min-max", "absmax int4"])
def test_other_4bit_schemes_keep_full_marks(scheme):
    res = grade(_replace_quantizer(scheme), AID)
    marks = full_marks(AID)
    assert {p.id: p.score for p in res.parts} == marks, [p.feedback for p in res.parts if p.score < marks[p.id]]


def test_feedback_names_the_classic_mistakes():
    """The messages a student reads name the mistake (one sandbox run: the three mutants in one source)."""
    source = reference(AID)
    by_name = {m[0]: m for m in MUTANTS}
    for name in ("dropout on the base path", "parallel adapter added to x", "prompt length not added to the sequence"):
        _, _, old, new = by_name[name]
        source = source.replace(old, new)
    feedback = {p.id: p.feedback for p in grade(source, AID).parts}
    assert "dropout reaches the base path" in feedback["9.6.2"]
    assert "adds it to the sublayer's output" in feedback["9.6.3"]
    assert "prompt length is not added to the sequence" in feedback["9.6.5"]


def test_spec_is_published_and_template_refused(capsys):
    assert main(["grade", "--spec", AID]) == 0
    text = capsys.readouterr().out
    assert all(f"\n9.6.{i} " in text for i in range(1, 7)) and "(numpy)" in text
    assert main(["grade", "--template", AID]) == 2   # no analytical parts: the refusal points to the spec
    assert f"--spec {AID}" in capsys.readouterr().err

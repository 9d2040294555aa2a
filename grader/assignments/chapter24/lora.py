"""Exercise 24.11: LoRALayer and replace_linear_with_lora (seed 002, torch)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, as_array, close, failed, shape_text, tensor, value
from grader.assignments.chapter24.plan import torch_model

F = Fraction

SPEC = """\
class LoRALayer(nn.Module): __init__(self, base: nn.Linear, r=8, alpha=16) with parameters lora_A
(r × in_features, A ~ N(0, σ²)) and lora_B (out_features × r, zeros); forward(x) = base(x) +
(alpha/r) · x Aᵀ Bᵀ. replace_linear_with_lora(model, r=8, alpha=16) replaces every nn.Linear (nested
too) by a LoRALayer, freezes everything but lora_A/lora_B, and returns the model.
"""


def _lora(rng: np.random.Generator) -> list[CodeCheck]:
    r, alpha = 4, 8.0
    x = rng.normal(size=(3, 16))
    trainable = r * (16 + 32) + r * (32 + 32) + r * (32 + 8)

    def replaced(vals, err):
        if vals is None:
            return failed(err)
        counts, before, after = value(vals[0]), as_array(vals[1]), as_array(vals[2])
        share, notes = F(0), []
        if isinstance(counts, dict) and counts.get("lora_layers") == 3:
            share += F(1, 3)
        else:
            notes.append(f"expected 3 LoRALayer modules (every nn.Linear, nested too), found "
                         f"{counts.get('lora_layers') if isinstance(counts, dict) else counts!r}")
        if isinstance(counts, dict) and counts.get("trainable") == trainable:
            share += F(1, 3)
        else:
            notes.append(f"trainable parameters {counts.get('trainable') if isinstance(counts, dict) else '?'}, "
                         f"expected {trainable} (only lora_A and lora_B; the base frozen)")
        if close(after, before, rtol=1e-5, atol=1e-6):
            share += F(1, 3)
        else:
            notes.append("the output changed at initialisation: B must start at zero")
        return share, "; ".join(notes) or "3 layers replaced, only LoRA trainable, output identical at init"

    A, B = rng.normal(size=(r, 16)) * 0.3, rng.normal(size=(8, r)) * 0.3
    W, b = rng.normal(size=(8, 16)), rng.normal(size=(8,))
    expected = x @ W.T + b + (alpha / r) * x @ A.T @ B.T

    def forward(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if close(y, expected, rtol=1e-4, atol=1e-5):
            return FULL, "base(x) + (alpha/r)·x Aᵀ Bᵀ"
        if close(y, x @ W.T + b + x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, "the LoRA path is not scaled by alpha/r"
        if close(y, x @ W.T + b + alpha * x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, "output is exactly alpha× the LoRA path: scaling should be alpha/r"
        return NONE, f"got {shape_text(y)}; expected base(x) + (alpha/r)·x Aᵀ Bᵀ"

    def init(vals, err):
        if vals is None:
            return failed(err)
        Aa, Bb = as_array(vals[0]), as_array(vals[1])
        if Aa is None or Bb is None or Aa.shape != (r, 16) or Bb.shape != (8, r):
            return NONE, f"lora_A {shape_text(Aa)} (expected ({r}, 16)), lora_B {shape_text(Bb)} (expected (8, {r}))"
        if Bb.any():
            return NONE, "lora_B must be zero at initialisation"
        if not Aa.std() > 0:
            return NONE, "lora_A must be random (Gaussian)"
        return FULL, "lora_A random, lora_B zero"

    layer = [{"op": "exec", "helper": "seed", "args": [5]}, {"op": "exec", "helper": "linear", "args": ["lin", 16, 8]},
             {"op": "new", "cls": "LoRALayer", "args": [{"ref": "lin"}], "kwargs": {"r": r, "alpha": alpha},
              "store": "L"}]
    return [
        CodeCheck("24.11.replace", "24.11", "replace every nn.Linear; identical output at init", F(3),
                  [*torch_model(1), {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
                   {"op": "exec", "helper": "call_model", "args": ["model", "x", "y0"]},
                   {"op": "call", "func": "replace_linear_with_lora", "args": [{"ref": "model"}],
                    "kwargs": {"r": r, "alpha": alpha}, "store": "model2"},
                   {"op": "exec", "helper": "count_modules", "args": ["model2", "counts"]},
                   {"op": "exec", "helper": "call_model", "args": ["model2", "x", "y1"]},
                   {"op": "return", "ref": "counts"}, {"op": "return", "ref": "y0"}, {"op": "return", "ref": "y1"}],
                  replaced),
        CodeCheck("24.11.init", "24.11", "lora_A Gaussian, lora_B zero", F(1),
                  [*layer, {"op": "get", "obj": "L", "attr": "lora_A", "store": "A"},
                   {"op": "get", "obj": "L", "attr": "lora_B", "store": "B"},
                   {"op": "return", "ref": "A"}, {"op": "return", "ref": "B"}], init),
        CodeCheck("24.11.forward", "24.11", "forward = Wx + (alpha/r)·BAx", F(2),
                  [*layer, {"op": "exec", "helper": "set_param", "args": ["lin", "weight", tensor(W)]},
                   {"op": "exec", "helper": "set_param", "args": ["lin", "bias", tensor(b)]},
                   {"op": "exec", "helper": "set_param", "args": ["L", "lora_A", tensor(A)]},
                   {"op": "exec", "helper": "set_param", "args": ["L", "lora_B", tensor(B)]},
                   {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
                   {"op": "exec", "helper": "call_model", "args": ["L", "x", "y"]}, {"op": "return", "ref": "y"}],
                  forward),
    ]


EXERCISE = Exercise("24.11", "LoRALayer and replace_linear_with_lora", SPEC, _lora)

"""Exercise 24.11: LoRALayer and replace_linear_with_lora (seed 002, torch).

Seed 002 states the exercise but no signature; Lesson 19 (seed 004) gives its own LoRA code, which students
build on. Both readings are accepted: the harness detects which one a submission follows (grader/sandbox/ops.py:
wrap_linear_with_lora, apply_lora) and the feedback names the one graded.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, as_array, close, failed, shape_text, tensor, value
from grader.assignments.chapter24.plan import torch_model

F = Fraction

SPEC = """\
Parameters lora_A (r × in_features, A ~ N(0, σ²)) and lora_B (out_features × r, zeros); the layer's
output is base(x) + (alpha/r) · x Aᵀ Bᵀ. Two readings of the layer are accepted, told apart by
LoRALayer's signature:
  Chapter 24's (seed 002): class LoRALayer(nn.Module) with __init__(self, base: nn.Linear, r=8,
    alpha=16), holding lora_A and lora_B; forward(x) returns the whole output.
  Lesson 19's (seed 004): LoRALayer(in_features, out_features, rank, alpha, dropout) holds lora_A and
    lora_B and returns the LoRA path alone; LinearWithLoRA(linear, rank, alpha) wraps the nn.Linear
    with one in .lora and returns linear(x) + lora(x). (Lesson 19's listing calls math.sqrt without
    importing math: add `import math`.)
The rank's keyword may be r or rank, alpha's alpha or lora_alpha: the grader reads the signature.
replace_linear_with_lora(model, r=8, alpha=16) — or Lesson 19's apply_lora_to_model(model, rank, alpha,
target_modules), given target_modules = the names of every nn.Linear in the model — replaces every
nn.Linear (nested too), freezes everything but lora_A/lora_B, and returns the model (None: changed in
place). The feedback names the reading graded.
"""

LAYER_READINGS = {"002": "Chapter 24's reading (seed 002): LoRALayer(base, {kw})",
                  "004": "Lesson 19's reading (seed 004): LinearWithLoRA(linear, {kw}) around "
                         "LoRALayer(in_features, out_features, rank, alpha, dropout)"}
FUNCTION_READINGS = {"replace_linear_with_lora": "replace_linear_with_lora(model, {kw})",
                     "apply_lora_to_model": "Lesson 19's apply_lora_to_model(model, {kw}) (seed 004), "
                                            "target_modules = every nn.Linear"}
KEYWORDS = ("r", "rank", "alpha", "lora_alpha", "target_modules")


def reading_data(encoded: Any) -> dict[str, Any]:
    """A reading helper's record (plain data from the submission's process) as a dict, {} if it is not one."""
    got = value(encoded)
    return got if isinstance(got, dict) else {}


def _keywords(used: dict[str, Any]) -> str:
    names = used.get("keywords")
    names = [n for n in names if n in KEYWORDS] if isinstance(names, list) else []
    return ", ".join(f"{n}=…" for n in names)


def layer_reading(encoded: Any) -> str:
    used = reading_data(encoded)
    form = LAYER_READINGS.get(used.get("seed")) if isinstance(used.get("seed"), str) else None
    return f" (graded {form.format(kw=_keywords(used))})" if form else ""


def function_form(encoded: Any) -> str:
    """Which LoRA-applying function was called and how ("" if the record is not one of the candidates)."""
    used = reading_data(encoded)
    form = FUNCTION_READINGS.get(used.get("name")) if isinstance(used.get("name"), str) else None
    if not form:
        return ""
    also = [a for a in used.get("also", []) if a in FUNCTION_READINGS] if isinstance(used.get("also"), list) else []
    both = f"; both {used['name']} and {also[0]} are defined: graded {used['name']}" if also else ""
    in_place = "; it returned None: the model it changed in place was graded" if used.get("in_place") is True else ""
    return f"{form.format(kw=_keywords(used))}{both}{in_place}"


def function_reading(encoded: Any) -> str:
    form = function_form(encoded)
    return f" (graded {form})" if form else ""


def apply_lora(model: str, r: int, alpha: float, store: str) -> dict[str, Any]:
    """The op that puts LoRA on every nn.Linear of ``model`` through the submission's function (either
    reading); what it called is stored under ``store + "_reading"``."""
    return {"op": "exec", "helper": "apply_lora", "args": [model, r, alpha, store, f"{store}_reading"]}


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
        if before is not None and close(after, before, rtol=1e-5, atol=1e-6):
            share += F(1, 3)
        else:
            notes.append("the output changed at initialisation: B must start at zero")
        graded = function_reading(vals[3])
        return share, ("; ".join(notes) or "3 layers replaced, only LoRA trainable, output identical at init") + graded

    A, B = rng.normal(size=(r, 16)) * 0.3, rng.normal(size=(8, r)) * 0.3
    W, b = rng.normal(size=(8, 16)), rng.normal(size=(8,))
    expected = x @ W.T + b + (alpha / r) * x @ A.T @ B.T

    def forward(vals, err):
        if vals is None:
            return failed(err)
        y, graded = as_array(vals[0]), layer_reading(vals[1])
        if close(y, expected, rtol=1e-4, atol=1e-5):
            return FULL, f"base(x) + (alpha/r)·x Aᵀ Bᵀ{graded}"
        if close(y, x @ W.T + b + x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, f"the LoRA path is not scaled by alpha/r{graded}"
        if close(y, x @ W.T + b + alpha * x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, f"output is exactly alpha× the LoRA path: scaling should be alpha/r{graded}"
        if close(y, (alpha / r) * x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, f"the output is the LoRA path alone: add the base layer's output base(x){graded}"
        return NONE, f"got {shape_text(y)}; expected base(x) + (alpha/r)·x Aᵀ Bᵀ{graded}"

    def init(vals, err):
        if vals is None:
            return failed(err)
        Aa, Bb, graded = as_array(vals[0]), as_array(vals[1]), layer_reading(vals[2])
        if Aa is None or Bb is None or Aa.shape != (r, 16) or Bb.shape != (8, r):
            return NONE, (f"lora_A {shape_text(Aa)} (expected ({r}, 16)), lora_B {shape_text(Bb)} "
                          f"(expected (8, {r})){graded}")
        if Bb.any():
            return NONE, f"lora_B must be zero at initialisation{graded}"
        if not Aa.std() > 0:
            return NONE, f"lora_A must be random (Gaussian){graded}"
        return FULL, f"lora_A random, lora_B zero{graded}"

    # "L" is the layer (Chapter 24's LoRALayer or Lesson 19's LinearWithLoRA), "LA" the module holding lora_A/B
    layer = [{"op": "exec", "helper": "seed", "args": [5]}, {"op": "exec", "helper": "linear", "args": ["lin", 16, 8]},
             {"op": "exec", "helper": "wrap_linear_with_lora", "args": ["lin", r, alpha, "L", "LA", "reading"]}]
    return [
        CodeCheck("24.11.replace", "24.11", "replace every nn.Linear; identical output at init", F(3),
                  [*torch_model(1), {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
                   {"op": "exec", "helper": "call_model", "args": ["model", "x", "y0"]},
                   apply_lora("model", r, alpha, "model2"),
                   {"op": "exec", "helper": "count_modules", "args": ["model2", "counts"]},
                   {"op": "exec", "helper": "call_model", "args": ["model2", "x", "y1"]},
                   *[{"op": "return", "ref": n} for n in ("counts", "y0", "y1", "model2_reading")]],
                  replaced),
        CodeCheck("24.11.init", "24.11", "lora_A Gaussian, lora_B zero", F(1),
                  [*layer, {"op": "get", "obj": "LA", "attr": "lora_A", "store": "A"},
                   {"op": "get", "obj": "LA", "attr": "lora_B", "store": "B"},
                   *[{"op": "return", "ref": n} for n in ("A", "B", "reading")]], init),
        CodeCheck("24.11.forward", "24.11", "forward = Wx + (alpha/r)·BAx", F(2),
                  [*layer, {"op": "exec", "helper": "set_param", "args": ["lin", "weight", tensor(W)]},
                   {"op": "exec", "helper": "set_param", "args": ["lin", "bias", tensor(b)]},
                   {"op": "exec", "helper": "set_param", "args": ["LA", "lora_A", tensor(A)]},
                   {"op": "exec", "helper": "set_param", "args": ["LA", "lora_B", tensor(B)]},
                   {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
                   {"op": "exec", "helper": "call_model", "args": ["L", "x", "y"]},
                   {"op": "return", "ref": "y"}, {"op": "return", "ref": "reading"}], forward),
    ]


EXERCISE = Exercise("24.11", "LoRALayer and replace_linear_with_lora", SPEC, _lora)

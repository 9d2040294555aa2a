"""Exercise 9.5: LoRALayer: init, forward, merge (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, diagnose, failed, shape_text, value
from grader.assignments.stage9.plan import new_lora_layer, reading_used, returns

F = Fraction

SPEC = """\
LoRALayer(in_features, out_features, rank=8, alpha=16): attributes A (rank × in_features, Gaussian),
B (out_features × rank, zeros), scaling = alpha / rank. Rows are tokens: forward(x, W) returns
x @ W.T + scaling * (x @ A.T @ B.T) for x of shape [..., in_features] (2-D or 3-D) and W of shape
[out_features, in_features]; merge(W) returns W + scaling * B @ A. The grader sets A and B.
Accepted readings of the merge method's name: merge(W) (the exercise, seeds 000/001) or merge_weights(W)
(Section 9.6's reference code, seed 003); the grader calls the one the class defines (merge if it defines
both) and names it in the feedback.
"""

# the merge method's names, in the grader's order of preference → the reading named in the feedback
MERGE_READINGS = {"merge": "merge(W), the exercise's name (seeds 000/001)",
                  "merge_weights": "merge_weights(W), Section 9.6's name (seed 003)"}


def merge_reading(encoded) -> str:
    """The feedback's note on which merge method was graded (plain data, checked against the candidates)."""
    used = reading_used(encoded)
    name = used.get("name")
    if name not in MERGE_READINGS:
        return ""
    also = [a for a in used.get("also", []) if a in MERGE_READINGS]
    both = f"; the class defines {' and '.join([name, *also])}: graded {name}" if also else ""
    return f" (graded {MERGE_READINGS[name]}{both})"


def _lora_layer(rng: np.random.Generator) -> list[CodeCheck]:
    d_in, d_out, r, alpha = 24, 16, 4, 8.0
    s = alpha / r

    def init(vals, err):
        if vals is None:
            return failed(err)
        A, B, scaling = as_array(vals[0]), as_array(vals[1]), value(vals[2])
        notes, share = [], F(0)
        if A is not None and A.shape == (r, d_in):
            share += F(1, 4)
        else:
            notes.append(f"A has {shape_text(A)}, expected ({r}, {d_in}) = (rank, in_features)")
        if B is not None and B.shape == (d_out, r) and not B.any():
            share += F(1, 4)
        elif B is not None and B.shape == (d_out, r):
            notes.append("B must start at zero (so that ΔW = BA = 0 and the layer starts as the pre-trained one)")
        else:
            notes.append(f"B has {shape_text(B)}, expected ({d_out}, {r}) = (out_features, rank)")
        if A is not None and A.size > 1 and A.std() > 0 and abs(A.mean()) < 3 * A.std() / np.sqrt(A.size) + 0.5:
            share += F(1, 4)
        else:
            notes.append("A must be random (Gaussian): a constant or zero A gives B no gradient")
        if isinstance(scaling, (int, float)) and abs(scaling - s) < 1e-9:
            share += F(1, 4)
        else:
            notes.append(f"scaling is {scaling!r}, expected alpha / rank = {alpha:g}/{r} = {s:g}")
        return share, "; ".join(notes) or "A, B and scaling initialised as specified"

    out = [CodeCheck("9.5.init", "9.5", "init: shapes, B = 0, A Gaussian, scaling = alpha/rank", F(4),
                     [{"op": "exec", "helper": "seed", "args": [int(rng.integers(1 << 30))]},
                      new_lora_layer(d_in, d_out, r, alpha), {"op": "get", "obj": "layer", "attr": "A", "store": "A"},
                      {"op": "get", "obj": "layer", "attr": "B", "store": "B"},
                      {"op": "get", "obj": "layer", "attr": "scaling", "store": "s"}, *returns("A", "B", "s")],
                     init)]
    W = rng.normal(size=(d_out, d_out))
    A, B = rng.normal(size=(r, d_out)), rng.normal(size=(d_out, r))
    for name, x in (("3-D", rng.normal(size=(2, 5, d_out))), ("2-D", rng.normal(size=(7, d_out)))):
        base, lora = x @ W.T, x @ A.T @ B.T
        candidates = {
            "output is exactly alpha× the LoRA path: scaling should be alpha/rank, not alpha": base + alpha * lora,
            "the LoRA path is not scaled: multiply it by scaling = alpha/rank": base + lora,
            "the LoRA path is missing: add scaling · x Aᵀ Bᵀ": base,
            "the base path is missing: the output must include x Wᵀ": s * lora,
            "W is not transposed: rows are tokens, so use x @ W.T": x @ W + s * lora,
        }

        def forward(vals, err, expected=base + s * lora, candidates=candidates):
            if vals is None:
                return failed(err)
            return diagnose(as_array(vals[0]), expected, candidates, right="matches the reference",
                            wrong="values differ from Wx + scaling·BAx",
                            wrong_shape=f"got {{got}}, expected {tuple(expected.shape)}")

        out.append(CodeCheck(f"9.5.forward.{name}", "9.5", f"forward, {name} input", F(2) if name == "3-D" else F(1),
                             [new_lora_layer(d_out, d_out, r, alpha), {"op": "set", "obj": "layer", "attr": "A",
                                                                  "value": arr(A)},
                              {"op": "set", "obj": "layer", "attr": "B", "value": arr(B)},
                              {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x), arr(W)],
                               "store": "y"}, *returns("y")], forward))
    x = rng.normal(size=(3, 4, d_out))

    def identity(vals, err, expected=x @ W.T):
        if vals is None:
            return failed(err)
        return (FULL, "unchanged at init") if close(as_array(vals[0]), expected) else (
            NONE, "at init (B = 0) forward must equal x Wᵀ exactly")

    out.append(CodeCheck("9.5.identity", "9.5", "identity at init", F(1),
                         [new_lora_layer(d_out, d_out, r, alpha),
                          {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x), arr(W)], "store": "y"},
                          *returns("y")], identity))

    def merge(vals, err, W=W, A=A, B=B, x=x):
        if vals is None:
            return failed(err)
        merged, graded = as_array(vals[0]), merge_reading(vals[2])
        expected = W + s * B @ A
        if close(merged, expected):
            unmerged = as_array(vals[1])
            if close(unmerged, x @ merged.T):
                return FULL, f"W + scaling·BA; merged forward equals the LoRA forward{graded}"
            return F(1, 2), f"merge is right but forward with the same A, B disagrees with the merged weight{graded}"
        if close(merged, W + B @ A):
            return NONE, f"merge forgets the scaling: W + (alpha/rank)·B @ A{graded}"
        if close(merged, W + alpha * B @ A):
            return NONE, f"merge uses alpha instead of alpha/rank{graded}"
        return NONE, f"merge gave {shape_text(merged)}; expected W + scaling·B @ A of shape {W.shape}{graded}"

    out.append(CodeCheck("9.5.merge", "9.5", "merge(W) and merged == unmerged", F(3),
                         [new_lora_layer(d_out, d_out, r, alpha), {"op": "set", "obj": "layer", "attr": "A", "value": arr(A)},
                          {"op": "set", "obj": "layer", "attr": "B", "value": arr(B)},
                          {"op": "exec", "helper": "call_reading",
                           "args": ["layer", list(MERGE_READINGS), [arr(W)], "m", "merge_reading"]},
                          {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x), arr(W)], "store": "y"},
                          *returns("m", "y", "merge_reading")], merge))
    return out


EXERCISE = Exercise("9.5", "LoRALayer: init, forward, merge", SPEC, _lora_layer)

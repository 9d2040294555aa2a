"""Exercise 9.9: LoRAMultiHeadAttention: count, merge (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text, value
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
LoRAMultiHeadAttention(d_model, n_heads, rank=8, target_modules=['q','v']): forward(x) returns
[batch, seq, d_model]; merge_lora() must not change the output; count_trainable_params() counts
LoRA's A and B only: len(target_modules) · rank · 2 · d_model. LoRA B matrices are the zero
arrays of shape (d_model × rank) that the grader perturbs before merging.
"""


def _mha(rng: np.random.Generator) -> list[CodeCheck]:
    d, h, r = 16, 4, 2
    x = rng.normal(size=(2, 5, d))
    out = []
    for targets in (["q", "v"], ["q", "k", "v", "o"]):
        expected = len(targets) * r * 2 * d

        def count(vals, err, expected=expected, targets=targets):
            if vals is None:
                return failed(err)
            got = value(vals[0])
            if isinstance(got, (int, float)) and got == expected:
                return FULL, f"{expected} = {len(targets)} targets × rank {r} × 2·d_model"
            return NONE, f"count_trainable_params() = {got!r}, expected {expected} (LoRA A and B only)"

        out.append(CodeCheck(f"9.9.count.{''.join(targets)}", "9.9", f"count_trainable_params, targets {targets}", F(1),
                             [{"op": "new", "cls": "LoRAMultiHeadAttention", "args": [d, h],
                               "kwargs": {"rank": r, "target_modules": targets}, "store": "m"},
                              {"op": "call", "obj": "m", "func": "count_trainable_params", "store": "n"}, *returns("n")],
                             count))

    def merge(vals, err):
        if vals is None:
            return failed(err)
        before, after = as_array(vals[0]), as_array(vals[1])
        if before is None or before.shape != x.shape:
            return NONE, f"forward returned {shape_text(before)}, expected {x.shape}"
        if value(vals[2]) == 0:
            return F(1, 2), "no zero-initialised LoRA B of shape (d_model, rank) found to perturb: cannot check merging"
        at_init = as_array(vals[3])
        if at_init is None or close(at_init, before, rtol=1e-9, atol=1e-12) or close(before, x, rtol=1e-9, atol=1e-12):
            # an output the LoRA B matrices do not move (or the input itself) is kept by any merge
            return NONE, ("forward ignores the LoRA path: giving the zero B matrices values must change the output "
                          "(Q and V are W x + scaling·B A x)")
        if close(after, before, rtol=1e-5, atol=1e-7):
            return FULL, "output unchanged by merge_lora()"
        return F(1, 3), "merge_lora() changes the output: the merged weights must equal W + scaling·BA"

    out.append(CodeCheck("9.9.merge", "9.9", "forward shape; merge_lora keeps the output", F(2),
                         [{"op": "exec", "helper": "seed", "args": [3]},
                          {"op": "new", "cls": "LoRAMultiHeadAttention", "args": [d, h], "kwargs": {"rank": r},
                           "store": "m"},
                          {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y_init"},
                          {"op": "exec", "helper": "perturb_zero_arrays", "args": ["m", [d, r], 7, "perturbed"]},
                          {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y0"},
                          {"op": "call", "obj": "m", "func": "merge_lora"},
                          {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y1"},
                          *returns("y0", "y1", "perturbed", "y_init")], merge))
    return out


EXERCISE = Exercise("9.9", "LoRAMultiHeadAttention: count, merge", SPEC, _mha)

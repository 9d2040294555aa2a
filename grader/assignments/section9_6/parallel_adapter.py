"""Exercise 9.6.3: parallel adapters (seed 003: "Adapter variants: implement parallel adapters").

He et al. 2022, "Towards a Unified View of Parameter-Efficient Transfer Learning" (ICLR 2022,
arXiv:2110.04366), Fig. 3: a sequential adapter (Houlsby et al. 2019; seed 003's ``Adapter``) reads the
sublayer's output h and returns h + f(h W_down) W_up; a parallel adapter reads the sublayer's *input* x
and adds f(x W_down) W_up to its output, and the scaled parallel adapter multiplies that by a scale s.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.section9_6.judging import complete, number
from grader.assignments.section9_6.plan import returns
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text

F = Fraction

SPEC = """\
ParallelAdapter(d_model, bottleneck_dim=64, scale=1.0): seed 003's Adapter (W_down: d_model ×
bottleneck_dim, W_up: bottleneck_dim × d_model — or transposed, the grader adapts; optional biases
b_down, b_up, set to 0 by the grader) placed in parallel with a sublayer (He et al. 2022, "Towards a
Unified View of Parameter-Efficient Transfer Learning"):
  forward(x, sublayer_out) = sublayer_out + scale · relu(x @ W_down) @ W_up
x is the sublayer's input, sublayer_out its output (both [..., d_model]). The sequential Adapter of
seed 003 reads the sublayer's output instead: sublayer_out + relu(sublayer_out @ W_down) @ W_up.
num_parameters() = 2 · d_model · bottleneck_dim (+ d_model + bottleneck_dim with biases).
"""


def _parallel(rng: np.random.Generator) -> list[CodeCheck]:
    d, m, scale = 8, 3, 4.0
    Wd, Wu = rng.normal(size=(d, m)), rng.normal(size=(m, d))
    x, sub = rng.normal(size=(2, 3, d)), rng.normal(size=(2, 3, d))

    def adapter(inp: np.ndarray, up: np.ndarray = Wu) -> np.ndarray:
        return np.maximum(inp @ Wd, 0.0) @ up

    def ops(kwargs: dict, W_up: np.ndarray = Wu) -> list[dict]:
        return [{"op": "new", "cls": "ParallelAdapter", "args": [d], "kwargs": {"bottleneck_dim": m, **kwargs},
                 "store": "pa"},
                {"op": "exec", "helper": "set_fit", "args": ["pa", "W_down", arr(Wd)]},
                {"op": "exec", "helper": "set_fit", "args": ["pa", "W_up", arr(W_up)]},
                {"op": "exec", "helper": "zero_if_present", "args": ["pa", ["b_down", "b_up"]]},
                {"op": "call", "obj": "pa", "func": "forward", "args": [arr(x), arr(sub)], "store": "y"}, *returns("y")]

    def forward_judge(s: float):
        expected = sub + s * adapter(x)
        candidates = {
            "the adapter reads the sublayer's output (the sequential placement of seed 003's Adapter); a parallel "
            "adapter reads the sublayer's input: sublayer_out + scale · adapter(x)": sub + s * adapter(sub),
            "the adapter's output is added to x; a parallel adapter adds it to the sublayer's output":
                x + s * adapter(x),
            "x is added as well: the residual x is the transformer's own, outside the adapter":
                x + sub + s * adapter(x),
            "the sublayer's output is missing: return sublayer_out + scale · adapter(x)": s * adapter(x),
            "the ReLU is missing between the down and up projections": sub + s * (x @ Wd) @ Wu,
        }
        if s != 1.0:
            candidates["the adapter's output is not multiplied by scale"] = sub + adapter(x)

        def judge(vals, err):
            if not complete(vals, 1):
                return failed(err)
            y = as_array(vals[0])
            if close(y, expected):
                return FULL, f"sublayer_out + {s:g} · relu(x W_down) W_up"
            for why, cand in candidates.items():
                if close(y, cand):
                    return NONE, why
            return NONE, (f"got {shape_text(y)}, expected {expected.shape}" if y is None or y.shape != expected.shape
                          else "values differ from sublayer_out + scale · relu(x W_down) W_up")
        return judge

    def identity(vals, err):
        if not complete(vals, 1):
            return failed(err)
        return (FULL, "W_up = 0 leaves the sublayer's output unchanged") if close(as_array(vals[0]), sub) else (
            NONE, "with W_up = 0 the parallel adapter must return sublayer_out unchanged")

    accepted = (2 * d * m, 2 * d * m + d + m)  # without or with the biases

    def count(vals, err):
        if not complete(vals, 1):
            return failed(err)
        got = number(vals[0])
        if got in accepted:
            return FULL, f"{got} = 2 · d_model · bottleneck_dim{' + biases' if got != 2 * d * m else ''}"
        if got == d * m:
            return NONE, "counts one projection only: W_down and W_up are both trained"
        return NONE, f"num_parameters() = {got!r}, expected 2 · d_model · bottleneck_dim = {2 * d * m}"

    return [
        CodeCheck("9.6.3.forward", "9.6.3", f"forward, scale = {scale:g}", F(3), ops({"scale": scale}),
                  forward_judge(scale)),
        CodeCheck("9.6.3.default_scale", "9.6.3", "forward, default scale = 1", F(1), ops({}), forward_judge(1.0)),
        CodeCheck("9.6.3.identity", "9.6.3", "identity when W_up = 0", F(1), ops({"scale": scale}, np.zeros((m, d))),
                  identity),
        CodeCheck("9.6.3.count", "9.6.3", "num_parameters", F(1),
                  [{"op": "new", "cls": "ParallelAdapter", "args": [d], "kwargs": {"bottleneck_dim": m}, "store": "pa"},
                   {"op": "call", "obj": "pa", "func": "num_parameters", "store": "n"}, *returns("n")], count),
    ]


EXERCISE = Exercise("9.6.3", "Parallel adapters", SPEC, _parallel)

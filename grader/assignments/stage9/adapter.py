"""Exercise 9.7: Adapter: bottleneck with residual (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text
from grader.assignments.stage9.plan import reading_used, returns

F = Fraction

SPEC = """\
Adapter(d_model, bottleneck=64): attributes W_down and W_up, stored as (d_model × bottleneck) and
(bottleneck × d_model) — or transposed, the grader adapts; optional biases b_down, b_up (set to 0).
forward(x) = x + relu(x W_down) W_up.
Accepted readings of the bottleneck's keyword: Adapter(d_model, bottleneck=…) (the exercise, seeds 000/001)
or Adapter(d_model, bottleneck_dim=…) (Section 9.6's reference code, seed 003); the grader passes the one
the constructor's signature takes (bottleneck if it takes both) and names it in the feedback.
"""

# the bottleneck's keywords, in the grader's order of preference → the reading named in the feedback
BOTTLENECK_READINGS = {"bottleneck": "Adapter(d_model, bottleneck), the exercise's keyword (seeds 000/001)",
                       "bottleneck_dim": "Adapter(d_model, bottleneck_dim), Section 9.6's keyword (seed 003)"}


def bottleneck_reading(encoded) -> str:
    name = reading_used(encoded).get("bottleneck")
    return f" (graded {BOTTLENECK_READINGS[name]})" if name in BOTTLENECK_READINGS else ""


def _adapter(rng: np.random.Generator) -> list[CodeCheck]:
    d, m = 16, 4
    Wd, Wu = rng.normal(size=(d, m)), rng.normal(size=(m, d))
    x = rng.normal(size=(2, 3, d))
    expected = x + np.maximum(x @ Wd, 0) @ Wu
    ops = [{"op": "exec", "helper": "new_reading",
            "args": ["Adapter", [d], {}, [[m, list(BOTTLENECK_READINGS)]], "ad", "reading"]},
           {"op": "exec", "helper": "set_fit", "args": ["ad", "W_down", arr(Wd)]},
           {"op": "exec", "helper": "set_fit", "args": ["ad", "W_up", arr(Wu)]},
           {"op": "exec", "helper": "zero_if_present", "args": ["ad", ["b_down", "b_up"]]},
           {"op": "call", "obj": "ad", "func": "forward", "args": [arr(x)], "store": "y"}, *returns("y", "reading")]

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y, graded = as_array(vals[0]), bottleneck_reading(vals[1])
        if close(y, expected):
            return FULL, f"x + relu(x W_down) W_up{graded}"
        if close(y, np.maximum(x @ Wd, 0) @ Wu):
            return NONE, f"the residual is missing: return x + up(relu(down(x))){graded}"
        if close(y, x + (x @ Wd) @ Wu):
            return NONE, f"the ReLU is missing between the down and up projections{graded}"
        return NONE, f"got {shape_text(y)}; expected x + relu(x W_down) W_up of shape {expected.shape}{graded}"

    zero_up = [op if op.get("args", [None, None])[1:2] != ["W_up"] else
               {"op": "exec", "helper": "set_fit", "args": ["ad", "W_up", arr(np.zeros((m, d)))]} for op in ops]

    def identity(vals, err):
        if vals is None:
            return failed(err)
        graded = bottleneck_reading(vals[1])
        return (FULL, f"identity when W_up = 0{graded}") if close(as_array(vals[0]), x) else (
            NONE, f"with W_up = 0 the adapter must return its input (the residual path){graded}")

    return [CodeCheck("9.7.forward", "9.7", "forward", F(2), ops, judge),
            CodeCheck("9.7.identity", "9.7", "identity when W_up = 0", F(1), zero_up, identity)]


EXERCISE = Exercise("9.7", "Adapter: bottleneck with residual", SPEC, _adapter)

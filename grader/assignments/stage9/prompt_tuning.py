"""Exercise 9.8: PromptTuning: prepend the soft prompt (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
PromptTuning(d_model, prompt_length=20): the soft prompt is the one array attribute of shape
(prompt_length × d_model); forward prepends it to every sequence of the batch.
"""


def _prompt(rng: np.random.Generator) -> list[CodeCheck]:
    d, p = 8, 3
    P = rng.normal(size=(p, d))
    x = rng.normal(size=(2, 5, d))
    ops = [{"op": "new", "cls": "PromptTuning", "args": [d], "kwargs": {"prompt_length": p}, "store": "pt"},
           {"op": "exec", "helper": "set_array_of_shape", "args": ["pt", [p, d], arr(P)]},
           {"op": "call", "obj": "pt", "func": "forward", "args": [arr(x)], "store": "y"}, *returns("y")]

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if y is None or y.shape != (2, p + 5, d):
            return NONE, f"output has {shape_text(y)}, expected (batch, prompt_length + seq, d) = (2, {p + 5}, {d})"
        expected = np.concatenate([np.broadcast_to(P, (2, p, d)), x], axis=1)
        if close(y, expected):
            return FULL, "soft prompt prepended to every sequence"
        if close(y, np.concatenate([x, np.broadcast_to(P, (2, p, d))], axis=1)):
            return F(1, 3), "the prompt is appended; it must be prepended (before the input tokens)"
        return F(1, 3), "right shape, but the first prompt_length positions are not the soft prompt"

    return [CodeCheck("9.8.forward", "9.8", "prepend the soft prompt", F(3), ops, judge)]


EXERCISE = Exercise("9.8", "PromptTuning: prepend the soft prompt", SPEC, _prompt)

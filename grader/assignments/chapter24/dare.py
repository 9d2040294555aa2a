"""Exercise 24.26: DARE: drop and rescale (seed 002, torch)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, NONE, as_array, failed, shape_text, tensor

F = Fraction

SPEC = """\
dare(delta, p, seed=0): drop each entry with probability p, rescale the kept ones by 1/(1 - p);
the same seed gives the same result.
"""


def _dare(rng: np.random.Generator) -> list[CodeCheck]:
    delta = rng.normal(size=(4000,)) + 0.1
    p = 0.3

    def judge(vals, err):
        if vals is None:
            return failed(err)
        a, b = as_array(vals[0]), as_array(vals[1])
        if a is None or a.shape != delta.shape:
            return NONE, f"got {shape_text(a)}, expected {delta.shape}"
        share, notes = F(0), []
        dropped = float(np.mean(a == 0))
        # binomial: 4000 draws, sd ≈ 0.0072; 5 sd
        if abs(dropped - p) <= 0.04:
            share += F(1, 4)
        else:
            notes.append(f"{dropped:.1%} of entries dropped, expected p = {p:.0%}")
        kept = a != 0
        if kept.any() and np.allclose(a[kept], delta[kept] / (1 - p), rtol=1e-5):
            share += F(1, 2)
        elif kept.any() and np.allclose(a[kept], delta[kept], rtol=1e-5):
            notes.append("kept entries are not rescaled by 1/(1 - p)")
        else:
            notes.append("kept entries must equal delta / (1 - p)")
        if b is not None and np.array_equal(a, b):
            share += F(1, 4)
        else:
            notes.append("the same seed must give the same result")
        return share, "; ".join(notes) or f"drops {dropped:.1%} ≈ p, rescales by 1/(1-p), reproducible"

    call = {"op": "call", "func": "dare", "args": [tensor(delta), p], "kwargs": {"seed": 7}}
    return [CodeCheck("24.26.dare", "24.26", "DARE: drop with p, rescale, seeded", F(3),
                      [{**call, "store": "a"}, {**call, "store": "b"}, {"op": "return", "ref": "a"},
                       {"op": "return", "ref": "b"}], judge)]


EXERCISE = Exercise("24.26", "DARE: drop and rescale", SPEC, _dare)

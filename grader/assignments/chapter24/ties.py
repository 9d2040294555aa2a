"""Exercise 24.21: TIES-Merging (seed 002, torch)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, as_array, close, failed, shape_text, tensor

F = Fraction

SPEC = """\
ties_merge(task_vectors, density=0.2, lam=1.0): trim each vector to its top density fraction by
magnitude, elect the sign of the sum of the trimmed vectors, average the entries that agree with it
(disjoint mean), times lam.
"""


def ties_reference(tvs: np.ndarray, density: float, lam: float) -> np.ndarray:
    k = max(1, int(round(density * tvs.shape[1])))
    trimmed = np.zeros_like(tvs)
    for i, v in enumerate(tvs):
        keep = np.argsort(-np.abs(v), kind="stable")[:k]
        trimmed[i, keep] = v[keep]
    sign = np.sign(trimmed.sum(axis=0))
    agree = (np.sign(trimmed) == sign) & (trimmed != 0)
    return lam * (trimmed * agree).sum(axis=0) / np.maximum(agree.sum(axis=0), 1)


def _ties(rng: np.random.Generator) -> list[CodeCheck]:
    tvs = rng.normal(size=(3, 50))
    expected = ties_reference(tvs, 0.2, 1.0)

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if close(y, expected, rtol=1e-4, atol=1e-6):
            return FULL, "trim, elect, disjoint merge"
        if close(y, ties_reference(tvs, 1.0, 1.0), rtol=1e-4, atol=1e-6):
            return NONE, "nothing was trimmed: keep only the top density fraction of each vector by magnitude"
        if close(y, tvs.mean(axis=0), rtol=1e-4, atol=1e-6):
            return NONE, "this is a plain average: TIES trims, elects a sign per entry, and averages only agreeing entries"
        return NONE, f"got {shape_text(y)}; the TIES merge of the three vectors differs"

    return [CodeCheck("24.21.ties", "24.21", "TIES merge", F(3),
                      [{"op": "call", "func": "ties_merge", "args": [[tensor(v) for v in tvs]],
                        "kwargs": {"density": 0.2, "lam": 1.0}, "store": "y"}, {"op": "return", "ref": "y"}],
                      judge)]


EXERCISE = Exercise("24.21", "TIES-Merging", SPEC, _ties)

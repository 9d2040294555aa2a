"""Exercise 9.6: lora_backward: the LoRA path's gradients (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
lora_backward(grad_output, x, A, B, scaling) -> (grad_A, grad_B, grad_x) for h = scaling·x Aᵀ Bᵀ:
grad_A has A's shape, grad_B has B's shape; grad_x is the LoRA path's gradient (W is not passed).
x and grad_output may be 2-D or 3-D; gradients are summed over all tokens.
"""


def _backward(rng: np.random.Generator) -> list[CodeCheck]:
    d_in, d_out, r, s = 12, 10, 3, 2.5
    x, g = rng.normal(size=(2, 4, d_in)), rng.normal(size=(2, 4, d_out))
    A, B = rng.normal(size=(r, d_in)), rng.normal(size=(d_out, r))
    gf, xf = g.reshape(-1, d_out), x.reshape(-1, d_in)
    want = {"grad_A": s * (gf @ B).T @ xf, "grad_B": s * gf.T @ (xf @ A.T), "grad_x": s * g @ B @ A}

    def loss(A_: np.ndarray, B_: np.ndarray) -> float:
        return float(np.sum(g * (s * x @ A_.T @ B_.T)))

    def numeric(M: np.ndarray, which: str, eps: float = 1e-6) -> np.ndarray:
        grad = np.zeros_like(M)
        for idx in np.ndindex(M.shape):
            plus, minus = M.copy(), M.copy()
            plus[idx] += eps
            minus[idx] -= eps
            grad[idx] = ((loss(plus, B) - loss(minus, B)) if which == "A" else (loss(A, plus) - loss(A, minus))) / (2 * eps)
        return grad

    fd = {"grad_A": numeric(A, "A"), "grad_B": numeric(B, "B")}
    ops = [{"op": "call", "func": "lora_backward", "args": [arr(g), arr(x), arr(A), arr(B), s], "store": "out"},
           {"op": "index", "obj": "out", "key": 0, "store": "gA"}, {"op": "index", "obj": "out", "key": 1, "store": "gB"},
           {"op": "index", "obj": "out", "key": 2, "store": "gx"}, *returns("gA", "gB", "gx")]

    def judge_one(key: str, i: int):
        def judge(vals, err):
            if vals is None:
                return failed(err)
            got = as_array(vals[i])
            exp = want[key]
            if close(got, exp, rtol=1e-5):
                extra = " and agrees with finite differences" if key in fd and close(got, fd[key], rtol=1e-4, atol=1e-5) else ""
                return FULL, f"{key} correct{extra}"
            if got is not None and got.shape == exp.T.shape and got.shape != exp.shape:
                return NONE, f"{key} has shape {got.shape}, expected {exp.shape}: transposed"
            if got is not None and close(got * s, exp, rtol=1e-5):
                return NONE, f"{key} is exactly 1/scaling too small: the LoRA path is multiplied by scaling"
            if got is not None and got.shape != exp.shape:
                return NONE, f"{key} has shape {got.shape}, expected {exp.shape}"
            return NONE, f"{key} values are wrong (finite differences disagree)"
        return judge

    return [CodeCheck(f"9.6.{k}", "9.6", f"lora_backward: {k}", F(2) if k != "grad_x" else F(1), ops, judge_one(k, i)) for i, k in enumerate(("grad_A", "grad_B", "grad_x"))]


EXERCISE = Exercise("9.6", "lora_backward: the LoRA path's gradients", SPEC, _backward)

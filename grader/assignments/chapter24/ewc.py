"""Exercise 24.16: Elastic Weight Consolidation (seed 002, torch).

Kirkpatrick et al., "Overcoming catastrophic forgetting in neural networks" (PNAS 2017), eq. 3:
L(θ) = L_B(θ) + Σ_i (λ/2) F_i (θ_i − θ*_A,i)², F the diagonal of the Fisher information at θ*_A. The
empirical Fisher from N per-sample gradients is F = (1/N) Σ_n g_n ⊙ g_n: the mean of the squares, which the
square of the mean gradient underestimates (the mean of pre-training gradients is near zero at θ*).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, failed, tensor, value

F = Fraction

SPEC = """\
Gradients and parameters are dicts parameter name → torch tensor (any shapes).
fisher_diagonal(grads) -> dict name → tensor: the empirical diagonal Fisher, the mean over the N samples of
the squared gradients, F = (1/N) Σ_n g_n ⊙ g_n; grads is a list of N such dicts, one per sample.
ewc_penalty(params, old_params, fisher, lam) -> a scalar tensor (lam/2) · Σ_names Σ F ⊙ (θ − θ*)², θ the
current params, θ* the old_params (after pre-training) — λ/2 as in Kirkpatrick et al. (2017), eq. 3. It
must stay differentiable in params: the grader calls .backward() on it and reads params[name].grad, which
must be lam · F ⊙ (θ − θ*).
Not graded: (c) training curves with and without EWC, (d) the trade-off.
"""


def tensors(encoded: Any, like: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """A returned dict name → array with the names and shapes of ``like``, None otherwise."""
    got = value(encoded)
    if not isinstance(got, dict) or set(got) != set(like):
        return None
    if not all(isinstance(got[k], np.ndarray) and got[k].shape == like[k].shape for k in like):
        return None
    return got


def scalar(encoded: Any) -> float | None:
    v = value(encoded)
    if isinstance(v, np.ndarray) and v.size == 1:
        return float(v.reshape(()))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return None


def matches(got: dict[str, np.ndarray] | None, want: dict[str, np.ndarray], rtol: float = 1e-4) -> bool:
    return got is not None and all(np.allclose(got[k], want[k], rtol=rtol, atol=1e-6) for k in want)


def _ewc(rng: np.random.Generator) -> list[CodeCheck]:
    shapes = {"layer.weight": (3, 4), "layer.bias": (3,)}
    n = 6
    # a non-zero mean, so that the square of the mean and the mean of the squares differ
    grads = [{k: rng.normal(size=s) + 0.5 for k, s in shapes.items()} for _ in range(n)]
    stacked = {k: np.stack([g[k] for g in grads]) for k in shapes}
    fisher = {k: (v ** 2).mean(axis=0) for k, v in stacked.items()}
    wrong_fisher = {
        "the square of the mean gradient: the Fisher is the mean of the squared per-sample gradients, "
        "E[g²], not E[g]²": {k: v.mean(axis=0) ** 2 for k, v in stacked.items()},
        "the squares are summed over the samples: divide by N (the mean)": {k: (v ** 2).sum(axis=0)
                                                                            for k, v in stacked.items()},
        "the gradients are not squared: F = (1/N) Σ g ⊙ g": {k: v.mean(axis=0) for k, v in stacked.items()},
        "|g| instead of g²: F = (1/N) Σ g ⊙ g": {k: np.abs(v).mean(axis=0) for k, v in stacked.items()},
    }

    def judge_fisher(vals, err):
        if vals is None:
            return failed(err)
        got = tensors(vals[0], fisher)
        if got is None:
            return NONE, f"return a dict with the names {sorted(shapes)}, each a tensor of its parameter's shape"
        if matches(got, fisher):
            return FULL, "the mean of the squared per-sample gradients"
        for why, wrong in wrong_fisher.items():
            if matches(got, wrong):
                return (F(1, 2) if why.startswith("the squares are summed") else NONE), why
        return NONE, "F differs from (1/N) Σ_n g_n ⊙ g_n"

    theta = {k: rng.normal(size=s) for k, s in shapes.items()}
    star = {k: rng.normal(size=s) for k, s in shapes.items()}
    fish = {k: rng.uniform(0.1, 2.0, size=s) for k, s in shapes.items()}
    lam = float(rng.uniform(0.3, 0.9))
    quad = sum(float((fish[k] * (theta[k] - star[k]) ** 2).sum()) for k in shapes)
    wrong_penalty = [
        (lam * quad, F(1, 2),
         "this is λ·Σ F (θ − θ*)²: the penalty is (λ/2)·Σ F (θ − θ*)² (Kirkpatrick et al., eq. 3)"),
        (lam / 2 * sum(float((fish[k] * theta[k] ** 2).sum()) for k in shapes), NONE,
         "the penalty is on θ, not on its distance from the pre-trained θ*: use (θ − θ*)²"),
        (lam / 2 * sum(float(((theta[k] - star[k]) ** 2).sum()) for k in shapes), NONE,
         "the squared distance is not weighted by the Fisher: each parameter's pull is F_i"),
        (lam / 2 * sum(float((fish[k] * (theta[k] - star[k])).sum()) for k in shapes), NONE,
         "the distance is not squared: (θ − θ*)²"),
        (lam / 2 * sum(float((fish[k] * (theta[k] - star[k]) ** 2).mean()) for k in shapes), NONE,
         "a mean over the entries: the penalty sums over every parameter"),
    ]

    def judge_penalty(vals, err):
        if vals is None:
            return failed(err)
        got = scalar(vals[0])
        if got is None:
            return NONE, "ewc_penalty must return a scalar (a 0-d tensor)"
        if np.isclose(got, lam / 2 * quad, rtol=1e-4):
            return FULL, "(λ/2)·Σ F (θ − θ*)²"
        for want, share, why in wrong_penalty:
            if np.isclose(got, want, rtol=1e-4):
                return share, why
        return NONE, f"got {got:.6g}, expected (λ/2)·Σ F (θ − θ*)² = {lam / 2 * quad:.6g}"

    grad = {k: lam * fish[k] * (theta[k] - star[k]) for k in shapes}

    def judge_grad(vals, err):
        if vals is None:
            return failed(err)
        got = value(vals[0])
        if isinstance(got, str):
            return NONE, ("the penalty has no autograd graph: build it from params with torch operations (no "
                          ".item(), float() or numpy), so that the fine-tuning loss backpropagates through it")
        if isinstance(got, dict) and any(got.get(k) is None for k in shapes):
            return NONE, "some params got no gradient: the penalty must depend on every parameter in params"
        found = tensors(vals[0], grad)
        if matches(found, grad):
            return FULL, "∂/∂θ = λ F ⊙ (θ − θ*)"
        if matches(found, {k: 2 * v for k, v in grad.items()}):
            return NONE, "the gradient is 2λ F (θ − θ*): the penalty uses λ where eq. 3 has λ/2"
        return NONE, "params' gradients differ from λ F ⊙ (θ − θ*)"

    def as_tensors(d: dict[str, np.ndarray]) -> dict[str, Any]:
        return {k: tensor(v) for k, v in d.items()}

    penalty_args = [as_tensors(theta), as_tensors(star), as_tensors(fish), lam]
    return [
        CodeCheck("24.16.fisher", "24.16", "the diagonal Fisher from per-sample gradients", F(2),
                  [{"op": "call", "func": "fisher_diagonal", "args": [[as_tensors(g) for g in grads]], "store": "F"},
                   {"op": "return", "ref": "F"}], judge_fisher),
        CodeCheck("24.16.penalty", "24.16", "the EWC penalty", F(2),
                  [{"op": "call", "func": "ewc_penalty", "args": penalty_args, "store": "p"},
                   {"op": "return", "ref": "p"}], judge_penalty),
        CodeCheck("24.16.grad", "24.16", "the penalty's gradient, through autograd", F(1),
                  [{"op": "exec", "helper": "tensor_input", "args": ["theta", as_tensors(theta)]},
                   {"op": "exec", "helper": "requires_grad", "args": ["theta"]},
                   {"op": "call", "func": "ewc_penalty", "args": [{"ref": "theta"}, *penalty_args[1:]], "store": "p"},
                   {"op": "exec", "helper": "backward_grads", "args": ["p", "theta", "g"]},
                   {"op": "return", "ref": "g"}], judge_grad),
    ]


EXERCISE = Exercise("24.16", "Elastic Weight Consolidation", SPEC, _ewc)

"""Exercise 9.6.2: LoRA dropout (seed 003: "LoRA dropout: add dropout to the LoRA path").

peft applies ``lora_dropout`` to the LoRA path's input only: ``result + lora_B(lora_A(dropout(x))) * scaling``
(peft ``tuners/lora/layer.py: Linear.forward``), with torch's inverted dropout (kept values × 1/(1-p)),
so the expected training output is the eval output.

How the judges see the mask: the grader chooses rank = in_features with A orthogonal and B's columns
orthonormal, so C = scaling·Aᵀ Bᵀ has C Cᵀ = scaling²·I and the LoRA path's input of every call is recovered
exactly from its output, Z = (y − x Wᵀ) Cᵀ / scaling²; each element of Z must be 0 or x/(1-p).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.section9_6.judging import complete
from grader.assignments.section9_6.plan import call_repeatedly, returns, seed
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text

F = Fraction

P = 0.25           # not 0.5: there 1/(1-p) = 1/p = 2, and dividing by p would pass for right
SAMPLES = 1000     # training-mode calls whose average is compared with eval
Z_BOUND = 5.5      # standard errors: see _expectation

SPEC = f"""\
LoRALayer(in_features, out_features, rank=8, alpha=16.0, dropout=0.0): seed 003's LoRALayer with
dropout on the LoRA path, as peft's lora_dropout. train() and eval() switch modes (like torch modules).
In training mode, with p = dropout, every element of x is zeroed independently with probability p and
the kept ones are multiplied by 1/(1 - p) (inverted dropout, torch.nn.Dropout), on the LoRA path's
input only, with a fresh mask on every call:
  forward(x, W) = x @ W.T + scaling · dropout(x) @ A.T @ B.T
The base path x @ W.T is never dropped. In eval mode forward is deterministic and equals the
dropout-free output x @ W.T + scaling · x @ A.T @ B.T. The grader sets A and B (attributes, as in
seed 003), calls forward {SAMPLES} times on the same x in training mode (p = {P}) and checks the mask of
every call and that the average equals the eval output within {Z_BOUND} standard errors.
"""


def mask_pattern(got: np.ndarray, ref: np.ndarray) -> tuple[float, float] | None:
    """(c, share dropped) if every element of ``got`` is 0 or c·``ref`` for one constant c (elements where
    ``ref`` is too small to tell are left out); None if ``got`` is not such a masked copy of ``ref``."""
    ref_b = np.broadcast_to(ref, got.shape)
    clear = np.abs(ref_b) > 0.05 * float(np.abs(ref).max())
    if not clear.any():
        return None
    ratio = got[clear] / ref_b[clear]
    dropped = np.abs(ratio) < 1e-6
    kept = ratio[~dropped]
    if kept.size == 0:
        return 0.0, 1.0
    c = float(np.median(kept))
    if float(np.max(np.abs(kept - c))) > 1e-6 * max(1.0, abs(c)):
        return None
    return c, float(dropped.mean())


def rate_bound(p: float, draws: int) -> float:
    """Largest |dropped share − p| allowed: Z_BOUND binomial standard errors (normal approximation, ≥ 10⁴
    draws), so a right dropout fails with probability 2Φ(−5.5) ≈ 4·10⁻⁸."""
    return Z_BOUND * float(np.sqrt(p * (1 - p) / draws))


def _scale_note(c: float, p: float) -> str:
    if abs(c - 1 / (1 - p)) < 1e-6:
        return ""
    if abs(c - 1) < 1e-6:
        return "kept values are not rescaled: divide them by (1 - p), so that the expected output is the eval output"
    if abs(c - 1 / p) < 1e-6:
        return f"kept values are divided by p; divide by the keep probability 1 - p (×{1 / (1 - p):.4g})"
    return f"kept values are multiplied by {c:.4g}; inverted dropout multiplies them by 1/(1 - p) = {1 / (1 - p):.4g}"


def _rate_note(rate: float, p: float, draws: int) -> str:
    if abs(rate - p) <= rate_bound(p, draws):
        return ""
    if abs(rate - (1 - p)) <= rate_bound(p, draws):
        return f"{rate:.1%} dropped: p is the probability of dropping (torch.nn.Dropout(p)), not of keeping"
    return f"{rate:.1%} of the LoRA path's inputs dropped, expected p = {p:.0%} (± {rate_bound(p, draws):.1%})"


def judge_mask(Y: Any, x: np.ndarray, W: np.ndarray, A: np.ndarray, B: np.ndarray, s: float,
               p: float) -> tuple[Fraction, str]:
    """Training-mode samples Y (calls × tokens × out): is each one inverted dropout of the LoRA path's input?"""
    base, lora = x @ W.T, s * x @ A.T @ B.T
    n = len(Y) if isinstance(Y, np.ndarray) else 0
    if not isinstance(Y, np.ndarray) or Y.shape != (n, *base.shape) or n < 2:
        return NONE, f"forward gave {shape_text(Y)} over the calls, expected {base.shape} each"
    if not np.all(np.isfinite(Y)):
        return NONE, "forward returned NaN or infinity in training mode"
    D = Y - base
    if np.allclose(D, D[0], rtol=0, atol=1e-12):
        if close(D[0], lora):
            return NONE, "no dropout in training mode: after train() the LoRA path's input must be dropped with p"
        return NONE, "the same output on every call: draw a fresh dropout mask on each forward"
    C = s * A.T @ B.T
    Z = D @ C.T / s**2                      # the LoRA path's input of each call (C Cᵀ = s²·I)
    scale = max(1.0, float(np.abs(lora).max()))
    if float(np.abs(D - Z @ C).max()) <= 1e-6 * scale:  # every change lies in the LoRA path's row space
        where, share, place, draws = mask_pattern(Z, x), F(1, 3), "", Z.size
        if where is None:  # dropout on the rank-r hidden x Aᵀ: recovered as Z Aᵀ
            where, share = mask_pattern(Z @ A.T, x @ A.T), NONE
            place = "dropout is applied after A (to the rank-r hidden x Aᵀ); peft drops the LoRA path's input x"
    else:
        where, share, draws = mask_pattern(D, lora), NONE, D.size
        place = "dropout is applied to the LoRA path's output; peft drops its input x: lora_B(lora_A(dropout(x)))"
    if where is None:
        return NONE, ("the outputs change between calls in a way dropout of the LoRA path's input cannot explain: "
                      "is dropout reaching the base path x Wᵀ, or the whole output?")
    c, rate = where
    scale_note, rate_note = _scale_note(c, p), _rate_note(rate, p, draws)
    share += (F(1, 3) if not scale_note else NONE) + (F(1, 3) if not rate_note else NONE)
    notes = [n for n in (place, scale_note, rate_note) if n]
    return share, "; ".join(notes) or f"inverted dropout on the LoRA path's input: {rate:.1%} dropped, kept ×{c:.4g}"


def judge_expectation(Y: Any, x: np.ndarray, W: np.ndarray, A: np.ndarray, B: np.ndarray, s: float,
                      p: float) -> tuple[Fraction, str]:
    """Does the training-mode average equal the eval output?

    The bound: for each output element, the average of n calls has standard error σ/√n. σ is the larger of
    the samples' own standard deviation and inverted dropout's, σ² = p/(1-p)·Σᵢ xᵢ²Cᵢⱼ² (independent masks,
    Var(m) = p/(1-p) for m ∈ {0, 1/(1-p)}), so a right implementation is never judged on a lucky low spread.
    By the central limit theorem z = (mean − eval)/(σ/√n) is standard normal; with 18 elements and
    |z| ≤ 5.5 a right dropout fails with probability below 18·2Φ(−5.5) ≈ 7·10⁻⁷. Not rescaling shifts each
    mean by p·(LoRA output): at n = 1000 that is ≈ 10 standard errors or more on most elements.
    """
    base, lora = x @ W.T, s * x @ A.T @ B.T
    n = len(Y) if isinstance(Y, np.ndarray) else 0
    if not isinstance(Y, np.ndarray) or Y.shape != (n, *base.shape) or n < 2 or not np.all(np.isfinite(Y)):
        return NONE, f"forward gave {shape_text(Y)} over the calls, expected finite arrays of {base.shape}"
    C = s * A.T @ B.T
    sigma_dropout = np.sqrt(p / (1 - p) * (x**2) @ (C**2))
    sigma = np.maximum(Y.std(axis=0, ddof=1), sigma_dropout)
    mean = Y.mean(axis=0)
    z = float(np.max(np.abs(mean - (base + lora)) / (sigma / np.sqrt(n))))
    if z <= Z_BOUND:
        return FULL, f"the average of {n} training calls equals the eval output (max |z| = {z:.2f} ≤ {Z_BOUND})"
    unscaled = float(np.max(np.abs(mean - (base + (1 - p) * lora)) / (sigma / np.sqrt(n))))
    if unscaled <= Z_BOUND:
        return NONE, (f"the average of {n} training calls is x Wᵀ + (1 - p)·(LoRA path): rescale the kept inputs by "
                      "1/(1 - p), so that training's expected output equals eval's")
    return NONE, (f"the average of {n} training calls differs from the eval output by up to {z:.1f} standard errors "
                  f"(allowed {Z_BOUND})")


def _lora_dropout(rng: np.random.Generator) -> list[CodeCheck]:
    d_in, d_out, alpha = 4, 6, 8.0
    r = d_in                                  # full rank: the LoRA path's input is recoverable from its output
    s = alpha / r
    A = np.linalg.qr(rng.normal(size=(r, d_in)))[0]            # orthogonal
    B = np.linalg.qr(rng.normal(size=(d_out, r)))[0]           # orthonormal columns
    W = rng.normal(size=(d_out, d_in))
    x = rng.choice([-1.0, 1.0], size=(3, d_in)) * rng.uniform(0.5, 1.5, size=(3, d_in))  # no element near 0
    base, lora = x @ W.T, s * x @ A.T @ B.T

    def setup(B_value: np.ndarray) -> list[dict[str, Any]]:
        return [seed(int(rng.integers(1 << 30))),
                {"op": "new", "cls": "LoRALayer", "args": [d_in, d_out],
                 "kwargs": {"rank": r, "alpha": alpha, "dropout": P}, "store": "layer"},
                {"op": "set", "obj": "layer", "attr": "A", "value": arr(A)},
                {"op": "set", "obj": "layer", "attr": "B", "value": arr(B_value)}]

    def samples(times: int) -> dict[str, Any]:
        return call_repeatedly("layer", "forward", [arr(x), arr(W)], times, "ys")

    def eval_mode(vals, err):
        if not complete(vals, 1):
            return failed(err)
        Y = as_array(vals[0])
        if Y is None or Y.ndim != 3 or Y.shape[1:] != base.shape:
            return NONE, f"forward gave {shape_text(Y)} over the calls, expected {base.shape} each"
        if not np.allclose(Y, Y[0], rtol=0, atol=1e-12):
            return NONE, "in eval mode the output changes between calls: eval() must switch dropout off"
        for want, why in ((base + lora, ""),
                          (base + (1 - P) * lora, "eval scales the LoRA path by (1 - p): with inverted dropout the "
                                                  "rescaling happens in training, and eval uses the path as it is"),
                          (base + lora / (1 - P), "eval rescales the LoRA path by 1/(1 - p): that belongs to training"),
                          (base, "in eval mode the LoRA path is missing")):
            if close(Y[0], want):
                return (FULL, "deterministic and dropout-free in eval mode") if not why else (NONE, why)
        return NONE, "in eval mode forward must equal x Wᵀ + scaling · x Aᵀ Bᵀ (no dropout)"

    def base_path(vals, err):
        if not complete(vals, 1):
            return failed(err)
        Y = as_array(vals[0])
        if Y is None or Y.ndim != 3 or Y.shape[1:] != base.shape:
            return NONE, f"forward gave {shape_text(Y)} over the calls, expected {base.shape} each"
        if all(close(y, base) for y in Y):
            return FULL, "with B = 0 every training call returns x Wᵀ: the base path is not dropped"
        if not np.allclose(Y, Y[0], rtol=0, atol=1e-12):
            return NONE, ("with B = 0 the training output changes between calls: dropout reaches the base path "
                          "x Wᵀ; drop only the LoRA path's input (peft: result + lora_B(lora_A(dropout(x))) · scaling)")
        return NONE, "with B = 0 the training output must be x Wᵀ exactly"

    def mask(vals, err):
        if not complete(vals, 1):
            return failed(err)
        return judge_mask(as_array(vals[0]), x, W, A, B, s, P)

    def expectation(vals, err):
        if not complete(vals, 1):
            return failed(err)
        return judge_expectation(as_array(vals[0]), x, W, A, B, s, P)

    train = {"op": "call", "obj": "layer", "func": "train"}
    return [
        CodeCheck("9.6.2.eval", "9.6.2", "eval(): deterministic, no dropout", F(2),
                  [*setup(B), {"op": "call", "obj": "layer", "func": "eval"}, samples(5), *returns("ys")], eval_mode),
        CodeCheck("9.6.2.base", "9.6.2", "training: the base path is never dropped", F(1),
                  [*setup(np.zeros_like(B)), train, samples(50), *returns("ys")], base_path),
        CodeCheck("9.6.2.mask", "9.6.2", "training: inverted dropout on the LoRA path's input", F(3),
                  [*setup(B), train, samples(SAMPLES), *returns("ys")], mask),
        CodeCheck("9.6.2.expectation", "9.6.2", "training: the average equals the eval output", F(2),
                  [*setup(B), train, samples(SAMPLES), *returns("ys")], expectation),
    ]


EXERCISE = Exercise("9.6.2", "LoRA dropout: training vs eval", SPEC, _lora_dropout)

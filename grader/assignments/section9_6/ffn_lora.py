"""Exercise 9.6.1: LoRA on the feed-forward layers (seed 003: "Extend LoRA: apply to feed-forward layers")."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.section9_6.judging import complete, found, number
from grader.assignments.section9_6.plan import returns, set_by_shape
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, diagnose, failed, shape_text

F = Fraction

SPEC = """\
LoRAFeedForward(w_up, w_down, rank=8, alpha=16.0): a transformer feed-forward block
FFN(x) = relu(x @ w_up.T) @ w_down.T with LoRA on both matrices, built from seed 003's LoRALayer or
LoRALinear. w_up is (d_ff × d_model), w_down is (d_model × d_ff): out × in, as LoRALinear's weight.
Each matrix gets its own A (rank × in) and B (out × rank, zeros at init), scaling = alpha / rank, and
the update is added before the activation:
  h = relu(x @ w_up.T + scaling · x @ A_up.T @ B_up.T)
  forward(x) = h @ w_down.T + scaling · h @ A_down.T @ B_down.T      (x: [..., d_model])
merge() returns (w_up + scaling · B_up @ A_up, w_down + scaling · B_down @ A_down), two arrays;
forward with the merged weights must equal the LoRA forward. num_parameters() counts A and B only:
rank · (d_model + d_ff) per matrix, 2 · rank · (d_model + d_ff) in all. The grader sets A and B itself,
finding them by their shape wherever your object keeps them.
"""


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _gelu(z: np.ndarray) -> np.ndarray:  # the tanh approximation: only to recognise a GELU submission
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))


def _ffn_lora(rng: np.random.Generator) -> list[CodeCheck]:
    # d_model, d_ff and rank all differ, so the four LoRA arrays have four different shapes
    d, d_ff, r, alpha = 6, 10, 2, 6.0
    s = alpha / r
    Wu, Wd = rng.normal(size=(d_ff, d)), rng.normal(size=(d, d_ff))
    Au, Bu = rng.normal(size=(r, d)), rng.normal(size=(d_ff, r))
    Ad, Bd = rng.normal(size=(r, d_ff)), rng.normal(size=(d, r))
    x = rng.normal(size=(2, 3, d))
    dWu, dWd = Bu @ Au, Bd @ Ad

    def ffn(up: np.ndarray, down: np.ndarray, act=_relu) -> np.ndarray:
        return act(x @ up.T) @ down.T

    new = {"op": "new", "cls": "LoRAFeedForward", "args": [arr(Wu), arr(Wd)], "kwargs": {"rank": r, "alpha": alpha},
           "store": "ffn"}
    set_lora = [set_by_shape("ffn", Au, "n_Au"), set_by_shape("ffn", Bu, "n_Bu"),
                set_by_shape("ffn", Ad, "n_Ad"), set_by_shape("ffn", Bd, "n_Bd")]
    counts = ("n_Au", "n_Bu", "n_Ad", "n_Bd")
    names = {0: f"A_up ({r}, {d})", 1: f"B_up ({d_ff}, {r})", 2: f"A_down ({r}, {d_ff})", 3: f"B_down ({d}, {r})"}

    def missing(vals: list) -> str:
        absent = [names[i] for i in range(4) if not found(vals[i])]
        return ("no array of shape " + ", ".join(absent) + " found in the layer: each matrix needs its own A "
                "(rank × in) and B (out × rank)") if absent else ""

    expected = ffn(Wu + s * dWu, Wd + s * dWd)
    candidates = {
        "LoRA on the down projection is missing: both w_up and w_down get their own A and B": ffn(Wu + s * dWu, Wd),
        "LoRA on the up projection is missing: both w_up and w_down get their own A and B": ffn(Wu, Wd + s * dWd),
        "the activation is missing: FFN(x) = relu(x W_upᵀ) W_downᵀ": ffn(Wu + s * dWu, Wd + s * dWd, lambda z: z),
        "the activation is GELU; this exercise's FFN uses ReLU": ffn(Wu + s * dWu, Wd + s * dWd, _gelu),
        "the LoRA paths are not scaled: multiply them by scaling = alpha / rank": ffn(Wu + dWu, Wd + dWd),
        "the up projection's LoRA update is added after the activation; add it before: "
        "relu(x W_upᵀ + scaling · x A_upᵀ B_upᵀ)": (_relu(x @ Wu.T) + s * x @ Au.T @ Bu.T) @ (Wd + s * dWd).T,
        "the LoRA paths are missing: only the frozen FFN is computed": ffn(Wu, Wd),
    }

    def forward(vals, err):
        if not complete(vals, 5):
            return failed(err)
        if missing(vals):
            return NONE, missing(vals)
        return diagnose(as_array(vals[4]), expected, candidates,
                        right="relu(x W_up'ᵀ) W_down'ᵀ with LoRA on both matrices",
                        wrong="values differ from relu(x W_up'ᵀ) W_down'ᵀ, W' = W + scaling·BA",
                        wrong_shape=f"forward gave {{got}}, expected {expected.shape}")

    def merge(vals, err):
        if not complete(vals, 7):
            return failed(err)
        if missing(vals):
            return NONE, missing(vals)
        up, down, y = as_array(vals[4]), as_array(vals[5]), as_array(vals[6])
        if up is None or down is None or up.shape != Wu.shape or down.shape != Wd.shape:
            return NONE, (f"merge() gave {shape_text(up)} and {shape_text(down)}: return (merged w_up, merged w_down) "
                          f"of shapes {Wu.shape} and {Wd.shape}")
        right_up, right_down = close(up, Wu + s * dWu), close(down, Wd + s * dWd)
        if right_up and right_down:
            if close(y, ffn(up, down)):
                return FULL, "W + scaling·BA for both; the merged FFN equals the LoRA forward"
            return F(1, 2), "the merged weights are right, but forward disagrees with the FFN they give"
        if close(up, Wu + dWu) and close(down, Wd + dWd):
            return NONE, "merge forgets the scaling: W + (alpha/rank)·B @ A"
        which = "w_up" if not right_up else "w_down"
        return (F(1, 2) if right_up != right_down else NONE), f"the merged {which} is not {which} + scaling·B @ A"

    want = 2 * r * (d + d_ff)
    readings = {
        r * (d + d_ff): "counts one matrix only: w_up and w_down each carry A and B",
        want + 2 * d * d_ff: "counts the frozen w_up and w_down too: only A and B are trained",
        4 * r * d: "counts the matrices as d_model × d_model; the FFN's are d_ff × d_model, so rank·(d_model + d_ff) each",
    }

    def count(vals, err):
        if not complete(vals, 1):
            return failed(err)
        got = number(vals[0])
        if got == want:
            return FULL, f"{want} = 2 · rank · (d_model + d_ff)"
        return NONE, readings.get(got, f"num_parameters() = {got!r}, expected 2 · rank · (d_model + d_ff) = {want}")

    def identity(vals, err):
        if not complete(vals, 1):
            return failed(err)
        return (FULL, "the frozen FFN at init (B = 0)") if close(as_array(vals[0]), ffn(Wu, Wd)) else (
            NONE, "at init (B = 0) forward must equal the frozen FFN relu(x W_upᵀ) W_downᵀ")

    x_arg = arr(x)
    return [
        CodeCheck("9.6.1.forward", "9.6.1", "forward with LoRA on w_up and w_down", F(3),
                  [new, *set_lora, {"op": "call", "obj": "ffn", "func": "forward", "args": [x_arg], "store": "y"},
                   *returns(*counts, "y")], forward),
        CodeCheck("9.6.1.merge", "9.6.1", "merge() and merged == unmerged", F(2),
                  [new, *set_lora, {"op": "call", "obj": "ffn", "func": "forward", "args": [x_arg], "store": "y"},
                   {"op": "call", "obj": "ffn", "func": "merge", "store": "m"},
                   {"op": "index", "obj": "m", "key": 0, "store": "up"},
                   {"op": "index", "obj": "m", "key": 1, "store": "down"}, *returns(*counts, "up", "down", "y")], merge),
        CodeCheck("9.6.1.count", "9.6.1", "num_parameters: 2 · rank · (d_model + d_ff)", F(2),
                  [new, {"op": "call", "obj": "ffn", "func": "num_parameters", "store": "n"}, *returns("n")], count),
        CodeCheck("9.6.1.identity", "9.6.1", "the frozen FFN at init", F(1),
                  [new, {"op": "call", "obj": "ffn", "func": "forward", "args": [x_arg], "store": "y"}, *returns("y")],
                  identity),
    ]


EXERCISE = Exercise("9.6.1", "LoRA on the feed-forward layers", SPEC, _ffn_lora)

"""Exercise 24.14: a learning-rate finder (seed 002, torch).

The LR range test (Smith, "Cyclical Learning Rates for Training Neural Networks", arXiv:1506.01186, §3.3, sweeps
linearly); the exercise's exponential sweep is fastai's ``lr_find`` (``annealing_exp`` from start_lr to end_lr,
one mini-batch per lr), whose "steep" suggestion is the steepest slope of the loss. The grader supplies the
training step (an SGD step on a small quadratic, replayed here from the same floats) and, for the pick, a
curve of its own.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, failed, value

F = Fraction

SPEC = """\
lr_schedule(start_lr, end_lr, steps) -> the steps learning rates of an exponential sweep,
lr_i = start_lr · (end_lr / start_lr)^(i / (steps − 1)), i = 0 … steps − 1 (the first is start_lr, the
last end_lr). lr_finder(train_step, start_lr, end_lr, steps) -> (lrs, losses): calls train_step(lr) once
per lr of that sweep, smallest first (train_step, the grader's, does one optimisation step at lr and
returns the loss, a float), and records every loss in order — no early stopping, no smoothing.
suggest_lr_range(lrs, losses) -> (low, high): where the loss falls fastest against log lr, the consecutive
pair (lrs[i], lrs[i+1]) whose slope (losses[i+1] − losses[i]) / (ln lrs[i+1] − ln lrs[i]) is most
negative; no smoothing. The grader passes lists of floats; lists, tuples, arrays or tensors may be returned.
Not graded: (c) the plot, and applying the finder to a LoRA run.
"""


def floats(encoded: Any) -> np.ndarray | None:
    """A 1-d float array from returned data (an array, a list of numbers or one number), None otherwise."""
    v = value(encoded)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = [v]
    if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        v = np.asarray(v, dtype=np.float64)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v.reshape(1)
    return v if isinstance(v, np.ndarray) and v.ndim == 1 else None


def same(a: np.ndarray | None, b: np.ndarray, rtol: float = 1e-5) -> bool:
    return a is not None and a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=0))


def geometric(start: float, end: float, steps: int) -> np.ndarray:
    return start * (end / start) ** (np.arange(steps) / (steps - 1))


def replay(curvatures: list[float], start: list[float], lrs: np.ndarray) -> np.ndarray:
    """The losses the grader's train_step returns for these lrs, in the same float arithmetic."""
    w, out = list(start), []
    for lr in lrs:
        out.append(0.5 * sum(h * x * x for h, x in zip(curvatures, w)))
        w = [x - float(lr) * h * x for h, x in zip(curvatures, w)]
    return np.asarray(out)


def steepest_pair(lrs: np.ndarray, losses: np.ndarray, *, against_log: bool = True) -> int:
    """i of the most negative slope between points i and i+1 (against ln lr, or lr itself)."""
    x = np.log(lrs) if against_log else lrs
    return int(np.argmin(np.diff(losses) / np.diff(x)))


def schedule_mistake(got: np.ndarray | None, start: float, end: float, steps: int, what: str) -> str:
    """What is wrong with a sweep (``what``: whose sweep, for the message)."""
    if got is None:
        return f"{what}: not a sequence of numbers"
    if got.shape != (steps,):
        return f"{what}: {got.size} learning rates, expected steps = {steps}"
    if same(got, np.linspace(start, end, steps)):
        return (f"{what} is linear: an LR finder grows the lr exponentially (equal ratios between steps), so "
                "that every decade of lr gets as many steps")
    if same(got, start * (end / start) ** (np.arange(steps) / steps)):
        return f"{what} stops one ratio short of end_lr: the exponent is i / (steps − 1)"
    return (f"{what}: got {np.array2string(got[:3], precision=3)}…, expected "
            "start_lr · (end_lr/start_lr)^(i/(steps−1))")


def synthetic_curve(rng: np.random.Generator, n: int) -> np.ndarray:
    """An LR-finder-like curve over n points: a noisy plateau, a descent with one steepest step, a valley,
    then divergence. The first step is a small dip, so that a slope taken against lr itself (not log lr)
    picks the plateau."""
    start = int(rng.integers(12, 19))
    drops = np.zeros(n - 1)
    drops[:start] = rng.uniform(-0.01, 0.01, start)
    drops[0] = -0.008
    descent = np.array([-0.05, -0.12, -0.2, -0.3, -0.22, -0.12, -0.06]) + rng.uniform(-0.015, 0.015, 7)
    drops[start:start + 7] = descent
    drops[start + 7:start + 10] = rng.uniform(-0.01, 0.01, 3)
    rise = n - 1 - (start + 10)
    drops[start + 10:] = 0.05 * 2.0 ** np.arange(rise)
    return 2.3 + np.concatenate([[0.0], np.cumsum(drops)])


def _lr_finder(rng: np.random.Generator) -> list[CodeCheck]:
    sweeps = [(1e-6, 1.0, int(rng.integers(20, 31))), (1e-4, 10.0, 9)]

    def judge_schedule(vals, err):
        if vals is None:
            return failed(err)
        notes = [schedule_mistake(floats(v), *sweep, "the sweep") for v, sweep in zip(vals, sweeps)
                 if not same(floats(v), geometric(*sweep))]
        return (NONE, notes[0]) if notes else (FULL, "geometric from start_lr to end_lr")

    start_lr, end_lr, steps = 1e-4, 1.0, int(rng.integers(25, 36))
    curvatures = [float(rng.uniform(0.3, 1.0)), float(rng.uniform(2.0, 4.0)), float(rng.uniform(6.0, 10.0))]
    w0 = [float(x) for x in rng.normal(size=3) + np.sign(rng.normal(size=3))]
    want_lrs = geometric(start_lr, end_lr, steps)

    def judge_finder(vals, err):
        if vals is None:
            return failed(err)
        calls, lrs, losses = (floats(v) for v in vals)
        share, notes = F(0), []
        if same(calls, want_lrs):
            share += F(1, 2)
        elif calls is not None and calls.size > 0:
            notes.append(schedule_mistake(calls, start_lr, end_lr, steps, "the sweep train_step was called with"))
        else:
            notes.append("train_step was never called")
        if calls is not None and 0 < calls.size <= 10 * steps and same(lrs, calls) and same(
                losses, replay(curvatures, w0, calls)):
            share += F(1, 2)
        elif losses is not None and calls is not None and losses.size < calls.size:
            notes.append(f"{losses.size} losses recorded for {calls.size} steps: record every step's loss")
        else:
            notes.append("return (lrs, losses): the lrs train_step was called with and the losses it returned, "
                         "in order")
        return share, "; ".join(notes) or "one step per lr of the sweep, every loss recorded"

    n = int(rng.integers(36, 45))
    curve_lrs = geometric(1e-6, 1.0, n)
    curve = synthetic_curve(rng, n)
    best = steepest_pair(curve_lrs, curve)
    want_pair = curve_lrs[[best, best + 1]]
    by_lr = steepest_pair(curve_lrs, curve, against_log=False)
    lowest = curve_lrs[int(np.argmin(curve))]
    rising = int(np.argmax(np.diff(curve)))

    def judge_range(vals, err):
        if vals is None:
            return failed(err)
        got = floats(vals[0])
        if same(got, want_pair):
            return FULL, "the steepest descent of the loss against log lr"
        if got is not None and got.size == 1 and (same(got, want_pair[:1]) or same(got, want_pair[1:])):
            return F(1, 2), "the right place, but return the pair (low, high) around the steepest step"
        if got is None or got.size != 2:
            return NONE, "return a pair (low, high) of learning rates"
        if any(np.isclose(g, lowest, rtol=1e-5, atol=0) for g in got):
            return NONE, ("this is where the loss is lowest: at the minimum the lr is already at the edge of "
                          "divergence; the finder picks where the loss falls fastest")
        if by_lr != best and same(got, curve_lrs[[by_lr, by_lr + 1]]):
            return NONE, ("the slope was taken against lr, not log lr: on an exponential sweep that favours the "
                          "smallest lrs, where the steps are tiny")
        if same(got, curve_lrs[[rising, rising + 1]]):
            return NONE, "this is where the loss rises fastest (divergence): the pick is the most negative slope"
        return NONE, (f"got ({got[0]:.3g}, {got[1]:.3g}); the loss falls fastest between {want_pair[0]:.3g} and "
                      f"{want_pair[1]:.3g}")

    step = [{"op": "exec", "helper": "quadratic_train_step", "args": ["step", "calls", curvatures, w0]},
            {"op": "call", "func": "lr_finder", "args": [{"ref": "step"}, start_lr, end_lr, steps], "store": "out"},
            {"op": "index", "obj": "out", "key": 0, "store": "lrs"},
            {"op": "index", "obj": "out", "key": 1, "store": "losses"}]
    return [
        CodeCheck("24.14.schedule", "24.14", "an exponential lr sweep", F(1),
                  [*[{"op": "call", "func": "lr_schedule", "args": list(sweep), "store": f"s{i}"}
                     for i, sweep in enumerate(sweeps)],
                   *[{"op": "return", "ref": f"s{i}"} for i in range(len(sweeps))]], judge_schedule),
        CodeCheck("24.14.finder", "24.14", "one step per lr, every loss recorded", F(2),
                  [*step, *[{"op": "return", "ref": r} for r in ("calls", "lrs", "losses")]], judge_finder),
        CodeCheck("24.14.range", "24.14", "the steepest-descent range of a given curve", F(2),
                  [{"op": "call", "func": "suggest_lr_range", "args": [curve_lrs.tolist(), curve.tolist()],
                    "store": "pick"}, {"op": "return", "ref": "pick"}], judge_range),
    ]


EXERCISE = Exercise("24.14", "a learning-rate finder", SPEC, _lr_finder)

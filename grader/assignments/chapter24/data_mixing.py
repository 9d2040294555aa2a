"""Exercise 24.18: mixing task data with general instruction data at ratio α (seed 002, torch).

α is the task fraction of the mixture (the exercise: α = 1.0 is task-only). The examples are ints, so that
the judge tells each one's source by its value and the whole mixture comes back as one array.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, failed, value

F = Fraction

SPEC = """\
mix_datasets(task, general, alpha, n, seed=0) -> a list of n examples: round(alpha · n) task examples and
n − round(alpha · n) general ones (alpha is the task fraction: 1.0 is task-only, 0.5 half and half). Each
source is drawn from without replacement (the grader never asks for more than a source holds); the two are
shuffled together (interleaved at random, not one block after the other); examples are returned as they
are (the grader's are ints). The same seed gives the same list, another seed another one.
Not graded: (b)–(d) the fine-tuning runs, their evaluation and the Pareto plot.
"""


def mixture(encoded: Any) -> np.ndarray | None:
    """The returned mixture as a 1-d array of numbers, None if it is not one."""
    v = value(encoded)
    if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        v = np.asarray(v, dtype=np.float64)
    return v if isinstance(v, np.ndarray) and v.ndim == 1 else None


def _data_mixing(rng: np.random.Generator) -> list[CodeCheck]:
    task_start, general_start = int(rng.integers(0, 500)), int(rng.integers(1000, 5000))
    task = list(range(task_start, task_start + 200))
    general = list(range(general_start, general_start + 400))
    task_set, general_set = set(task), set(general)
    n, alphas = 120, (0.5, 0.7, 0.9, 1.0)

    def sources(mix: np.ndarray) -> tuple[int, int, int]:
        """(task examples, general examples, anything else) in a mixture."""
        ints = [int(x) for x in mix if np.isfinite(x) and x == int(x)]
        t, g = sum(x in task_set for x in ints), sum(x in general_set for x in ints)
        return t, g, mix.size - t - g

    def judge_counts(vals, err):
        if vals is None:
            return failed(err)
        share, notes = F(0), []
        for alpha, encoded in zip(alphas, vals):
            mix = mixture(encoded)
            if mix is None:
                notes.append(f"alpha = {alpha}: not a list of examples")
                continue
            t, g, other = sources(mix)
            want = round(alpha * n)
            if other:
                notes.append(f"alpha = {alpha}: {other} items are not examples of either source")
            elif len(set(mix.tolist())) < mix.size:
                notes.append(f"alpha = {alpha}: examples repeat: draw without replacement")
            elif (t, g) == (want, n - want):
                share += F(1, len(alphas))
            elif (t, g) == (n - want, want) and alpha != 0.5:
                notes.append(f"alpha = {alpha}: {t} task and {g} general examples — alpha is the task fraction "
                             "(1.0 = task-only), not the general one")
            elif t + g != n:
                notes.append(f"alpha = {alpha}: {t + g} examples, expected n = {n}")
            else:
                notes.append(f"alpha = {alpha}: {t} task and {g} general examples, expected {want} and {n - want}")
        return share, "; ".join(notes) or f"round(α·n) task examples for α in {alphas}, the rest general"

    alpha_order, n_order = 0.7, 200

    def judge_order(vals, err):
        if vals is None:
            return failed(err)
        mix = mixture(vals[0])
        if mix is None or mix.size != n_order:
            return NONE, f"expected a list of {n_order} examples"
        is_task = np.array([x in task_set for x in mix.tolist()])
        if is_task.all() or not is_task.any():
            return NONE, "the mixture holds one source only, so it cannot be shuffled together (see the counts)"
        first, total = int(is_task[:n_order // 2].sum()), int(is_task.sum())
        # shuffled, the first half holds about half the task examples: sd ≤ 3.6 (hypergeometric), 20 is 5.5 sd
        if abs(first - total / 2) <= 20:
            return FULL, "task and general examples interleaved at random"
        return NONE, (f"{first} of the {total} task examples are in the first half (shuffled, about {total / 2:.0f}): "
                      "shuffle the mixture, not only each source")

    def judge_seed(vals, err):
        if vals is None:
            return failed(err)
        a, b, c = (mixture(v) for v in vals)
        if a is None or b is None or c is None:
            return NONE, "expected three lists of examples"
        if not np.array_equal(a, b):
            return NONE, ("the same seed gave two different mixtures: draw from a generator seeded with seed "
                          "(random.Random(seed), numpy's default_rng(seed), a torch.Generator)")
        if np.array_equal(a, c):
            return NONE, "two seeds gave the same mixture: the seed argument must drive the draws"
        return FULL, "reproducible under a seed, different under another"

    def mix(alpha: float, size: int, seed: int, store: str) -> dict[str, Any]:
        return {"op": "call", "func": "mix_datasets", "args": [task, general, alpha, size], "kwargs": {"seed": seed},
                "store": store}

    return [
        CodeCheck("24.18.counts", "24.18", "round(α·n) task examples, the rest general", F(2),
                  [*[mix(alpha, n, 3, f"m{i}") for i, alpha in enumerate(alphas)],
                   *[{"op": "return", "ref": f"m{i}"} for i in range(len(alphas))]], judge_counts),
        CodeCheck("24.18.order", "24.18", "shuffled together", F(1),
                  [mix(alpha_order, n_order, 5, "m"), {"op": "return", "ref": "m"}], judge_order),
        CodeCheck("24.18.seed", "24.18", "seeded: reproducible, and different across seeds", F(1),
                  [mix(0.7, n, 11, "a"), mix(0.7, n, 11, "b"), mix(0.7, n, 12, "c"),
                   *[{"op": "return", "ref": r} for r in "abc"]], judge_seed),
    ]


EXERCISE = Exercise("24.18", "data mixing at ratio α", SPEC, _data_mixing)

"""Exercise 24.22 (a–b): progressive unfreezing — which layers are trainable at each step (seed 002, torch).

Progressive unfreezing trains the top of the network first and unfreezes downwards, the last layers holding the
least general knowledge (ULMFiT's "gradual unfreezing": Howard & Ruder, ACL 2018, Section 3.3, one layer per
epoch); the exercise's schedule is the last 2 layers, then 2 more every N steps.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.chapter24.returned import decoded, int_list, returns
from grader.code.checks import CodeCheck, FULL, failed

F = Fraction

SPEC = """\
trainable_layers(step, n_layers, every_n, start=2, per_stage=2) -> the indices of the layers trainable at
training step `step`, in increasing order (a list of ints; a tuple or 1-D tensor is accepted). Layers are
numbered 0 … n_layers−1 from the input; steps are counted from 0. Steps 0 … every_n−1 train the last `start`
layers; at step every_n, 2·every_n, … `per_stage` more are unfrozen (the ones just below), never more than
n_layers: step s trains the last min(n_layers, start + per_stage·(s // every_n)) layers.
apply_progressive_unfreezing(model, step, every_n, start=2, per_stage=2): model.layers is an nn.ModuleList of
blocks (n_layers = len(model.layers)); sets requires_grad=True on every parameter of the blocks trainable at
`step` and requires_grad=False on every parameter of the others. It is called on the same model at increasing
steps (a fresh model starts with every parameter trainable). Returns the model (None is accepted too).
"""


def trainable_reference(step: int, n_layers: int, every_n: int, start: int = 2, per_stage: int = 2) -> list[int]:
    count = min(n_layers, start + per_stage * (step // every_n))
    return list(range(n_layers - count, n_layers))


def _schedule_mistake(got: list[int] | None, step: int, n: int, every: int, start: int, per: int) -> str:
    """The classic mistake that gives ``got`` for this query, or a plain description."""
    expected = trainable_reference(step, n, every, start, per)
    if got is None:
        return "return the list of trainable layer indices (e.g. [5, 6] for the last two of seven), not a count"
    count = min(n, start + per * (step // every))
    if got == list(range(count)):
        return ("unfroze from the input side: progressive unfreezing starts with the last layers (nearest the "
                "output) and unfreezes downwards")
    if got == list(range(n - (start + per * (step // every)), n)) or any(i < 0 for i in got) or len(got) > n:
        return f"at step {step} more than n_layers = {n} layers: cap the count at n_layers"
    if got == trainable_reference(step + 1, n, every, start, per):
        return (f"step {step}: unfroze one step early — steps are counted from 0, so stage k starts at step "
                f"k·every_n ({every} here)")
    if step > 0 and got == trainable_reference(step - 1, n, every, start, per):
        return f"step {step}: unfroze one step late — stage k starts at step k·every_n ({every} here)"
    return (f"step {step} (n_layers={n}, every_n={every}, start={start}, per_stage={per}): got {got}, "
            f"expected {expected}")


def _trainable_layers(rng: np.random.Generator) -> list[CodeCheck]:
    n = int(rng.choice([7, 9]))          # odd: the last stage unfreezes fewer than per_stage layers
    every = int(rng.integers(3, 7))
    # (category, step, n_layers, every_n, start, per_stage)
    queries: list[tuple[str, int, int, int, int, int]] = [
        ("start", 0, n, every, 2, 2), ("start", every - 1, n, every, 2, 2),
        ("schedule", every, n, every, 2, 2), ("schedule", 2 * every + 1, n, every, 2, 2),
        ("schedule", 2 * every - 1, n, every, 2, 2), ("schedule", 2 * every, n + 4, every, 3, 1),
        ("cap", (n // 2) * every, n, every, 2, 2), ("cap", 10 * every, n, every, 2, 2),
    ]
    shares = {"start": F(1, 3), "schedule": F(1, 3), "cap": F(1, 3)}
    what = {"start": "the last 2 layers at first", "schedule": "2 more every every_n steps",
            "cap": "never more than n_layers"}

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        wrong: dict[str, str] = {}
        for (category, step, nl, ev, st, per), got in zip(queries, vals):
            layers = int_list(got)
            if layers != trainable_reference(step, nl, ev, st, per) and category not in wrong:
                wrong[category] = _schedule_mistake(layers, step, nl, ev, st, per)
        share = sum((s for c, s in shares.items() if c not in wrong), F(0))
        if not wrong:
            return FULL, "the last 2 layers first, 2 more every every_n steps, capped at n_layers"
        return share, "; ".join(f"{what[c]}: {msg}" for c, msg in wrong.items())

    ops = []
    for k, (_, step, nl, ev, st, per) in enumerate(queries):
        ops.append({"op": "call", "func": "trainable_layers", "args": [step, nl, ev],
                    "kwargs": {"start": st, "per_stage": per}, "store": f"q{k}"})
    ops += returns(*(f"q{k}" for k in range(len(queries))))
    return [CodeCheck("24.22.schedule", "24.22", "trainable_layers: the unfreezing schedule", F(3), ops, judge)]


def _apply(rng: np.random.Generator) -> list[CodeCheck]:
    n = int(rng.choice([7, 9]))
    every = int(rng.integers(3, 7))
    steps = [0, every, 2 * every + 1, 10 * every]

    def expected(step: int) -> list[float]:
        on = set(trainable_reference(step, n, every))
        return [1.0 if i in on else 0.0 for i in range(n)]

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = [decoded(v) for v in vals]
        flags = [[float(x) for x in np.asarray(g).ravel()] if isinstance(g, np.ndarray) else None for g in got]
        share, notes = F(0), []
        for k, step in enumerate(steps):
            f = flags[k] if k < len(flags) else None
            want = expected(step)
            if f == want:
                share += F(1, 2) if k == 0 else F(1, 6)
                continue
            if f is None or len(f) != n:
                notes.append(f"step {step}: could not read which blocks are trainable")
            elif 0.5 in f:
                notes.append(f"step {step}: some blocks are only partly trainable — set requires_grad on every "
                             f"parameter of a block (weights, biases and norm parameters)")
            elif k == 0 and all(x == 1.0 for x in f):
                notes.append("step 0: every block is trainable — freeze the other blocks too (a fresh model has "
                             "requires_grad=True everywhere)")
            elif f == want[::-1]:
                notes.append(f"step {step}: the first blocks are trainable, not the last — unfreeze from the top")
            else:
                notes.append(f"step {step}: trainable blocks {[i for i, x in enumerate(f) if x]}, expected "
                             f"{[i for i, x in enumerate(want) if x]}")
            break  # later steps depend on this one
        return share, "; ".join(notes) or "requires_grad follows the schedule, block by block"

    ops: list[dict[str, Any]] = [{"op": "exec", "helper": "block_model", "args": ["model", n, 3]}]
    for k, step in enumerate(steps):
        ops += [{"op": "call", "func": "apply_progressive_unfreezing", "args": [{"ref": "model"}, step, every]},
                {"op": "exec", "helper": "trainable_blocks", "args": ["model", f"t{k}"]}]
    ops += returns(*(f"t{k}" for k in range(len(steps))))
    return [CodeCheck("24.22.apply", "24.22", "apply_progressive_unfreezing: requires_grad per block", F(2), ops,
                      judge)]


def _progressive(rng: np.random.Generator) -> list[CodeCheck]:
    return [*_trainable_layers(rng), *_apply(rng)]


EXERCISE = Exercise("24.22", "progressive unfreezing: which layers train at each step (a–b)", SPEC, _progressive)

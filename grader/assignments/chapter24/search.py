"""Exercise 24.23 (a–b): the LoRA search space and a grid or random search over it (seed 002, torch).

The grader's objective stands for "train 500 steps and evaluate" (part c): a table of validation losses, one per
configuration, built in the jail by the trusted helper ``table_objective``; it logs every call, so the checks see
how many training runs a search would have cost.
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.chapter24.returned import decoded, int_list, returns, scalar
from grader.code.checks import CodeCheck, NONE, failed

F = Fraction

RANKS = (4, 8, 16, 32, 64)
LRS = (1e-5, 2e-5, 5e-5)
TARGETS = ("qv", "qkvo", "all-linear")

SPEC = """\
search_space() -> a list of the 90 configurations (5 ranks · 2 alphas · 3 learning rates · 3 target sets),
each a dict {"rank": r, "alpha": a, "lr": lr, "targets": t} with r ∈ {4, 8, 16, 32, 64}, a ∈ {r, 2r} (the
value of alpha, not the multiplier), lr ∈ {1e-5, 2e-5, 5e-5}, t ∈ {"qv", "qkvo", "all-linear"}. Accepted
spellings: keys r / lora_alpha / learning_rate / target_modules; targets in any case, with or without
separators ("QV only", "q_v", "QKVO", "all_linear", "all") or as a list of module names (["q_proj", "v_proj"],
["q", "k", "v", "o"], ["all-linear"]).
grid_search(space, objective) and random_search(space, objective, n, seed) -> (best_config, best_loss).
space is a list of config dicts (the grader's, in its own order); objective(config) trains and evaluates one
config and returns its validation loss: lower is better, and each call is a 500-step training run, so call it
exactly once per configuration you evaluate. grid_search evaluates every config; random_search evaluates n
distinct configs (sampled without replacement, n ≤ len(space)), the same ones for the same seed.
best_config is the config (from space) with the lowest loss among those evaluated, best_loss its loss.
"""

Key = tuple[int, float, float, str]


def expected_space() -> set[Key]:
    return {(r, float(a), lr, t) for r in RANKS for a in (r, 2 * r) for lr in LRS for t in TARGETS}


def _targets(t: Any) -> str | None:
    """One of TARGETS from an accepted spelling, else None."""
    if isinstance(t, list):
        names = {re.sub(r"(_?proj)$", "", str(x).lower().replace("-", "_")) for x in t}
        if names in ({"q", "v"}, {"query", "value"}):
            return "qv"
        if names in ({"q", "k", "v", "o"}, {"query", "key", "value", "output"}):
            return "qkvo"
        return "all-linear" if names in ({"all_linear"}, {"all"}) else None
    if not isinstance(t, str):
        return None
    word = re.sub(r"[^a-z]", "", t.lower())
    return {"qv": "qv", "qvonly": "qv", "qkvo": "qkvo", "alllinear": "all-linear", "all": "all-linear",
            "alllinearlayers": "all-linear"}.get(word)


def config_key(config: Any) -> Key | None:
    """(rank, alpha, lr, targets) from a config in any accepted spelling, else None."""
    if not isinstance(config, dict):
        return None

    def field(*names: str) -> Any:
        return next((config[n] for n in names if n in config), None)

    rank, alpha, lr = (scalar(field(*n)) for n in (("rank", "r"), ("alpha", "lora_alpha"), ("lr", "learning_rate")))
    targets = _targets(field("targets", "target_modules"))
    if rank is None or alpha is None or lr is None or targets is None or rank != round(rank):
        return None
    return int(rank), alpha, float(f"{lr:.6g}"), targets


def _space(rng: np.random.Generator) -> list[CodeCheck]:
    want = expected_space()

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = decoded(vals[0])
        if not isinstance(got, dict) or not isinstance(got.get("chunks"), list):
            return NONE, "search_space() must return a list of configuration dicts"
        n = scalar(got.get("n"))
        configs = [c for chunk in got["chunks"] if isinstance(chunk, list) for c in chunk]
        keys = [config_key(c) for c in configs]
        share, notes = F(0), []
        distinct = set(keys)
        if n == 90 and len(distinct) == 90:
            share += F(1, 2)
        else:
            notes.append(f"{n:g} configurations ({len(distinct)} distinct), expected 5·2·3·3 = 90 distinct"
                         if n is not None else "could not count the configurations")
        if None in distinct:
            bad = configs[keys.index(None)]
            notes.append(f"a configuration could not be read: {str(bad)[:120]} — use keys rank, alpha, lr, "
                         f"targets with targets \"qv\", \"qkvo\" or \"all-linear\"")
        elif distinct == want:
            share += F(1, 2)
        elif {(r, a, lr, t) for r, a, lr, t in distinct if a in (1.0, 2.0)} == distinct and \
                {(r, lr, t) for r, _, lr, t in distinct} == {(r, lr, t) for r, _, lr, t in want}:
            notes.append("alpha must be the value r or 2r (e.g. 16 or 32 for rank 16), not the multiplier 1 or 2")
        else:
            missing, extra = sorted(want - distinct), sorted(distinct - want)  # type: ignore[operator]
            notes.append(f"the values differ from the exercise's: e.g. missing {missing[:1]}, unexpected "
                         f"{extra[:1]} (as (rank, alpha, lr, targets))")
        return share, "; ".join(notes) or "90 configurations: rank × alpha ∈ {r, 2r} × lr × targets"

    ops = [{"op": "call", "func": "search_space", "store": "space"},
           {"op": "exec", "helper": "chunked", "args": ["space", 50, "chunks"]}, *returns("chunks")]
    return [CodeCheck("24.23.space", "24.23", "search_space: the 90 configurations", F(2), ops, judge)]


def _table(rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[float]]:
    """The grader's space, shuffled, and a validation loss per configuration (distinct, best one anywhere)."""
    space = [{"rank": r, "alpha": a, "lr": lr, "targets": t}
             for r, lr, t in itertools.product(RANKS, LRS, TARGETS) for a in (r, 2 * r)]
    order = rng.permutation(len(space))
    # a shuffled ladder with small noise: distinct losses, so the best configuration is unique
    losses = np.round(0.8 + 0.0189 * rng.permutation(len(space)) + rng.uniform(0, 0.001, size=len(space)), 6)
    return [space[i] for i in order], [float(x) for x in losses]


def _result(encoded: Any, space: list[dict[str, Any]]) -> tuple[int | None, float | None]:
    """(index in space of the returned best config, returned loss); None for what cannot be read."""
    got = decoded(encoded)
    if not isinstance(got, list) or len(got) != 2:
        return None, None
    key = config_key(got[0])
    index = next((i for i, c in enumerate(space) if config_key(c) == key), None) if key else None
    return index, scalar(got[1])


def _searches(rng: np.random.Generator) -> list[CodeCheck]:
    space, losses = _table(rng)
    best = int(np.argmin(losses))
    worst = int(np.argmax(losses))

    def grid_judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        index, loss = _result(vals[0], space)
        calls = int_list(vals[1]) or []
        share, notes = F(0), []
        if index == best and loss is not None and abs(loss - losses[best]) <= 1e-9:
            share += F(1, 2)
        elif index == worst:
            notes.append("returned the configuration with the highest loss: lower validation loss is better")
        elif index == best:
            notes.append(f"the best config is right but best_loss is {loss}, expected its loss {losses[best]}")
        else:
            notes.append("return (best_config, best_loss): the config of space with the lowest loss, and that loss")
        if sorted(calls) == list(range(len(space))):
            share += F(1, 2)
        elif set(calls) == set(range(len(space))):
            notes.append(f"objective was called {len(calls)} times for {len(space)} configurations: each call is a "
                         f"500-step training run — evaluate each configuration once and keep its loss")
        else:
            notes.append(f"grid search evaluated {len(set(calls))} of the {len(space)} configurations; it must "
                         f"evaluate every one")
        return share, "; ".join(notes) or "every configuration evaluated once, the lowest loss returned"

    n = int(rng.integers(36, 46))  # with replacement, 36 draws of 90 repeat one with probability > 0.999
    seed_a, seed_b = (int(s) for s in rng.choice(10_000, size=2, replace=False))

    def random_judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        index, loss = _result(vals[0], space)
        calls = [int_list(v) or [] for v in vals[1:4]]
        share, notes = F(0), []
        first = calls[0]
        if len(first) == n and len(set(first)) == n:
            share += F(1, 2)
        elif len(set(first)) < len(first):
            notes.append(f"{len(first) - len(set(first))} configurations were evaluated twice: sample without "
                         f"replacement (random.sample), and call objective once per configuration")
        else:
            notes.append(f"evaluated {len(first)} configurations, expected n = {n}")
        tried = [i for i in first if 0 <= i < len(space)]
        best_tried = min(tried, key=lambda i: losses[i]) if tried else None
        if best_tried is not None and index == best_tried and loss is not None and abs(loss - losses[index]) <= 1e-9:
            share += F(1, 4)
        elif tried and index == max(tried, key=lambda i: losses[i]):
            notes.append("returned the evaluated configuration with the highest loss: lower validation loss is better")
        else:
            notes.append("return (best_config, best_loss): the evaluated config with the lowest loss, and that loss")
        if calls[0] == calls[1] and calls[0] != calls[2]:
            share += F(1, 4)
        elif calls[0] != calls[1]:
            notes.append("the same seed gave different samples: draw from random.Random(seed) (or a seeded "
                         "generator), not the global state")
        else:
            notes.append("two different seeds gave the same sample: the seed argument must choose the sample")
        return share, "; ".join(notes) or f"{n} distinct configurations, the best of them, reproducible by seed"

    def table(name: str, log: str) -> dict[str, Any]:
        return {"op": "exec", "helper": "table_objective", "args": [name, space, losses, log]}

    grid_ops = [table("objective", "calls"),
                {"op": "call", "func": "grid_search", "args": [space, {"ref": "objective"}], "store": "best"},
                *returns("best", "calls")]
    random_ops = [table("obj_a", "calls_a"), table("obj_a2", "calls_a2"), table("obj_b", "calls_b"),
                  {"op": "call", "func": "random_search", "args": [space, {"ref": "obj_a"}, n, seed_a],
                   "store": "best"},
                  {"op": "call", "func": "random_search", "args": [space, {"ref": "obj_a2"}, n, seed_a]},
                  {"op": "call", "func": "random_search", "args": [space, {"ref": "obj_b"}, n, seed_b]},
                  *returns("best", "calls_a", "calls_a2", "calls_b")]
    return [CodeCheck("24.23.grid", "24.23", "grid_search: every config once, the lowest loss", F(2), grid_ops,
                       grid_judge),
            CodeCheck("24.23.random", "24.23", "random_search: n distinct configs, seeded", F(2), random_ops,
                       random_judge)]


def _search(rng: np.random.Generator) -> list[CodeCheck]:
    return [*_space(rng), *_searches(rng)]


EXERCISE = Exercise("24.23", "hyperparameter search for LoRA: the space, grid and random search (a–b)", SPEC, _search)

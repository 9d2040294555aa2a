"""Exercise 24.17: multi-LoRA serving (seed 002, torch).

One base model, three adapters, switched at inference time: whatever the server does (LoRA paths beside the
frozen base, or merging into the base weights on each switch), each output must be the merged model's,
W + scaling·B·A on the adapter's layers, which the judge computes itself from the weights it supplied.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, as_array, close, failed, tensor

F = Fraction

SPEC = """\
class MultiLoRAServer: __init__(self, base: nn.Module), the model to serve (the grader's is an
nn.Sequential Linear(16, 32) → ReLU → Linear(32, 32) → ReLU → Linear(32, 8), its linears named "0", "2",
"4" in base.named_modules()). load_adapter(name, weights, scaling=1.0): weights maps a linear's name to
{"A": r × in_features tensor, "B": out_features × r tensor}; an adapter may touch only some linears, and
adapters may differ in rank; its update to that linear is ΔW = scaling · B @ A. Loading does not activate
an adapter. set_adapter(name) makes it the active one (None: the base model alone). forward(x) returns
the output with the active adapter, which must equal the merged model's (W + ΔW): keeping the LoRA paths
beside the base or merging into the base weights on each switch are both accepted, but after
set_adapter(None) the base model passed in must compute its original function again.
Not graded: (c) the latency of switching, (d) timing three merged models.
"""

LAYERS = ("0", "2", "4")
SIZES = ((16, 32), (32, 32), (32, 8))  # (in, out) of each linear


def forward(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    h = x
    for i, (w, b) in enumerate(weights):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return h


def _multi_lora(rng: np.random.Generator) -> list[CodeCheck]:
    base = [(rng.normal(size=(o, i)) / np.sqrt(i), rng.normal(size=o) * 0.1) for i, o in SIZES]
    x = rng.normal(size=(5, 16))
    plans = {"support": (2, ("0", "4"), 2.0), "legal": (4, ("2",), 0.5), "code": (8, LAYERS, 1.0)}
    adapters: dict[str, tuple[dict[str, dict[str, np.ndarray]], float]] = {}
    for name, (r, layers, scaling) in plans.items():
        weights = {}
        for layer in layers:
            i, o = SIZES[LAYERS.index(layer)]
            weights[layer] = {"A": rng.normal(size=(r, i)) * 0.3, "B": rng.normal(size=(o, r)) * 0.3 / np.sqrt(r)}
        adapters[name] = (weights, scaling)

    def delta(name: str, layer: str, *, scaled: bool = True) -> np.ndarray:
        weights, scaling = adapters[name]
        i, o = SIZES[LAYERS.index(layer)]
        if layer not in weights:
            return np.zeros((o, i))
        return (scaling if scaled else 1.0) * weights[layer]["B"] @ weights[layer]["A"]

    def output(names: list[str], *, scaled: bool = True) -> np.ndarray:
        """The base with the updates of ``names`` added (one name: that adapter merged)."""
        merged = []
        for layer, (w, b) in zip(LAYERS, base):
            merged.append((w + sum((delta(n, layer, scaled=scaled) for n in names), np.zeros_like(w)), b))
        return forward(merged, x)

    y_base = forward(base, x)
    sequence = ["support", "legal", "code", "support", "code"]

    def ok(y: np.ndarray | None, want: np.ndarray) -> bool:
        return close(y, want, rtol=1e-4, atol=1e-4)

    def judge_switch(vals, err):
        if vals is None:
            return failed(err)
        ys = [as_array(v) for v in vals]
        right = [ok(y, output([name])) for y, name in zip(ys, sequence)]
        share = F(sum(right), len(sequence))
        if all(right):
            return share, "every switch serves exactly its adapter's merged model"
        first = right.index(False)
        y, name = ys[first], sequence[first]
        if ok(y, output(sequence[:first + 1])):
            why = ("the adapters accumulate: switching added the new update on top of the previous one; remove "
                   "the previous adapter (restore W, or unmerge) before applying the next")
        elif ok(y, output([name], scaled=False)):
            why = "the update is B @ A without its scaling: ΔW = scaling · B @ A"
        elif ok(y, y_base):
            why = "the base model's output: set_adapter did not activate the adapter"
        elif first > 0 and ok(y, output([sequence[first - 1]])):
            why = "the previous adapter's output: set_adapter did not switch"
        else:
            why = "the output differs from the merged model's, W + scaling · B @ A on the adapter's layers"
        return share, f"switch {first + 1} (to {name!r}): {why}"

    def judge_base(vals, err):
        if vals is None:
            return failed(err)
        before, none, direct = (as_array(v) for v in vals)
        share, notes = F(0), []
        if ok(before, y_base):
            share += F(1, 3)
        else:
            notes.append("before any set_adapter the server must serve the base model: loading does not activate")
        if ok(none, y_base):
            share += F(1, 3)
        else:
            notes.append("after set_adapter(None) forward must be the base model's")
        if ok(direct, y_base):
            share += F(1, 3)
        else:
            notes.append("after set_adapter(None) the base model passed in still computes something else: restore "
                         "its weights (or keep the adapters outside it)")
        return share, "; ".join(notes) or "the base model is served, and left as it was, with no adapter active"

    setup = [{"op": "exec", "helper": "mlp", "args": ["base", [[tensor(w), tensor(b)] for w, b in base]]},
             {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
             {"op": "new", "cls": "MultiLoRAServer", "args": [{"ref": "base"}], "store": "srv"},
             *[load(name, adapters[name]) for name in plans]]

    def run(store: str) -> dict[str, Any]:
        return {"op": "call", "obj": "srv", "func": "forward", "args": [{"ref": "x"}], "store": store}

    def switch(name: str | None) -> dict[str, Any]:
        return {"op": "call", "obj": "srv", "func": "set_adapter", "args": [name]}

    switches = []
    for i, name in enumerate(sequence):
        switches += [switch(name), run(f"y{i}")]
    return [
        CodeCheck("24.17.switch", "24.17", "switching serves each adapter's merged model", F(3),
                  [*setup, *switches, *[{"op": "return", "ref": f"y{i}"} for i in range(len(sequence))]],
                  judge_switch),
        CodeCheck("24.17.base", "24.17", "no adapter: the base model, left as it was", F(1),
                  [*setup, run("before"), switch("support"), run("on"), switch(None), run("none"),
                   {"op": "exec", "helper": "call_model", "args": ["base", "x", "direct"]},
                   *[{"op": "return", "ref": r} for r in ("before", "none", "direct")]], judge_base),
    ]


def load(name: str, adapter: tuple[dict[str, dict[str, np.ndarray]], float]) -> dict[str, Any]:
    weights, scaling = adapter
    return {"op": "call", "obj": "srv", "func": "load_adapter",
            "args": [name, {layer: {"A": tensor(ab["A"]), "B": tensor(ab["B"])} for layer, ab in weights.items()}],
            "kwargs": {"scaling": scaling}}


EXERCISE = Exercise("24.17", "multi-LoRA serving", SPEC, _multi_lora)

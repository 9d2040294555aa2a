"""Exercise 9.11: LoRAManager: add, switch, merge, combine (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
LoRAManager(base_model): base_model is a dict layer name → W (out × in); lora_weights is a dict
layer name → {"A": A, "B": B} with ΔW = B @ A. merge_adapter(name) adds ΔW to base_model in place;
add_adapter and switch_adapter must not change base_model; combine_adapters must run (combining ΔW
or combining A and B are both accepted readings).
"""


def _manager(rng: np.random.Generator) -> list[CodeCheck]:
    W = rng.normal(size=(6, 5))
    A1, B1 = rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    A2, B2 = rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    setup = [{"op": "new", "cls": "LoRAManager", "args": [{"layer": arr(W)}], "store": "mgr"},
             {"op": "call", "obj": "mgr", "func": "add_adapter", "args": ["t1", {"layer": {"A": arr(A1), "B": arr(B1)}}]},
             {"op": "call", "obj": "mgr", "func": "add_adapter", "args": ["t2", {"layer": {"A": arr(A2), "B": arr(B2)}}]}]

    def switch(vals, err):
        if vals is None:
            return failed(err)
        return (FULL, "switching leaves the base weights alone") if close(as_array(vals[0]), W) else (
            NONE, "add_adapter/switch_adapter changed base_model; only merge_adapter may")

    def merge(vals, err):
        if vals is None:
            return failed(err)
        got = as_array(vals[0])
        if close(got, W + B1 @ A1):
            return FULL, "base_model['layer'] = W + B @ A"
        if close(got, W):
            return NONE, "merge_adapter did not change base_model"
        return NONE, "merged weight is not W + B @ A"

    def combine(vals, err):
        return (FULL, "combine_adapters ran") if vals is not None else failed(err)

    base = {"op": "get", "obj": "mgr", "attr": "base_model.layer", "store": "w"}
    return [
        CodeCheck("9.11.switch", "9.11", "add/switch keep the base", F(1),
                  [*setup, {"op": "call", "obj": "mgr", "func": "switch_adapter", "args": ["t2"]}, base, *returns("w")],
                  switch),
        CodeCheck("9.11.merge", "9.11", "merge_adapter adds B @ A", F(2),
                  [*setup, {"op": "call", "obj": "mgr", "func": "merge_adapter", "args": ["t1"]}, base, *returns("w")],
                  merge),
        CodeCheck("9.11.combine", "9.11", "combine_adapters runs", F(1),
                  [*setup, {"op": "call", "obj": "mgr", "func": "combine_adapters", "args": [["t1", "t2"], [0.5, 0.5]]},
                   base, *returns("w")], combine),
    ]


EXERCISE = Exercise("9.11", "LoRAManager: add, switch, merge, combine", SPEC, _manager)

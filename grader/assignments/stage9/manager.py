"""Exercise 9.11: LoRAManager: add, switch, merge, combine (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, value
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
LoRAManager(base_model): base_model is a dict layer name → W (out × in); lora_weights is a dict
layer name → {"A": A, "B": B} with ΔW = B @ A. add_adapter and switch_adapter are judged by their
effect: the grader adds t1 and t2, switches to t1, then to t2, and reads the manager after each
switch. Accepted readings of "switch to a different adapter":
  (1) base kept: base_model[layer] stays W and the manager records the active adapter — an attribute
      holding its name (e.g. self.active = name) or the very dict it keeps in self.adapters[name];
  (2) merged on switch: base_model[layer] = W + B @ A of the active adapter only (the previous one
      unmerged first).
The feedback names the reading graded. merge_adapter(name) adds ΔW to base_model in place;
combine_adapters(names, weights) is judged by its effect: the combination must be found afterwards as a
stored adapter's B @ A (e.g. adapters["combined"]), merged into base_model, or returned. Both readings of
"linearly combine" count: ΔW = Σ wᵢ·BᵢAᵢ, or A and B combined, (Σ wᵢBᵢ)(Σ wᵢAᵢ).
"""


def _manager(rng: np.random.Generator) -> list[CodeCheck]:
    W = rng.normal(size=(6, 5))
    A1, B1 = rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    A2, B2 = rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    setup = [{"op": "new", "cls": "LoRAManager", "args": [{"layer": arr(W)}], "store": "mgr"},
             {"op": "call", "obj": "mgr", "func": "add_adapter", "args": ["t1", {"layer": {"A": arr(A1), "B": arr(B1)}}]},
             {"op": "call", "obj": "mgr", "func": "add_adapter", "args": ["t2", {"layer": {"A": arr(A2), "B": arr(B2)}}]}]

    d1, d2 = B1 @ A1, B2 @ A2

    def switch(vals, err):
        if vals is None:
            return failed(err)
        views = [value(v) if i < len(vals) else None for i, v in enumerate([*vals[:2], None, None][:2])]
        views = [v if isinstance(v, dict) else {} for v in views]
        b1, b2 = (as_array(v.get("base")) for v in views)
        marks = [{m for m in v["marks"] if isinstance(m, str)} if isinstance(v.get("marks"), list) else set()
                 for v in views]
        if b1 is None or b2 is None:
            return NONE, "base_model['layer'] could not be read back as an array after switch_adapter"
        if close(b1, W) and close(b2, W):
            moved = sorted(marks[0] & marks[1])
            if moved:
                return FULL, (f"graded reading (1), base kept: base_model unchanged and self.{moved[0]} names the "
                              "active adapter (t1, then t2)")
            return NONE, ("switch_adapter had no visible effect: base_model is unchanged and no attribute names the "
                          "active adapter — record it (e.g. self.active = name) or merge it into base_model, "
                          "unmerging the previous one")
        if close(b2, W + d2):
            if close(b1, W + d1):
                return FULL, ("graded reading (2), merged on switch: base_model = W + B·A of the active adapter "
                              "(t1, then t2 with t1 unmerged)")
            return F(1, 2), ("switching to t2 gives W + B₂A₂, but after switching to t1 base_model was neither W "
                             "nor W + B₁A₁")
        if close(b2, W + d1 + d2):
            return NONE, ("switching to t2 left t1's ΔW in base_model (W + B₁A₁ + B₂A₂): unmerge the previous "
                          "adapter before merging the next — or leave base_model alone and record the active one")
        if close(b2, W + d1):
            return NONE, "after switch_adapter('t2') base_model still holds t1's ΔW: the switch did not take effect"
        return NONE, ("after switch_adapter('t2') base_model['layer'] is neither W (base kept, adapter recorded as "
                      "active) nor W + B₂A₂ (adapter merged on switch)")

    def merge(vals, err):
        if vals is None:
            return failed(err)
        got = as_array(vals[0])
        if close(got, W + B1 @ A1):
            return FULL, "base_model['layer'] = W + B @ A"
        if close(got, W):
            return NONE, "merge_adapter did not change base_model"
        return NONE, "merged weight is not W + B @ A"

    weights = (0.5, 0.25)  # unequal: a combination that ignores them is told apart
    by_delta = weights[0] * B1 @ A1 + weights[1] * B2 @ A2
    by_factors = (weights[0] * B1 + weights[1] * B2) @ (weights[0] * A1 + weights[1] * A2)

    def combine(vals, err):
        if vals is None:
            return failed(err)
        seen = value(vals[0])
        if not isinstance(seen, dict):
            return NONE, "combine_adapters left nothing the grader could read"
        found = [as_array(m) for m in (seen.get("deltas") or [])]
        base, returned = as_array(seen.get("base")), as_array(seen.get("returned"))
        candidates = [*found, None if base is None or base.shape != W.shape else base - W, returned,
                      None if returned is None or returned.shape != W.shape else returned - W]
        for got in candidates:
            if close(got, by_delta):
                return FULL, "the combination is Σ wᵢ·BᵢAᵢ (combining the ΔW)"
            if close(got, by_factors):
                return FULL, "the combination is (Σ wᵢBᵢ)(Σ wᵢAᵢ) (combining A and B)"
        if any(close(got, B1 @ A1 + B2 @ A2) for got in candidates):
            return NONE, "the adapters are added without their weights: ΔW = Σ wᵢ·BᵢAᵢ"
        return NONE, ("no trace of the combination: after combine_adapters the grader looks for Σ wᵢ·BᵢAᵢ (or "
                      "(Σ wᵢBᵢ)(Σ wᵢAᵢ)) as a stored adapter's B @ A, in base_model, or as the return value")

    base = {"op": "get", "obj": "mgr", "attr": "base_model.layer", "store": "w"}
    return [
        CodeCheck("9.11.switch", "9.11", "add/switch: the active adapter's effect", F(1),
                  [*setup, *[op for name in ("t1", "t2") for op in (
                      {"op": "call", "obj": "mgr", "func": "switch_adapter", "args": [name]},
                      {"op": "exec", "helper": "manager_view", "args": ["mgr", "layer", name, f"view_{name}"]})],
                   *returns("view_t1", "view_t2")], switch),
        CodeCheck("9.11.merge", "9.11", "merge_adapter adds B @ A", F(2),
                  [*setup, {"op": "call", "obj": "mgr", "func": "merge_adapter", "args": ["t1"]}, base, *returns("w")],
                  merge),
        CodeCheck("9.11.combine", "9.11", "combine_adapters: the weighted combination", F(1),
                  [*setup, {"op": "call", "obj": "mgr", "func": "combine_adapters", "args": [["t1", "t2"], list(weights)],
                            "store": "returned"},
                   {"op": "exec", "helper": "combination_view", "args": ["mgr", "layer", "returned", "seen"]},
                   *returns("seen")], combine),
    ]


EXERCISE = Exercise("9.11", "LoRAManager: add, switch, merge, combine", SPEC, _manager)

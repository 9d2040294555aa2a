"""Exercise 24.12: merge_lora and unmerge_lora (seed 002, torch)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, as_array, close, failed, tensor
from grader.assignments.chapter24.lora import apply_lora, function_form, reading_data
from grader.assignments.chapter24.plan import torch_model

F = Fraction

SPEC = """\
merge_lora(model) folds (alpha/r)·B·A into every LoRA layer's base weight (the layer then skips its
LoRA path); unmerge_lora(model) restores the original weights. Both return the model. The model is
built as in 24.11, in either of its readings. Accepted readings of the two functions: merge_lora(model)
and unmerge_lora(model); or, if the submission defines no such function, every LoRA layer's own
merge_weights() (Lesson 19's LinearWithLoRA.merge_weights, seed 004) and unmerge_weights(). Note that
Lesson 19's merge_weights as printed never switches the LoRA path off: after it, the output counts ΔW
twice — the merge must also stop the layer from adding its LoRA path. The feedback names the reading graded.
"""

FOLD_FUNCTIONS = {"merge": ["merge_lora"], "unmerge": ["unmerge_lora"]}
FOLD_METHODS = {"merge": ["merge_weights"], "unmerge": ["unmerge_weights"]}


def fold_reading(encoded: Any, kind: str) -> str:
    """Which merge (or unmerge) was called, checked against the grader's own candidate names."""
    name = reading_data(encoded).get("name")
    if not isinstance(name, str):
        return ""
    if name in FOLD_FUNCTIONS[kind]:
        return f"{name}(model)"
    method = name.rpartition(".")[2]
    return f"each LoRA layer's {method}()" if method in FOLD_METHODS[kind] else ""


def _merge(rng: np.random.Generator) -> list[CodeCheck]:
    x = rng.normal(size=(4, 16))

    def judge(vals, err):
        if vals is None:
            return failed(err)
        vals = [*vals, *[None] * 9][:9]  # a short record judges as missing values, never raises
        y_lora, y_merged, w0, w_merged, w_back, y_double = (as_array(v) for v in vals[:6])
        readings = [r for r in (fold_reading(vals[6], "merge"), fold_reading(vals[7], "unmerge")) if r]
        built = function_form(vals[8])
        graded = (f" (graded {' and '.join(readings)}" + (f", on a model built by {built}" if built else "") + ")"
                  if readings else "")
        share, notes = F(0), []
        folded = (w0 is not None and w_merged is not None and w_merged.shape == w0.shape
                  and not close(w_merged, w0, rtol=1e-7, atol=0))
        if folded and y_lora is not None and close(y_merged, y_lora, rtol=1e-4, atol=1e-5):
            share += F(2, 3)
        elif not folded:
            notes.append("merging left the base weights unchanged: fold (alpha/r)·B·A into each base weight")
        elif y_double is not None and close(y_merged, y_double, rtol=1e-4, atol=1e-5):
            notes.append("after merging, the output counts ΔW twice: the base weight holds W₀ + (alpha/r)·B·A, "
                         "yet the layer still adds its LoRA path — switch the LoRA path off once merged (Lesson 19's "
                         "LinearWithLoRA.merge_weights, as printed, never does)")
        else:
            notes.append("the merged model's output differs from the LoRA model's: merge W + (alpha/r)·B·A and skip "
                         "the LoRA path afterwards")
        if folded and close(w_back, w0, rtol=1e-5, atol=1e-6):
            share += F(1, 3)
        else:
            notes.append("unmerge_lora must restore the original weights exactly (within float rounding)")
        return share, ("; ".join(notes) or "merged == LoRA output; unmerge restores W₀") + graded

    fold = [{"op": "exec", "helper": "fold_lora", "args": ["m", FOLD_FUNCTIONS[kind], FOLD_METHODS[kind],
                                                          f"{kind}_reading"]} for kind in ("merge", "unmerge")]
    ops = [*torch_model(2), {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
           apply_lora("model", 4, 8, "m"),
           {"op": "exec", "helper": "perturb_lora_B", "args": ["m", 11]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w0"]},
           {"op": "exec", "helper": "call_model", "args": ["m", "x", "y_lora"]},
           {"op": "exec", "helper": "call_model_double_lora", "args": ["m", "x", "y_double"]},
           fold[0],
           {"op": "exec", "helper": "call_model", "args": ["m", "x", "y_merged"]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w_merged"]},
           fold[1],
           {"op": "exec", "helper": "first_weight", "args": ["m", "w_back"]},
           *[{"op": "return", "ref": n} for n in ("y_lora", "y_merged", "w0", "w_merged", "w_back", "y_double",
                                                  "merge_reading", "unmerge_reading", "m_reading")]]
    return [CodeCheck("24.12.merge", "24.12", "merge == unmerged; unmerge restores", F(3), ops, judge)]


EXERCISE = Exercise("24.12", "merge_lora and unmerge_lora", SPEC, _merge)

"""Exercise 24.12: merge_lora and unmerge_lora (seed 002, torch)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, as_array, close, failed, tensor
from grader.assignments.chapter24.plan import torch_model

F = Fraction

SPEC = """\
merge_lora(model) folds (alpha/r)·B·A into every LoRALayer's base weight (the layer then skips its
LoRA path); unmerge_lora(model) restores the original weights. Both return the model.
"""


def _merge(rng: np.random.Generator) -> list[CodeCheck]:
    x = rng.normal(size=(4, 16))

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y_lora, y_merged, w0, w_merged, w_back = (as_array(v) for v in vals)
        share, notes = F(0), []
        if close(y_merged, y_lora, rtol=1e-4, atol=1e-5):
            share += F(2, 3)
        else:
            notes.append("the merged model's output differs from the LoRA model's: merge W + (alpha/r)·B·A and skip "
                         "the LoRA path afterwards")
        if w0 is not None and close(w_back, w0, rtol=1e-5, atol=1e-6) and not close(w_merged, w0, rtol=1e-7, atol=0):
            share += F(1, 3)
        else:
            notes.append("unmerge_lora must restore the original weights exactly (within float rounding)")
        return share, "; ".join(notes) or "merged == LoRA output; unmerge restores W₀"

    ops = [*torch_model(2), {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
           {"op": "call", "func": "replace_linear_with_lora", "args": [{"ref": "model"}], "kwargs": {"r": 4, "alpha": 8},
            "store": "m"},
           {"op": "exec", "helper": "perturb_lora_B", "args": ["m", 11]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w0"]},
           {"op": "exec", "helper": "call_model", "args": ["m", "x", "y_lora"]},
           {"op": "call", "func": "merge_lora", "args": [{"ref": "m"}]},
           {"op": "exec", "helper": "call_model", "args": ["m", "x", "y_merged"]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w_merged"]},
           {"op": "call", "func": "unmerge_lora", "args": [{"ref": "m"}]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w_back"]},
           *[{"op": "return", "ref": n} for n in ("y_lora", "y_merged", "w0", "w_merged", "w_back")]]
    return [CodeCheck("24.12.merge", "24.12", "merge == unmerged; unmerge restores", F(3), ops, judge)]


EXERCISE = Exercise("24.12", "merge_lora and unmerge_lora", SPEC, _merge)

"""Exercise 9.12: 4-bit quantization and QLoRALayer (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
quantize_to_4bit(w) -> (q, scale, zero_point) with q integers in [0, 15] (16 levels);
dequantize_4bit(q, scale, zero_point) -> float array; QLoRALayer(q, scale, zero_point, rank).forward(x)
returns x @ dequantize(q).T + the LoRA path (B = 0 at init).
"""


def _qlora(rng: np.random.Generator) -> list[CodeCheck]:
    w = rng.normal(size=(12, 10))
    x = rng.normal(size=(3, 10))
    step = (w.max() - w.min()) / 15

    def quant(vals, err):
        if vals is None:
            return failed(err)
        q, deq = as_array(vals[0]), as_array(vals[1])
        notes, share = [], F(0)
        if q is not None and q.shape == w.shape and np.all(q == np.round(q)) and q.min() >= 0 and q.max() <= 15:
            levels = len(np.unique(q))
            share += F(1, 2) if levels <= 16 else 0
        else:
            levels = len(np.unique(q)) if q is not None else 0
            notes.append(f"q must hold integers in [0, 15] (4 bits: 16 levels); got {levels} levels"
                         + (f", from {q.min():g} to {q.max():g}" if q is not None and q.size else ""))
        if deq is not None and deq.shape == w.shape and np.max(np.abs(deq - w)) <= step / 2 * 1.001 + 1e-12:
            share += F(1, 2)
        else:
            err_ = float(np.max(np.abs(deq - w))) if deq is not None and deq.shape == w.shape else float("nan")
            notes.append(f"round-trip error {err_:.3g} exceeds half a step ({step / 2:.3g}): check scale and zero_point")
        return share, "; ".join(notes) or "16 levels, round trip within half a step"

    ops = [{"op": "call", "func": "quantize_to_4bit", "args": [arr(w)], "store": "qs"},
           {"op": "index", "obj": "qs", "key": 0, "store": "q"}, {"op": "index", "obj": "qs", "key": 1, "store": "s"},
           {"op": "index", "obj": "qs", "key": 2, "store": "z"},
           {"op": "call", "func": "dequantize_4bit", "args": [{"ref": "q"}, {"ref": "s"}, {"ref": "z"}], "store": "d"}]

    def layer(vals, err):
        if vals is None:
            return failed(err)
        deq, y = as_array(vals[0]), as_array(vals[1])
        if deq is None:
            return NONE, "dequantize_4bit returned no array"
        if close(y, x @ deq.T, rtol=1e-6, atol=1e-8):
            return FULL, "forward = x · dequantize(W)ᵀ at init"
        return NONE, f"QLoRALayer.forward gave {shape_text(y)}; expected x @ dequantize(q).T (B = 0 at init)"

    return [CodeCheck("9.12.quantize", "9.12", "4-bit quantize/dequantize", F(2), [*ops, *returns("q", "d")], quant),
            CodeCheck("9.12.qlora", "9.12", "QLoRALayer forward at init", F(2),
                      [*ops, {"op": "new", "cls": "QLoRALayer", "args": [{"ref": "q"}, {"ref": "s"}, {"ref": "z"}],
                              "kwargs": {"rank": 4}, "store": "L"},
                       {"op": "call", "obj": "L", "func": "forward", "args": [arr(x)], "store": "y"}, *returns("d", "y")],
                      layer)]


EXERCISE = Exercise("9.12", "4-bit quantization and QLoRALayer", SPEC, _qlora)

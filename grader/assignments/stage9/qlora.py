"""Exercise 9.12: 4-bit quantization and QLoRALayer (seeds 000/001).

Judged by effect, whatever the scheme: the grader decodes every 4-bit code with the submission's own
dequantize_4bit (and its own scale and zero_point) in every position, so it knows the 16 levels each weight
could have been given — and checks that each weight was given the nearest one, and that the levels span the
weights. That bound fits any scheme (uniform min–max, symmetric absmax, NF4's code book, per tensor, per row
or per block) and needs no knowledge of how scale and zero_point are laid out.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text, value
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
quantize_to_4bit(w) -> (q, scale, zero_point); dequantize_4bit(q, scale, zero_point) -> float array of
w's shape; QLoRALayer(q, scale, zero_point, rank).forward(x) returns x @ dequantize(q).T + the LoRA
path (B = 0 at init). Any 4-bit scheme is accepted: q holds integer codes, all in [0, 15] or all in
[-8, 7] (16 levels), as many as w has; scale and zero_point may be numbers, per-row or per-block arrays,
a code book, or None — at most one distinct constant per 4 weights, so that storage stays near 4 bits.
Uniform min–max, symmetric absmax (levels ±7·step or -8…7), and QLoRA's NF4 code book (times absmax
per block) are all readings the grader accepts. It decodes each of the 16 codes with your
dequantize_4bit, scale and zero_point to find the levels open to each weight, and requires each weight
to be decoded to its nearest level (round-trip error at most half the gap to the neighbouring level)
with the levels spanning the weights (no clipping). The feedback names the scheme it found.
"""

# QLoRA's NF4 code book (Dettmers et al. 2023, appendix E), as printed in bitsandbytes
# (bitsandbytes/functional.py, get_4bit_type("nf4")); the same values as peftcalc.verify.checks.PUBLISHED_NF4,
# which builds them from N(0, 1) quantiles (tests/grader/assignments/test_seed_readings.py compares the two).
NF4 = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0)


def constants(encoded: Any) -> list[float] | None:
    """Every number in scale or zero_point as they came back (plain data), for counting the scheme's constants;
    None if some part could not be read back (then they cannot be counted)."""
    if encoded is None or isinstance(encoded, bool):
        return []
    if isinstance(encoded, (int, float)):
        return [float(encoded)]
    if isinstance(encoded, str):
        return None if encoded.lower() not in ("nan", "inf", "-inf") else [float(encoded)]
    if not isinstance(encoded, dict) or "unencodable" in encoded:
        return None
    if "b64" in encoded:
        got = as_array(encoded)
        return None if got is None else [float(v) for v in got.ravel()]
    items = encoded.get("seq") if "seq" in encoded else list((encoded.get("dict") or {}).values())
    parts = [constants(item) for item in items] if isinstance(items, list) else [None]
    return None if any(p is None for p in parts) else [n for p in parts for n in p]


def describe_scheme(levels: np.ndarray) -> str:
    """Names the scheme from its levels ([16, n]: the 16 codes' values in each of n positions)."""
    span = np.abs(levels).max(axis=0)
    groups = len(np.unique(np.round(levels.T, 9), axis=0))
    where = "one set of levels for the whole tensor" if groups == 1 else f"{groups} sets of levels (per row or block)"
    unit = np.sort(levels, axis=0) / np.where(span > 0, span, 1)
    if np.allclose(unit, np.asarray(NF4)[:, None], atol=1e-4):
        return f"QLoRA's NF4 code book × absmax, {where}"
    gaps = np.diff(np.sort(levels, axis=0), axis=0)
    if np.allclose(gaps, gaps[:1], rtol=1e-6, atol=1e-12):
        return f"16 uniform levels, {where}"
    return f"a 16-level code book, {where}"


def judge_round_trip(w: np.ndarray, deq: np.ndarray | None, probe: Any,
                     numbers: list[float] | None) -> tuple[bool, str]:
    """Each weight decoded to the nearest of the levels open to it, the levels spanning the weights."""
    if deq is None or deq.shape != w.shape:
        return False, f"dequantize_4bit returned {shape_text(deq)}; expected w's shape {w.shape}"
    if not isinstance(probe, dict) or "levels" not in probe:
        why = probe.get("error") if isinstance(probe, dict) else None
        return False, f"dequantize_4bit failed when given each of the 16 codes in turn: {why or 'no levels came back'}"
    levels = probe["levels"]
    if not isinstance(levels, np.ndarray) or levels.shape != (16, *w.shape) or not np.isfinite(levels).all():
        return False, f"decoding each of the 16 codes gave {shape_text(levels)}; expected 16 arrays of w's shape"
    if not np.isfinite(deq).all():
        return False, "dequantize_4bit returned NaN or infinite values"
    if numbers is None:
        return False, ("what quantize_to_4bit returns beside q could not be read back as numbers, so the scheme's "
                       "constants cannot be counted")
    if len(set(numbers)) > max(1, w.size // 4):
        return False, (f"{len(set(numbers))} distinct constants returned beside q for {w.size} weights: a 4-bit "
                       "scheme keeps at most one per 4 weights (per tensor, per row or per block)")
    flat_w, flat_d, lv = w.ravel(), deq.ravel(), levels.reshape(16, -1)
    tol = 1e-6 * float(np.abs(w).max()) + 1e-12
    off_level = np.abs(lv - flat_d).min(axis=0) > tol
    if off_level.any():
        i = int(np.argmax(off_level))
        return False, (f"{int(off_level.sum())} of {w.size} weights decode to a value no code gives: e.g. "
                       f"{flat_d[i]:.4g}, while decoding the 16 codes there gives "
                       f"{', '.join(f'{v:.4g}' for v in np.unique(lv[:, i]))}")
    lo, hi = lv.min(axis=0), lv.max(axis=0)
    outside = (flat_w < lo - tol) | (flat_w > hi + tol)
    if outside.any():
        i = int(np.argmax(outside))
        edge = hi[i] if flat_w[i] > hi[i] else lo[i]
        return False, (f"{int(outside.sum())} of {w.size} weights lie outside the levels open to them: e.g. "
                       f"w = {flat_w[i]:.4g}, but its levels end at {edge:.4g} "
                       f"(clipped by {abs(flat_w[i] - edge):.3g}); "
                       "the 16 levels must span the weights (e.g. 15 steps from min to max, or ±absmax)")
    err, best = np.abs(flat_w - flat_d), np.abs(lv - flat_w).min(axis=0)
    far = err > best + tol
    if far.any():
        i = int(np.argmax(far))
        nearest = lv[np.argmin(np.abs(lv[:, i] - flat_w[i])), i]
        return False, (f"{int(far.sum())} of {w.size} weights are not decoded to their nearest level: e.g. "
                       f"w = {flat_w[i]:.4g} decodes to {flat_d[i]:.4g}, but {nearest:.4g} is a level (the round-trip "
                       "error must be at most half the gap to the neighbouring level)")
    return True, f"each weight decodes to its nearest level ({describe_scheme(lv)}); max error {err.max():.3g}"


def _qlora(rng: np.random.Generator) -> list[CodeCheck]:
    w = rng.normal(size=(12, 10))
    x = rng.normal(size=(3, 10))

    def quant(vals, err):
        if vals is None:
            return failed(err)
        q, deq, probe = as_array(vals[0]), as_array(vals[1]), value(vals[2])
        notes, share = [], F(0)
        if q is not None and q.size == w.size and np.isfinite(q).all() and np.all(q == np.round(q)) and (
                (q.min() >= 0 and q.max() <= 15) or (q.min() >= -8 and q.max() <= 7)) and len(np.unique(q)) > 1:
            share += F(1, 2)
        else:
            shown = (f"{len(np.unique(q))} distinct values from {q.min():g} to {q.max():g}"
                     if q is not None and q.size and np.isfinite(q).all() else shape_text(q))
            notes.append(f"q must hold one integer code of 4 bits per weight ({w.size}), all in [0, 15] or all in "
                         f"[-8, 7] (16 levels); got {q.size if q is not None else 0} values, {shown}")
        numbers = [constants(v) for v in vals[3:5]]
        ok, message = judge_round_trip(w, deq, probe, None if None in numbers else [n for p in numbers for n in p])
        if ok:
            share += F(1, 2)
        notes.append(message)
        return share, "; ".join(notes)

    ops = [{"op": "call", "func": "quantize_to_4bit", "args": [arr(w)], "store": "qs"},
           {"op": "index", "obj": "qs", "key": 0, "store": "q"}, {"op": "index", "obj": "qs", "key": 1, "store": "s"},
           {"op": "index", "obj": "qs", "key": 2, "store": "z"},
           {"op": "call", "func": "dequantize_4bit", "args": [{"ref": "q"}, {"ref": "s"}, {"ref": "z"}], "store": "d"}]

    def layer(vals, err):
        if vals is None:
            return failed(err)
        deq, y = as_array(vals[0]), as_array(vals[1])
        if deq is None or deq.shape != w.shape:
            return NONE, f"dequantize_4bit returned {shape_text(deq)}; expected w's shape {w.shape}"
        # forward is judged on the student's own dequantized weight, so that weight must be w's 4-bit copy: every
        # 16-level scheme (uniform over the range, absmax int4, NF4) stays within 0.2 · max|w| of w
        if not np.isfinite(deq).all() or np.max(np.abs(deq - w)) > 0.2 * np.max(np.abs(w)):
            return NONE, ("dequantize_4bit(quantize_to_4bit(w)) is not a 4-bit copy of w (off by more than 0.2·max|w|):"
                          " the layer's forward is graded on a working round trip")
        if close(y, x @ deq.T, rtol=1e-6, atol=1e-8):
            return FULL, "forward = x · dequantize(quantize(w))ᵀ at init"
        return NONE, f"QLoRALayer.forward gave {shape_text(y)}; expected x @ dequantize(q).T (B = 0 at init)"

    return [CodeCheck("9.12.quantize", "9.12", "4-bit quantize/dequantize", F(2),
                      [*ops, {"op": "exec", "helper": "probe_levels", "args": ["q", "s", "z", "levels"]},
                       *returns("q", "d", "levels", "s", "z")], quant),
            CodeCheck("9.12.qlora", "9.12", "QLoRALayer forward at init", F(2),
                      [*ops, {"op": "new", "cls": "QLoRALayer", "args": [{"ref": "q"}, {"ref": "s"}, {"ref": "z"}],
                              "kwargs": {"rank": 4}, "store": "L"},
                       {"op": "call", "obj": "L", "func": "forward", "args": [arr(x)], "store": "y"}, *returns("d", "y")],
                      layer)]


EXERCISE = Exercise("9.12", "4-bit quantization and QLoRALayer", SPEC, _qlora)

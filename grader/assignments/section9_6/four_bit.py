"""Judging a blockwise 4-bit round trip whatever the scheme: uniform (min–max with a zero point), symmetric
absmax int4, or NF4.

What any 4-bit scheme must do, block by block (a block = ``block_size`` consecutive weights of
``W.flatten()``, bitsandbytes' blockwise layout):

1. codes are integers in [0, 15], one per weight;
2. at most 16 distinct dequantized values in the block (4 bits: 16 levels);
3. each weight is dequantized to the *nearest* of its block's levels — the levels it uses are levels of the
   code book, so no code-book level can be nearer; this rules out truncation whatever the code book;
4. the error stays within the bound of the block's scheme. The worst error of round-to-nearest on a code
   book is half its largest gap between neighbouring levels (a weight halfway across it), given that the
   levels reach the block's extremes:

   - NF4 (the block's levels / its absmax are NF4 values): half of NF4's largest gap
     (−1 → −0.6962: 0.3038) × absmax = 0.1519 · absmax;
   - otherwise a uniform grid, half a step: (max − min)/30 for the min–max scheme (15 steps), absmax/14 for
     symmetric absmax int4 (levels k · absmax/7); the block passes under the larger of the two.

   A scheme whose levels do not reach the block's extremes (clipping), or one scale for the whole matrix,
   exceeds the bound on some block.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

# NF4's 16 values: QLoRA (Dettmers et al. 2023, arXiv:2305.14314) appendix E, as bitsandbytes prints them
# (functional.py, get_4bit_type("nf4")); the tests compare them with peftcalc.verify's published copy.
NF4 = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0)
NF4_HALF_GAP = float(np.max(np.diff(NF4))) / 2        # 0.1519
NF4_MATCH = 1e-4       # a code book printed to 4 decimals (the paper's) still reads as NF4
SLACK = 1e-6           # relative: float32 arithmetic in a submission


def block_bound(w: np.ndarray, levels: np.ndarray) -> tuple[float, str]:
    """The largest round-trip error allowed in one block, and the scheme it was judged as."""
    absmax = float(np.max(np.abs(w)))
    if absmax == 0:
        return 0.0, "a zero block"
    if np.all(np.min(np.abs(levels[:, None] / absmax - np.asarray(NF4)[None, :]), axis=1) <= NF4_MATCH):
        return NF4_HALF_GAP * absmax * (1 + SLACK) + NF4_MATCH * absmax, "NF4: half its largest gap × absmax"
    uniform = max((float(w.max()) - float(w.min())) / 30, absmax / 14)
    return uniform * (1 + SLACK), "uniform: half a step"


def judge_round_trip(w: np.ndarray, codes: np.ndarray | None, deq: np.ndarray | None,
                     block_size: int) -> tuple[Fraction, list[str]]:
    """A quarter each for the codes, the levels per block, nearest rounding and the error bound."""
    notes: list[str] = []
    share = Fraction(0)
    if (codes is not None and codes.size == w.size and np.all(np.isfinite(codes)) and np.all(codes == np.round(codes))
            and codes.min() >= 0 and codes.max() <= 15 and np.unique(codes).size > 1):  # one code is no quantizer
        share += Fraction(1, 4)
    else:
        got = "nothing" if codes is None else f"{codes.size} values" + (
            f" from {codes.min():g} to {codes.max():g}" if codes.size and np.all(np.isfinite(codes)) else "")
        notes.append(f"codes must be integers in [0, 15], one per weight ({w.size}; no need to pack two per byte); "
                     f"got {got}")
    if deq is None or deq.shape != w.shape or not np.all(np.isfinite(deq)):
        notes.append(f"dequantize gave {'nothing' if deq is None else f'shape {deq.shape}'}, expected finite "
                     f"values of W's shape {w.shape}")
        return share, notes
    flat_w, flat_d = w.reshape(-1), deq.reshape(-1)
    too_many, not_nearest, over, single = [], 0, [], []
    for k, start in enumerate(range(0, flat_w.size, block_size)):
        bw, bd = flat_w[start:start + block_size], flat_d[start:start + block_size]
        levels = np.unique(bd)
        if levels.size > 16:
            too_many.append((k, levels.size))
        if levels.size == 1 and np.unique(bw).size > 1:
            single.append(k)
        absmax = float(np.max(np.abs(bw)))
        nearest = np.min(np.abs(bw[:, None] - levels[None, :]), axis=1)
        err = np.abs(bw - bd)
        not_nearest += int(np.sum(err > nearest + SLACK * absmax + 1e-12))
        bound, scheme = block_bound(bw, levels)
        if float(err.max()) > bound:
            over.append((k, float(err.max()), bound, scheme))
    # levels and rounding earn their quarters only where a block has levels to round to: all-zero codes dequantized
    # to zeros have one level, "nearest" to every weight, and say nothing about quantizing
    if not too_many and not single:
        share += Fraction(1, 4)
    elif single and not too_many:
        notes.append(f"{len(single)} block(s) dequantize to a single value (e.g. block {single[0]}): a 4-bit code "
                     "book has up to 16 levels, and a block of different weights needs more than one")
    elif too_many:
        k, n = too_many[0]
        notes.append(f"block {k} has {n} distinct dequantized values: 4 bits give at most 16 per block (a block is "
                     f"block_size = {block_size} consecutive weights of W.flatten(), as bitsandbytes)")
    if not not_nearest and not single:
        share += Fraction(1, 4)
    elif not_nearest:
        notes.append(f"{not_nearest} weights are not dequantized to their block's nearest level: round to the "
                     "nearest code, don't truncate")
    if not over:
        share += Fraction(1, 4)
    else:
        k, e, b, scheme = over[0]
        advice = "" if not_nearest else (f": quantize each block of {block_size} weights with its own scale (QLoRA: "
                                         "absmax per block of 64), and let the levels reach the block's extremes")
        notes.append(f"the round-trip error exceeds its bound on {len(over)} block(s), e.g. block {k}: {e:.3g} > "
                     f"{b:.3g} ({scheme}){advice}")
    return share, notes

"""Exercise 9.6.6: 4-bit LoRA, QLoRA (seed 003: "Quantization: add 4-bit LoRA (QLoRA)").

QLoRA (Dettmers et al. 2023, arXiv:2305.14314): the frozen base weight is stored in 4 bits, blockwise
(one absmax per block of 64 weights, NF4 code book), dequantized for each matmul; LoRA's A and B stay in
full precision and are the only trained parameters. Any 4-bit scheme is accepted: see ``four_bit``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.section9_6.four_bit import judge_round_trip
from grader.assignments.section9_6.judging import complete, found, number
from grader.assignments.section9_6.plan import returns, set_by_shape
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, failed, shape_text

F = Fraction

SPEC = """\
quantize_4bit_blockwise(W, block_size=64) -> (codes, state): W.flatten() is cut into blocks of
block_size consecutive weights (the last may be shorter), each quantized with its own constants; codes
are integers in [0, 15], one per weight (W's shape or flat; no need to pack two per byte); state is
whatever dequantizing needs (scales, zero points, code book, shape).
dequantize_4bit_blockwise(codes, state) -> an array of W's shape. Any 4-bit scheme is accepted: per block
at most 16 distinct dequantized values, each weight rounded to its block's nearest level, and a
round-trip error within the scheme's bound — half the largest gap of the NF4 code book × the block's
absmax for NF4 (QLoRA), half a step for a uniform grid ((max − min)/30 for min–max with a zero point,
absmax/14 for symmetric absmax int4).
QLoRALayer(W, rank=8, alpha=16.0, block_size=64): quantizes W once at construction and keeps seed 003's
LoRA on top (A: rank × in, B: out × rank, zeros at init, scaling = alpha / rank):
  forward(x) = x @ dequantize_4bit_blockwise(codes, state).T + scaling · x @ A.T @ B.T
num_parameters() counts the trainable A and B only (the 4-bit base is frozen). The grader sets A and B
itself, finding them by their shape wherever your layer keeps them.
"""


def _quantize_ops(W: np.ndarray, block_size: int) -> list[dict[str, Any]]:
    return [{"op": "call", "func": "quantize_4bit_blockwise", "args": [arr(W)], "kwargs": {"block_size": block_size},
             "store": "qs"},
            {"op": "index", "obj": "qs", "key": 0, "store": "codes"},
            {"op": "index", "obj": "qs", "key": 1, "store": "state"},
            {"op": "call", "func": "dequantize_4bit_blockwise", "args": [{"ref": "codes"}, {"ref": "state"}],
             "store": "deq"}]


def _qlora(rng: np.random.Generator) -> list[CodeCheck]:
    block = 32
    # 4 × 48 = 6 blocks of 32 that straddle rows (a per-row scale is not per-block), one of them 20× larger:
    # a single scale for the whole matrix then misses the other blocks' bounds
    Wq = rng.normal(size=(4, 48))
    Wq.reshape(-1)[2 * block:3 * block] *= 20

    def quantize(vals, err):
        if not complete(vals, 2):
            return failed(err)
        share, notes = judge_round_trip(Wq, as_array(vals[0]), as_array(vals[1]), block)
        return share, "; ".join(notes) or f"4-bit codes, ≤ 16 levels per block of {block}, nearest, within the bound"

    d_out, d_in, r, alpha = 8, 24, 3, 6.0
    s = alpha / r
    W = rng.normal(size=(d_out, d_in))
    A, B = rng.normal(size=(r, d_in)), rng.normal(size=(d_out, r))
    x = rng.normal(size=(2, 5, d_in))
    lora = s * x @ A.T @ B.T
    new = {"op": "new", "cls": "QLoRALayer", "args": [arr(W)], "kwargs": {"rank": r, "alpha": alpha, "block_size": block},
           "store": "layer"}

    def forward(vals, err):
        if not complete(vals, 5):
            return failed(err)
        codes, deq, y = as_array(vals[0]), as_array(vals[1]), as_array(vals[4])
        if not (found(vals[2]) and found(vals[3])):
            return NONE, f"no array of shape A {A.shape} or B {B.shape} found in the layer"
        valid, _ = judge_round_trip(W, codes, deq, block)
        if valid < 1:
            return NONE, ("cannot check forward: dequantize_4bit_blockwise(quantize_4bit_blockwise(W)) is not a valid "
                          "4-bit round trip (see the quantize check)")
        if close(y, x @ deq.T + lora):
            return FULL, "x · dequantize(W)ᵀ + scaling · x Aᵀ Bᵀ"
        for want, why in ((x @ W.T + lora, "forward uses the full-precision W: QLoRA's frozen base is the 4-bit "
                                           "weight, dequantized for the matmul"),
                          (x @ deq.T, "the LoRA path is missing: add scaling · x Aᵀ Bᵀ"),
                          (x @ deq.T + lora / s, "the LoRA path is not scaled: multiply it by scaling = alpha / rank")):
            if close(y, want):
                return NONE, why
        return NONE, (f"forward gave {shape_text(y)}, expected {lora.shape}" if y is None or y.shape != lora.shape else
                      "forward differs from x · dequantize(quantize(W, block_size))ᵀ + scaling · x Aᵀ Bᵀ: quantize W "
                      "once in __init__ with the given block_size, with your own quantize/dequantize functions")

    want = r * (d_in + d_out)
    readings = {want + d_in * d_out: "counts the frozen 4-bit base too: only A and B are trained",
                d_in * d_out: "counts the frozen base: only LoRA's A and B are trained"}

    def count(vals, err):
        if not complete(vals, 1):
            return failed(err)
        got = number(vals[0])
        if got == want:
            return FULL, f"{want} = rank · (in + out)"
        return NONE, readings.get(got, f"num_parameters() = {got!r}, expected rank · (in + out) = {want}")

    return [
        CodeCheck("9.6.6.quantize", "9.6.6", f"blockwise 4-bit round trip (block_size {block})", F(4),
                  [*_quantize_ops(Wq, block), *returns("codes", "deq")], quantize),
        CodeCheck("9.6.6.forward", "9.6.6", "QLoRALayer forward: 4-bit base + LoRA", F(2),
                  [*_quantize_ops(W, block), new, set_by_shape("layer", A, "n_A"), set_by_shape("layer", B, "n_B"),
                   {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x)], "store": "y"},
                   *returns("codes", "deq", "n_A", "n_B", "y")], forward),
        CodeCheck("9.6.6.count", "9.6.6", "num_parameters: LoRA only", F(1),
                  [new, {"op": "call", "obj": "layer", "func": "num_parameters", "store": "n"}, *returns("n")], count),
    ]


EXERCISE = Exercise("9.6.6", "QLoRA: 4-bit base weights with LoRA", SPEC, _qlora)

"""4-bit NormalFloat (NF4) quantization as QLoRA describes it, in plain torch: the reference for
``peftcalc.quant``'s byte counts and for the QLoRA layer.

- Code book (Dettmers et al. 2023, §3 "4-bit NormalFloat"): 16 values, the quantiles of N(0, 1)
  made asymmetric so that 0 is represented exactly — 8 non-negative and 7 negative quantiles,
  normalized to [-1, 1]. :func:`nf4_code_book` builds them from ``torch.special.ndtri``.
- Block-wise absmax: blocks of 64 values share one fp32 absmax; each value is stored as the 4-bit
  index of the nearest code (two per byte).
- Double quantization: the absmaxes (minus their mean) are quantized to 8 bits in blocks of 256 with
  one fp32 scale per block, plus the fp32 mean. bitsandbytes uses an 8-bit *dynamic* code map for this
  second step; a symmetric linear int8 code has the same storage, which is what is checked here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from peftcalc.quant import BLOCK_4BIT, BLOCK_DOUBLE_QUANT

# QLoRA's offset: the outermost quantiles are taken at 1 - δ with δ = ½(1/32 + 1/30), so that the
# extreme codes are ±1 after normalisation without an infinite quantile.
_OFFSET = 1 - 0.5 * (1 / 32 + 1 / 30)


def nf4_code_book() -> torch.Tensor:
    """The 16 NF4 values, ascending, with an exact zero (float32)."""
    p = torch.float64
    positive = torch.special.ndtri(torch.linspace(_OFFSET, 0.5, 9, dtype=p)[:-1])
    negative = -torch.special.ndtri(torch.linspace(_OFFSET, 0.5, 8, dtype=p)[:-1])
    values = torch.cat([positive, torch.zeros(1, dtype=p), negative]).sort().values
    return (values / values.abs().max()).to(torch.float32)


@dataclass
class NF4Tensor:
    """A packed NF4 weight: codes two per byte, and its block constants."""

    shape: tuple[int, ...]
    packed: torch.Tensor                   # uint8, ceil(n/2)
    absmax: torch.Tensor | None            # fp32 per block (no double quantization)
    absmax_q: torch.Tensor | None          # int8 per block (double quantization)
    absmax_scale: torch.Tensor | None      # fp32 per 256 blocks
    absmax_mean: torch.Tensor | None       # fp32 scalar
    block: int = BLOCK_4BIT

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def nbytes(self) -> dict[str, int]:
        """Measured bytes of every stored tensor (the code book is shared by all tensors, not counted)."""
        out = {"data": self.packed.numel() * self.packed.element_size()}
        consts = [t for t in (self.absmax, self.absmax_q, self.absmax_scale, self.absmax_mean) if t is not None]
        out["constants"] = sum(t.numel() * t.element_size() for t in consts)
        return out

    def block_absmax(self) -> torch.Tensor:
        """The absmax each block is scaled by (dequantized, under double quantization)."""
        if self.absmax is not None:
            return self.absmax
        assert self.absmax_q is not None and self.absmax_scale is not None and self.absmax_mean is not None
        scale = self.absmax_scale.repeat_interleave(BLOCK_DOUBLE_QUANT)[: self.absmax_q.numel()]
        return self.absmax_q.float() * scale / 127 + self.absmax_mean


def quantize_nf4(weight: torch.Tensor, *, double_quant: bool = False, block: int = BLOCK_4BIT) -> NF4Tensor:
    """Quantize a float tensor to NF4 with block-wise absmax (optionally double-quantized)."""
    flat = weight.detach().reshape(-1).float()
    n = flat.numel()
    pad = (-n) % block
    blocks = torch.nn.functional.pad(flat, (0, pad)).view(-1, block)
    absmax = blocks.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny)
    codes = nf4_code_book()
    normed = blocks / absmax[:, None]
    idx = (normed[..., None] - codes).abs().argmin(dim=-1).to(torch.uint8).reshape(-1)[:n]
    if n % 2:
        idx = torch.cat([idx, torch.zeros(1, dtype=torch.uint8)])
    packed = (idx[0::2] << 4) | idx[1::2]
    if not double_quant:
        return NF4Tensor(tuple(weight.shape), packed, absmax, None, None, None, block)
    mean = absmax.mean()
    centred = absmax - mean
    pad2 = (-centred.numel()) % BLOCK_DOUBLE_QUANT
    groups = torch.nn.functional.pad(centred, (0, pad2)).view(-1, BLOCK_DOUBLE_QUANT)
    scale = groups.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny)
    q = torch.round(groups / scale[:, None] * 127).clamp(-127, 127).to(torch.int8).reshape(-1)[: centred.numel()]
    return NF4Tensor(tuple(weight.shape), packed, None, q, scale, mean.reshape(()), block)


def dequantize_nf4(t: NF4Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Rebuild the float weight from its codes and constants (what QLoRA does on the fly in forward)."""
    idx = torch.stack([t.packed >> 4, t.packed & 0x0F], dim=1).reshape(-1)[: t.numel].long()
    values = nf4_code_book()[idx]
    scale = t.block_absmax().repeat_interleave(t.block)[: t.numel]
    return (values * scale).reshape(t.shape).to(dtype)


def round_trip_bound(weight: torch.Tensor, t: NF4Tensor) -> torch.Tensor:
    """Per-element bound on |w − dequant(quant(w))|: half the widest gap of the code book times the
    block's absmax, plus (double quantization) the absmax's own rounding error (≤ scale/254) × |code| ≤ 1."""
    codes = nf4_code_book()
    half_gap = float((codes[1:] - codes[:-1]).max()) / 2
    n = t.numel
    flat = weight.detach().reshape(-1).float()
    pad = (-n) % t.block
    true_absmax = torch.nn.functional.pad(flat, (0, pad)).view(-1, t.block).abs().amax(dim=1)
    bound = true_absmax * half_gap
    if t.absmax_scale is not None:
        dq_err = (t.absmax_scale / 254).repeat_interleave(BLOCK_DOUBLE_QUANT)[: bound.numel()]
        bound = bound + dq_err
    eps = 1e-6 * true_absmax  # float32 rounding of the products
    return (bound + eps).repeat_interleave(t.block)[:n].reshape(t.shape)

"""Storage of quantized weights, exact to the byte, with their block constants.

4-bit (NF4/FP4, bitsandbytes ``Linear4bit``): two values per byte plus one absmax per block of 64.
Without double quantization the absmax is fp32: 32/64 = 0.5 bit/param. With double quantization
(QLoRA §3) the absmaxes are quantized to 8 bits in blocks of 256 with fp32 second-level constants:
8/64 + 32/(64·256) = 0.126953125 bit/param (plus one fp32 offset per tensor).
INT8 (``Linear8bitLt``): one byte per value plus one fp32 scale per output row. FP8: one byte per
value plus one fp32 scale per tensor.
Which modules are quantized (transformers' bitsandbytes integration): every ``nn.Linear``/``Conv1D``
but the output head; embeddings, norms and biases stay in the 16-bit compute dtype.
Sources: Dettmers et al. 2023 (QLoRA, arXiv 2305.14314) §3; bitsandbytes ``functional.quantize_4bit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from peftcalc.arch.model import LINEAR_KINDS, Arch, ModuleSpec
from peftcalc.errors import InputError
from peftcalc.units import DTYPE_BYTES

QuantDtype = Literal["fp32", "fp16", "bf16", "int8", "fp8", "nf4", "fp4"]
QUANT_DTYPES: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8", "fp8", "nf4", "fp4")
BLOCK_4BIT = 64          # bitsandbytes' default blocksize for 4-bit weights
BLOCK_DOUBLE_QUANT = 256  # blocksize of the second quantization of the absmaxes

# The seeds' simplified convention: NF4 = 4.5 bits/param flat (24.6a), or 0.5 B/param (seed 004).
SEED_NF4_BITS = Fraction(9, 2)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class TensorStorage:
    """Bytes of one quantized weight tensor: the packed values and the constants beside them."""

    numel: int
    data_bytes: int
    constant_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.data_bytes + self.constant_bytes

    @property
    def bits_per_param(self) -> Fraction:
        return Fraction(8 * self.total_bytes, self.numel)


def tensor_storage(numel: int, dtype: str, *, double_quant: bool = False, rows: int = 1) -> TensorStorage:
    """Exact storage of a weight tensor of ``numel`` values (``rows`` = output rows, for INT8's scales).

    Examples:
        >>> s = tensor_storage(4096 * 4096, "nf4")
        >>> s.data_bytes, s.constant_bytes, s.bits_per_param
        (8388608, 1048576, Fraction(9, 2))
        >>> float(tensor_storage(4096 * 4096, "nf4", double_quant=True).bits_per_param)
        4.126955032348633
    """
    if dtype not in QUANT_DTYPES:
        raise InputError("--dtype", dtype, "one of " + ", ".join(QUANT_DTYPES))
    if dtype in ("nf4", "fp4"):
        blocks = _ceil_div(numel, BLOCK_4BIT)
        if double_quant:
            # 8-bit absmax per block + fp32 absmax per 256 blocks + one fp32 offset (the mean absmax)
            constants = blocks + 4 * _ceil_div(blocks, BLOCK_DOUBLE_QUANT) + 4
        else:
            constants = 4 * blocks
        return TensorStorage(numel, _ceil_div(numel, 2), constants)
    if dtype == "int8":
        return TensorStorage(numel, numel, 4 * rows)
    if dtype == "fp8":
        return TensorStorage(numel, numel, 4)
    return TensorStorage(numel, int(numel * DTYPE_BYTES[dtype]), 0)


def bits_per_param(dtype: str, *, double_quant: bool = False) -> Fraction:
    """Asymptotic bits per parameter (large tensors, per-tensor constants ignored).

    Examples:
        >>> bits_per_param("nf4"), bits_per_param("nf4", double_quant=True)
        (Fraction(9, 2), Fraction(2113, 512))
    """
    if dtype in ("nf4", "fp4"):
        constants = Fraction(8, BLOCK_4BIT) + Fraction(32, BLOCK_4BIT * BLOCK_DOUBLE_QUANT) if double_quant \
            else Fraction(32, BLOCK_4BIT)
        return 4 + constants
    return 8 * DTYPE_BYTES[dtype]


def is_quantized_module(arch: Arch, mod: ModuleSpec) -> bool:
    """transformers' bitsandbytes integration: every Linear/Conv1D but the output head."""
    return mod.kind in LINEAR_KINDS and mod.name != arch.output_head and mod.tied_to is None


@dataclass(frozen=True)
class ModelStorage:
    """Weight bytes of a whole model stored with quantized linear layers."""

    dtype: str
    double_quant: bool
    quantized_params: int      # weights of quantized linear layers
    kept_params: int           # everything else, kept in the 16-bit compute dtype
    data_bytes: int            # packed quantized values
    constant_bytes: int        # absmax / scales
    kept_bytes: int
    compute_dtype: str = "bf16"

    @property
    def total_bytes(self) -> int:
        return self.data_bytes + self.constant_bytes + self.kept_bytes

    @property
    def bits_per_param(self) -> Fraction:
        return Fraction(8 * self.total_bytes, self.quantized_params + self.kept_params)


def model_storage(arch: Arch, dtype: str, *, double_quant: bool = False, compute_dtype: str = "bf16") -> ModelStorage:
    """Exact weight bytes of ``arch`` when its linear layers are stored in ``dtype``.

    Unquantized dtypes (fp32/fp16/bf16) store every parameter in that dtype.
    """
    if dtype not in QUANT_DTYPES:
        raise InputError("--dtype", dtype, "one of " + ", ".join(QUANT_DTYPES))
    if compute_dtype not in ("fp32", "fp16", "bf16"):
        raise InputError("--compute-dtype", compute_dtype, "one of fp32, fp16, bf16")
    if double_quant and dtype not in ("nf4", "fp4"):
        raise InputError("--double-quant", dtype, "used with --dtype nf4 or fp4")
    total = arch.total_params
    if dtype in ("fp32", "fp16", "bf16"):
        return ModelStorage(dtype, False, 0, total, 0, 0, int(total * DTYPE_BYTES[dtype]), dtype)
    quantized = data = constants = 0
    for mod in arch.modules:
        if is_quantized_module(arch, mod):
            weight = mod.params["weight"]
            storage = tensor_storage(weight, dtype, double_quant=double_quant, rows=mod.out_features)
            quantized += weight
            data += storage.data_bytes
            constants += storage.constant_bytes
    kept = total - quantized
    return ModelStorage(dtype, double_quant, quantized, kept, data, constants,
                        int(kept * DTYPE_BYTES[compute_dtype]), compute_dtype)


def seed_nf4_bytes(params: int, *, bits: Fraction = SEED_NF4_BITS) -> Fraction:
    """The seeds' flat convention: every parameter at ``bits`` bits (4.5 in 24.6a; 4 in seed 004)."""
    return Fraction(params) * bits / 8

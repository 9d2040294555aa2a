"""Exact byte arithmetic and its display in both SI (GB = 10⁹ B) and IEC (GiB = 2³⁰ B) units."""

from __future__ import annotations

from fractions import Fraction

# Bytes per stored element. Exact rationals: a 4-bit value is 1/2 byte (block constants are
# accounted for separately, in the quantization model).
DTYPE_BYTES: dict[str, Fraction] = {
    "fp32": Fraction(4),
    "fp16": Fraction(2),
    "bf16": Fraction(2),
    "fp8": Fraction(1),
    "int8": Fraction(1),
    "nf4": Fraction(1, 2),
    "fp4": Fraction(1, 2),
}
CHECKPOINT_DTYPES: tuple[str, ...] = ("fp32", "fp16", "bf16")

_SI = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB"))
_IEC = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def _scaled(n: int | Fraction, table: tuple[tuple[int, str], ...]) -> str:
    for size, unit in table:
        if abs(n) >= size:
            return f"{float(n) / size:,.2f} {unit}"
    return f"{float(n):,.0f} B"


def format_bytes(n: int | Fraction) -> str:
    """``format_bytes(16_777_216)`` → ``'16.78 MB (16.00 MiB)'``."""
    return f"{_scaled(n, _SI)} ({_scaled(n, _IEC)})"


def format_bytes_si(n: int | Fraction) -> str:
    """``format_bytes_si(16_777_216)`` → ``'16.78 MB'``."""
    return _scaled(n, _SI)


def format_count(n: int) -> str:
    """``format_count(65536)`` → ``'65,536'``."""
    return f"{n:,}"


def short_count(n: int) -> str:
    """``short_count(4_194_304)`` → ``'4.19M'``."""
    for size, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return str(n)

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
        if abs(Fraction(n)) >= size:
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
        if abs(Fraction(n)) >= size:
            return f"{n / size:.3g}{suffix}"
    return str(n)


_CAPACITY_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
                   "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_capacity(text: str, *, field: str = "--gpu") -> int:
    """``'24GB'`` → 24·10⁹, ``'80GiB'`` → 80·2³⁰, ``'24'`` → 24·10⁹ (a bare number is GB)."""
    import re

    from peftcalc.errors import InputError

    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = (match.group(2) if match else "").lower() or "gb"
    if match is None or unit not in _CAPACITY_UNITS:
        raise InputError(field, text, "a size such as 24GB, 80GiB or 40 (GB)")
    value = Fraction(match.group(1)) * _CAPACITY_UNITS[unit]
    if not 0 < value <= 10**15:
        raise InputError(field, text, "a size between 1 B and 1 PB")
    return int(value)


def parse_count(text: str, *, field: str) -> int:
    """An exact count written as ``7.5e9``, ``7.5B``, ``65M``, ``7_500_000_000``; refuses fractions."""
    from peftcalc.errors import InputError

    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = 1
    if cleaned[-1:].upper() in {"K", "M", "B", "T"}:
        scale = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[cleaned[-1].upper()]
        cleaned = cleaned[:-1]
    try:
        value = Fraction(cleaned) * scale
    except (ValueError, ZeroDivisionError):
        raise InputError(field, text, "a count such as 7.5e9, 7.5B or 7500000000") from None
    if value.denominator != 1 or not 0 < value <= 10**15:
        raise InputError(field, text, "a whole number of parameters between 1 and 10¹⁵")
    return int(value)

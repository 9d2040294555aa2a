"""Exact values → readable text in their unit (used by the worked answers and the renderers)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from peftcalc.units import format_bytes


def decimal(x: Fraction | int, digits: int = 6) -> str:
    """Up to ``digits`` significant digits, no trailing zeros: 10/3 → '3.33333', 256 → '256'."""
    x = Fraction(x)
    if x.denominator == 1:
        return f"{int(x):,}"
    text = f"{float(x):,.{digits}g}"
    return text


def fmt(value: Any, unit: str) -> str:
    """``fmt(65536, 'params')`` → '65,536'; ``fmt(84*10**9, 'bytes')`` → '84.00 GB (78.23 GiB)'."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if unit == "bytes":
        return format_bytes(value) if value else "0 B"
    if unit == "USD":
        return f"${float(value):,.6g}" if Fraction(value).denominator != 1 else f"${int(value):,}"
    if unit == "percent":
        return f"{decimal(value, 6)} %"
    if unit == "ratio":
        return f"{decimal(value)}×"
    if unit == "days":
        return f"{decimal(value, 4)} days" + (f" (= {value})" if Fraction(value).denominator != 1 else "")
    if unit == "GPUs":
        return f"{decimal(value)} GPUs"
    return decimal(value)  # params, queries, rank, scalar

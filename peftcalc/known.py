"""Published figures peftcalc's models must reproduce, each with its source and a verdict.

Kinds of entry:
- ``match``: the model's value must equal the published figure within the precision it was
  printed with (``rel_tol``; 0 = exact);
- ``bound``: the published claim is an inequality ("over 780 GB", "under 48 GB");
- ``discrepancy``: the published figure does not follow from its own stated inputs. The entry
  records the correct value (``correct``), and passes only if the model gives exactly that value
  *and* it really differs from the publication — with the explanation shown to the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Number = int | Fraction
Kind = Literal["match", "bound", "discrepancy"]


@dataclass(frozen=True)
class Known:
    """One published figure and how to reproduce it."""

    id: str
    claim: str
    source: str
    published: str
    value: Callable[[], Number]
    kind: Kind = "match"
    target: Number = 0            # the published figure as a number (match) or the bound
    rel_tol: float = 0.0
    bound: Literal["<", ">", ""] = ""
    correct: Number = 0           # discrepancy: the value the stated inputs really give
    unit: str = ""
    explanation: str = ""


@dataclass(frozen=True)
class Verdict:
    entry: Known
    value: Number
    ok: bool
    verdict: str


def check(entry: Known) -> Verdict:
    """Compute the model's value and judge it against the publication."""
    value = entry.value()
    if entry.kind == "match":
        diff = abs(Fraction(value) - Fraction(entry.target))
        ok = diff <= Fraction(entry.rel_tol).limit_denominator(10**9) * abs(Fraction(entry.target))
        return Verdict(entry, value, ok, ("reproduced exactly" if diff == 0 else "reproduced (as rounded in print)")
                       if ok else "FAILED: model disagrees")
    if entry.kind == "bound":
        ok = value < entry.target if entry.bound == "<" else value > entry.target
        return Verdict(entry, value, ok, f"reproduced ({entry.bound} {_fmt(entry.target, entry.unit)})" if ok
                       else "FAILED: bound not met")
    published_ok = abs(Fraction(value) - Fraction(entry.target)) > Fraction(entry.rel_tol) * abs(Fraction(entry.target))
    ok = value == entry.correct and published_ok
    return Verdict(entry, value, ok, "published figure is inconsistent (explained)" if ok
                   else "FAILED: expected correction not reproduced")


def _fmt(x: Number, unit: str) -> str:
    if unit == "bytes":
        return f"{float(x) / 1e9:,.4g} GB"
    if isinstance(x, Fraction) and x.denominator != 1:
        return f"{float(x):.6g}"
    return f"{int(x):,}"


def catalogue() -> list[Known]:
    """Every known result (built on demand: it imports the models)."""
    from peftcalc.calc import params
    from peftcalc.known_entries import entries

    return entries(params)


def check_all() -> list[Verdict]:
    return [check(entry) for entry in catalogue()]

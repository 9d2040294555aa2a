"""Assignment specs for the analytical parts: which parts, how many points, how much partial credit.

The key (``answers``) says what is right and which mistakes are known; the spec says what each is
worth. Points per part kind, and the share of the points each recognised mistake class earns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

POINTS = {"numeric": Fraction(2), "choice": Fraction(1), "formula": Fraction(2), "conceptual": Fraction(3),
          "proof": Fraction(3)}
# share of a part's points for each recognised class of mistake (the key's own mistakes carry theirs)
CREDIT = {
    "wrong_unit": Fraction(1, 2),        # right number, wrong unit (GB vs GiB, % vs fraction)
    "arithmetic_slip": Fraction(1, 2),   # within 10 % of the key: right method, a slip in the arithmetic
    "too_coarse": Fraction(1, 2),        # one significant digit: 4M for 4,194,304
    "choice_without_reason": Fraction(3, 5),  # right choice, justification missing (choice parts with a rubric)
}
SLIP = Fraction(1, 10)


@dataclass(frozen=True)
class Spec:
    name: str
    points: dict[str, Fraction] = field(default_factory=lambda: dict(POINTS))
    credit: dict[str, Fraction] = field(default_factory=lambda: dict(CREDIT))


def spec(name: str) -> Spec:
    import answers

    answers.assignment(name)  # validates the name (InputError lists the choices)
    return Spec(name)

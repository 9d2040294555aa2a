"""The pieces of reading what students write — number literals, units, formulas — safely.

A number literal keeps the precision it was written with (half a unit of its last digit), so ``4.19M``
is right for 4,186,113; :mod:`grader.reading` finds the answer's numbers and units in a sentence or a
chain of working and does its arithmetic.
Formulas: ``r*(d+k)``, ``2*r*d``, ``r(d + k)``, ``\\frac{\\alpha}{r}`` — parsed by sympy after a
whitelist check of every token (no names but the known symbols, no attribute access, no calls but
``sqrt``), with bounded length and exponents; nothing is evaluated that the whitelist did not allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

MAX_TEXT = 2000          # characters of one answer we look at
MAX_FORMULA = 200        # characters of a formula
MAX_EXPONENT = 30        # |e| in 1e30: larger exponents are refused, not computed

_BYTE_UNITS = {"b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_TIME_UNITS = {"day": Fraction(1), "days": Fraction(1), "d": Fraction(1), "hour": Fraction(1, 24),
               "hours": Fraction(1, 24), "h": Fraction(1, 24), "hrs": Fraction(1, 24), "week": Fraction(7),
               "weeks": Fraction(7)}
_SUFFIX = {"k": 10**3, "m": 10**6, "b": 10**9, "bn": 10**9, "t": 10**12, "thousand": 10**3, "million": 10**6,
           "billion": 10**9, "trillion": 10**12}

class ParseError(ValueError):
    """The answer could not be read; the message says what was not understood."""


@dataclass(frozen=True)
class Quantity:
    """A number in base units of its dimension, and the precision it was written with."""

    value: Fraction
    dim: str            # "", "bytes", "percent", "ratio", "USD", "days"
    half_ulp: Fraction  # half a unit of the last digit written, in the same base units
    sig_digits: int
    text: str
    unit: str = ""      # the unit as written (GB, GiB, %, x …)


def _digits(num: str) -> tuple[Fraction, Fraction, int]:
    """Exact value, half a unit of the last written digit, significant digits."""
    cleaned = num.replace(",", "").replace("_", "")
    mantissa, _, exp = cleaned.lower().partition("e")
    if exp and abs(int(exp)) > MAX_EXPONENT:
        raise ParseError(f"exponent too large in {num!r}")
    value = Fraction(cleaned)
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half = Fraction(1, 2) * Fraction(10) ** (int(exp or 0) - decimals)
    digits = mantissa.lstrip("+-").replace(".", "").lstrip("0")
    if "." not in mantissa:
        digits = digits.rstrip("0") or digits  # 84000 has 2 significant digits as far as we can tell
    return value, half, max(1, len(digits))


def numbers_in(text: str) -> list[Fraction]:
    """Every plain number in a text ("r=4 or r=8" → [4, 8])."""
    return [_digits(tok)[0] for tok in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", str(text)[:MAX_TEXT])]


# ---- formulas ----------------------------------------------------------------------------------------------------

# Names a formula may use; W, A, B, x are matrices (non-commutative: B·A ≠ A·B).
SCALARS = ("r", "d", "k", "alpha", "L", "p", "m", "n", "h", "s", "b", "N", "V", "t", "a")
MATRICES = ("W", "A", "B", "x", "W0", "W_0")
_LATEX = ((r"\left", ""), (r"\right", ""), (r"\cdot", "*"), (r"\times", "*"), (r"\alpha", "alpha"), ("α", "alpha"),
          ("·", "*"), ("×", "*"), ("−", "-"), (r"\,", " "), (r"\ ", " "), ("{", "("), ("}", ")"))
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|[-+*/^()]))")


def _frac(text: str) -> str:
    r"""\frac{a}{b} → ((a)/(b)), innermost first (bounded: the text is short)."""
    pattern = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
    for _ in range(20):
        new = pattern.sub(r"((\1)/(\2))", text)
        if new == text:
            break
        text = new
    return re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", text)


def looks_like_formula(text: str) -> bool:
    return bool(re.search(r"[A-Za-z\\]", str(text))) and bool(re.search(r"[*/^()+\-\\·×]|\b[a-z]\s*[a-z(]", str(text)))


def parse_formula(text: str) -> Any:
    """A sympy expression from a whitelisted formula; ``ParseError`` for anything else. The whitelist runs
    first, so without sympy (a student's self-check) a formula-shaped answer raises ImportError, anything
    else ParseError."""
    src = str(text).strip()
    if len(src) > MAX_FORMULA:
        raise ParseError(f"formula longer than {MAX_FORMULA} characters")
    src = _frac(src.replace("$", ""))
    for a, b in _LATEX:
        src = src.replace(a, b)
    src = re.sub(r"^\s*[A-Za-z_]\w*'?\s*=\s*", "", src)  # "W' = …", "params = …"
    pos, names = 0, set()
    while pos < len(src):
        tok = _TOKEN.match(src, pos)
        if tok is None or tok.end() == pos:
            if src[pos:].strip() == "":
                break
            raise ParseError(f"cannot read {src[pos:pos + 12]!r} in the formula")
        if tok["name"]:
            if tok["name"] not in SCALARS + MATRICES + ("sqrt",):
                raise ParseError(f"unknown name {tok['name']!r} in the formula (known: {', '.join(SCALARS)}, "
                                 f"{', '.join(MATRICES[:4])})")
            names.add(tok["name"])
        if tok["num"] and len(tok["num"]) > 15:
            raise ParseError("number too long in the formula")
        pos = tok.end()
    import sympy
    from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication, parse_expr,
                                            standard_transformations)

    local = {n: sympy.Symbol(n, positive=True) for n in SCALARS}
    local.update({n: sympy.Symbol("W" if n in ("W0", "W_0") else n, commutative=False) for n in MATRICES})
    safe_globals = {"Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
                    "Symbol": sympy.Symbol, "sqrt": sympy.sqrt, "Mul": sympy.Mul, "Add": sympy.Add,
                    "Pow": sympy.Pow, "__builtins__": {}}
    try:
        expr = parse_expr(src, local_dict=local, global_dict=safe_globals, evaluate=False,
                          transformations=standard_transformations + (implicit_multiplication, convert_xor))
    except Exception as exc:  # sympy's parser raises many kinds; all mean "not a formula"
        raise ParseError(f"could not parse the formula {text!r} ({type(exc).__name__})") from None
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and not (node.exp.is_Number and abs(node.exp) <= 10):
            raise ParseError("exponents must be small numbers")
    return expr

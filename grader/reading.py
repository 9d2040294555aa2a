"""Reading a numeric answer the way a person grading it does: the final value of a chain of working.

A student writes ``17 GB + 19 GB = 36 GB``, ``36 GB (17 + 19)``, ``a(b + c) = 3 × 1,234 = 3,702``,
``about 2.7 GB, fits on 16 GB``, ``0.27% of the matrix``, ``3*7*11`` or ``1/37``. (The examples in
this file are no exercise's answer: it travels in the student pack.) The answer is the
value after the last ``=``, ``≈`` or ``→`` (or the whole text when there is none), with its unit,
wherever it stands among the words; the steps before it are the *working*, kept so that a right
formula or right arithmetic can earn partial credit when the final value is wrong.

    >>> r = read("17 GB + 19 GB = 36 GB")
    >>> r.candidates[0].value, r.candidates[0].dim, r.working
    (Fraction(36000000000, 1), 'bytes', ('17 GB + 19 GB',))
    >>> read("4,321 (I think)").candidates[0].value
    Fraction(4321, 1)
    >>> read("1/37").candidates[0].value
    Fraction(1, 37)

Arithmetic is evaluated here with exact fractions by a small recursive parser (numbers, units,
``+ - * / ^`` and parentheses): nothing is passed to ``eval``, exponents and lengths are bounded.
No part of the answer key is imported: this module reads, it does not judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from grader.parse import (_BYTE_UNITS, _SUFFIX, _TIME_UNITS, MAX_EXPONENT, MAX_TEXT, ParseError, Quantity,
                          _digits)

MAX_TOKENS = 200     # tokens of one chain step we look at
MAX_CANDIDATES = 6   # quantities read from the final step (the first that fits is the answer)

# "=", "≈", "→" and their ASCII/LaTeX spellings separate the steps of a chain of working
_CHAIN = re.compile(r"\s*(?:==|=>|->|→|⇒|⟹|≈|≃|~=|=)\s*")
_REPLACE = (("\u2009", " "), ("\u202f", " "), ("\xa0", " "), ("−", "-"), (r"\approx", "≈"), (r"\sim", "~"),
            (r"\rightarrow", "→"), (r"\to ", "→ "), (r"\Rightarrow", "⇒"), ("{,}", ","), (r"\%", "%"),
            (r"\,", " "), (r"\ ", " "), (r"\left", ""), (r"\right", ""), (r"\cdot", "·"), (r"\times", "×"),
            ("**", "^"))
_SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-"))
_NUM = r"(?:\d{1,3}(?:[,_]\d{3})+|\d{1,3}(?: \d{3})+(?![\d.,])|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
# a unit or magnitude right after a number; longest first so that "GiB" wins over "G…", "%" over words
_CENTS = ("cents", "cent", "¢")
_UNITS = sorted([*_BYTE_UNITS, *_SUFFIX, *_TIME_UNITS, "%", "percent", "fold", "usd", "dollars", "dollar", *_CENTS],
                key=len, reverse=True)
# "37x" / "37×" is a ratio, but "2 x 8" and "2 × 8" multiply
_UNIT = rf"(?:[x×](?![A-Za-z])(?!\s*[\d(.])|(?:{'|'.join(re.escape(u) for u in _UNITS)})(?![A-Za-z]))"
_TOKEN = re.compile(
    rf"(?P<num>{_NUM})(?:\s*(?P<unit>{_UNIT}))?"
    r"|(?P<op>[-+*/^()·×:$])|(?P<x>x(?=\s*[\d(]))|(?P<space>\s+)|(?P<other>[A-Za-z_]\w*|.)", re.IGNORECASE)

# "9.9z: 36 GB": the part's own ID written before the answer
_PART_ID = re.compile(r"^\s*(?:exercise\s*)?\d+\.\d+[a-z]?(?:\.\w+)*\s*:\s*", re.IGNORECASE)
# "30-40 GB", "30–40", "between 30 and 40": a range is no answer (1e-3 is no range)
_RANGE = re.compile(r"(?<![eE\d.])\d+(?:\.\d+)?\s?[–—]\s?\d|(?<![eE])\b\d+(?:\.\d+)?-\d|\bbetween\s+\S*\d\S*\s+and\b",
                    re.IGNORECASE)
_TOTAL = re.compile(r"\b(?:in\s+)?(?:total|overall|altogether|in all|sum|the answer is)\b\W{0,3}", re.IGNORECASE)

# (kind, value, glued): ("num", Quantity, glued), an operator as its own kind, ("other", word, False)
Token = tuple[str, object, bool]


class Refused(ParseError):
    """Arithmetic that is there but must not be evaluated or guessed around (``7^12345``, ``1/0``, GB + %): the
    whole answer is unreadable, never read as the number that happens to follow."""


@dataclass(frozen=True)
class Reading:
    """What an answer says: the quantities of its final step (first first), and the steps before it."""

    text: str
    candidates: tuple[Quantity, ...]
    working: tuple[str, ...] = ()


def normalise(text: str) -> str:
    from grader.parse import _frac

    text = str(text)[:MAX_TEXT].strip()
    for a, b in _REPLACE:
        text = text.replace(a, b)
    text = re.sub("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", lambda m: "^" + "".join(_SUPERSCRIPT[c] for c in m[0]), text)  # 2¹⁶ → 2^16
    # scientific notation written out: 4.19 × 10^6, 4.19·10⁶, 4.19 x 10^6 → 4.19e6 (keeps the digits written)
    text = re.sub(r"(\d(?:[\d.,]*\d)?)\s*(?:[×x*·]|\\times)\s*10\s*\^\s*\(?([-+]?\d{1,3})\)?", r"\1e\2", text)
    if len(text) > 2 and text[0] == text[-1] == "$" and text.count("$") == 2:
        text = text[1:-1]  # LaTeX math, $1{,}234$ (a price, $0.02, has no closing $)
    return _frac(text)


def steps(text: str) -> list[str]:
    """The steps of a chain of working: ``"a(b+c) = 3 × 1,234 = 3,702"`` → three steps."""
    return [s.strip() for s in _CHAIN.split(normalise(text)) if s.strip()]


def read(text: str, *, hint: str = "") -> Reading:
    """Read an answer; ``hint`` is the expected unit ("bytes" makes a trailing ``B`` bytes, not billions).
    Raises :class:`ParseError` when the final step holds no number."""
    chain = steps(_PART_ID.sub("", str(text), count=1))
    if not chain:
        raise ParseError("no answer")
    final = chain[-1]
    if _RANGE.search(final):
        raise ParseError(f"a range ({final[:40]!r}): give one value")
    found = quantities(final, hint=hint)
    if not found:
        raise ParseError(f"no number in {final[:60]!r}" if final else "no number")
    labelled = list(_TOTAL.finditer(final))
    if labelled:  # "weights 17 GB, …, total 36 GB": the number after the last "total" is the answer
        named = quantities(final[labelled[-1].end():], hint=hint)
        found = named[:1] + [q for q in found if not named or q != named[0]]
    return Reading(str(text), tuple(found[:MAX_CANDIDATES]), tuple(chain[:-1]))


def split_values(text: str, units: list[str]) -> list[str | None]:
    """One string for a multi-value part ("3.1M, 0.27%", "0.27%; 3,100,000", "512, 37, 64"): its values, matched
    to the named values (given by their units) by unit where that tells them apart — a percentage to the
    percent value — else in order."""
    pieces = [p.strip() for p in re.split(r"[;\n]|,\s+|\band\b", text) if re.search(r"\d", p)]
    if len(pieces) != len(units):
        try:
            found = [q.text for q in quantities(text)]
        except ParseError:
            found = []
        pieces = found if len(found) == len(units) else pieces
    pct = [i for i, unit in enumerate(units) if unit == "percent"]
    with_pct = [p for p in pieces if "%" in p or "percent" in p.lower()]
    if pct and len(with_pct) == len(pct) and len(pieces) == len(units):
        rest, given = iter(p for p in pieces if p not in with_pct), iter(with_pct)
        return [next(given) if i in pct else next(rest) for i in range(len(units))]
    return pieces[:len(units)] + [None] * (len(units) - len(pieces))


def evaluate(step: str, *, hint: str = "") -> Quantity | None:
    """The value of one step if it is plain arithmetic on numbers (``17 GB + 19 GB``, ``3 × 1,234``)."""
    tokens = _tokens(step, hint)
    if not tokens or any(tok[0] == "other" for tok in tokens):
        return None
    parser = _Parser(tokens, 0)
    try:
        value = parser.expression()
    except ParseError:
        return None
    return value if parser.pos == len(tokens) else None


def quantities(step: str, *, hint: str = "") -> list[Quantity]:
    """Every quantity in a step of words and numbers, in order: each is the longest arithmetic expression
    that starts at a number (or a bracket, or a currency sign) and ends where the words begin again."""
    tokens = _tokens(step, hint)
    out: list[Quantity] = []
    pos = 0
    while pos < len(tokens) and len(out) < MAX_CANDIDATES:
        kind = tokens[pos][0]
        if kind in ("num", "(", "$", "-") and not _glued_to_word(tokens, pos):
            parser = _Parser(tokens, pos)
            try:
                q = parser.expression()
            except Refused:
                raise
            except ParseError:  # not an expression from here ("(I think)"): the words go on
                q = None
            if q is not None and parser.pos > pos:
                out.append(q)
                pos = parser.pos
                continue
        pos += 1
    return out


def _glued_to_word(tokens: list[Token], pos: int) -> bool:
    """A number written right after a letter is part of a name (``Llama2``, ``W0``), not a quantity."""
    return tokens[pos][2]


def _tokens(step: str, hint: str) -> list[Token]:
    """The tokens of one step, spaces dropped; ``glued``: a number written right after a letter or digit."""
    out: list[Token] = []
    for m in _TOKEN.finditer(step):
        if len(out) > MAX_TOKENS:
            raise Refused("answer too long to read")
        if m["num"]:
            glued = m.start() > 0 and (step[m.start() - 1].isalnum() or step[m.start() - 1] == "_")
            out.append(("num", _quantity(m["num"], m["unit"] or "", hint), glued))
        elif m["op"]:
            op = {"·": "*", "×": "*"}.get(m["op"], m["op"])
            out.append((op, op, False))
        elif m["x"]:
            out.append(("*", "*", False))
        elif m["other"]:
            out.append(("other", m["other"], False))
    return out


def _quantity(num: str, unit: str, hint: str) -> Quantity:
    value, half, sig = _digits(num.replace(" ", ""))
    dim, scale = _unit_scale(unit, hint)
    text = f"{num}{' ' if unit and unit[0].isalpha() and len(unit) > 1 else ''}{unit}"
    return Quantity(value * scale, dim, half * scale, sig, text, unit)


def _unit_scale(unit: str, hint: str) -> tuple[str, Fraction]:
    """(dimension, scale to base units) of a unit or magnitude as written after a number."""
    low = unit.lower()
    dim, scale = "", Fraction(1)
    if low in ("%", "percent"):
        dim = "percent"
    elif low in ("x", "×", "fold"):
        dim = "ratio"
    elif low == "b" and hint != "bytes":
        scale = Fraction(10**9)  # 1.07B parameters
    elif low in _BYTE_UNITS:
        dim, scale = "bytes", Fraction(_BYTE_UNITS[low])
    elif low in _SUFFIX:
        scale = Fraction(_SUFFIX[low])
    elif low in _TIME_UNITS:
        dim, scale = "days", Fraction(_TIME_UNITS[low])
    elif low in ("usd", "dollars", "dollar"):
        dim = "USD"
    elif low in _CENTS:
        dim, scale = "USD", Fraction(1, 100)
    return dim, scale


def _exact(value: Fraction, dim: str, text: str) -> Quantity:
    """The result of arithmetic: exact (the precision of a computed value is not the student's rounding)."""
    return Quantity(value, dim, Fraction(0), 99, text, "")


class _Parser:
    """expression := term (('+'|'-') term)* ; term := unary (('*'|'/') unary)* ;
    unary := '-' unary | power ; power := atom ('^' unary)? ; atom := '$'? number unit? (':' number)? | '(' expression ')'.
    Stops, without consuming it, at the first token that cannot continue the expression."""

    def __init__(self, tokens: list[Token], pos: int) -> None:
        self.tokens, self.pos, self.depth = tokens, pos, 0

    def _peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.tokens[i][0] if i < len(self.tokens) else ""

    def expression(self) -> Quantity:
        left = self.term()
        while self._peek() in ("+", "-") and self._starts_operand(1):
            op = self._peek()
            self.pos += 1
            right = self.term()
            left = _combine(left, op, right)
        return left

    def term(self) -> Quantity:
        left = self.unary()
        while self._peek() in ("*", "/") and self._starts_operand(1):
            op = self._peek()
            self.pos += 1
            right = self.unary()
            left = _combine(left, op, right)
        return left

    def unary(self) -> Quantity:
        if self._peek() == "-":
            self.pos += 1
            q = self.unary()
            return Quantity(-q.value, q.dim, q.half_ulp, q.sig_digits, "-" + q.text, q.unit)
        base = self.atom()
        if self._peek() == "^" and self._starts_operand(1):
            self.pos += 1
            exp = self.unary()
            if exp.dim or exp.value.denominator != 1 or abs(exp.value) > MAX_EXPONENT or base.dim:
                raise Refused("exponents must be small whole numbers")
            base = _exact(base.value ** int(exp.value), "", f"{base.text}^{exp.text}")
        return base

    def atom(self) -> Quantity:
        kind = self._peek()
        if kind == "$" and self._peek(1) == "num":
            self.pos += 1
            q = self.atom()
            return Quantity(q.value, "USD", q.half_ulp, q.sig_digits, "$" + q.text, q.unit)
        if kind == "num":
            q = self.tokens[self.pos][1]
            assert isinstance(q, Quantity)
            self.pos += 1
            if self._peek() == ":" and self._peek(1) == "num" and not q.dim:  # 1:37
                other = self.tokens[self.pos + 1][1]
                assert isinstance(other, Quantity)
                self.pos += 2
                if q.value == 0:
                    raise Refused("a ratio of 0")
                return Quantity(other.value / q.value, "ratio", Fraction(0), min(q.sig_digits, other.sig_digits),
                                f"{q.text}:{other.text}", ":")
            return q
        if kind == "(":
            self.depth += 1
            if self.depth > 20:
                raise Refused("too many brackets")
            self.pos += 1
            inner = self.expression()
            if self._peek() != ")":
                raise ParseError("unclosed bracket")
            self.pos += 1
            self.depth -= 1
            return _exact(inner.value, inner.dim, f"({inner.text})") if inner.half_ulp == 0 else inner
        raise ParseError("expected a number")

    def _starts_operand(self, offset: int) -> bool:
        """An operator continues the expression only if a number or bracket follows it ("37× fewer" ends)."""
        nxt = self._peek(offset)
        return nxt in ("num", "(", "$") or (nxt == "-" and self._peek(offset + 1) in ("num", "("))


def _combine(a: Quantity, op: str, b: Quantity) -> Quantity:
    text = f"{a.text} {op} {b.text}"
    if op in ("+", "-") and bool(a.dim) != bool(b.dim):  # "17 + 19 GB": the bare number is in the same unit
        bare, unit = (a, b) if b.dim else (b, a)
        dim, scale = _unit_scale(unit.unit, "bytes" if unit.dim == "bytes" else "")
        if unit.unit and bare.half_ulp and dim == unit.dim:
            bare = Quantity(bare.value * scale, dim, bare.half_ulp * scale, bare.sig_digits, bare.text, unit.unit)
            a, b = (bare, b) if bare.text == a.text and not a.dim else (a, bare)
    if op in ("+", "-"):
        if a.dim and b.dim and a.dim != b.dim:
            raise Refused(f"cannot add {a.dim} and {b.dim}")
        value = a.value + b.value if op == "+" else a.value - b.value
        return _exact(value, a.dim or b.dim, text)
    if op == "*":
        if a.dim and b.dim:
            raise Refused(f"cannot multiply {a.dim} by {b.dim}")
        return _exact(a.value * b.value, a.dim or b.dim, text)
    if b.value == 0:
        raise Refused("division by zero")
    if a.dim and b.dim and a.dim != b.dim:
        raise Refused(f"cannot divide {a.dim} by {b.dim}")
    return _exact(a.value / b.value, "" if a.dim == b.dim else a.dim, text)

"""Small guards the Section 9.6 judges share: whatever comes back is plain data of unknown shape, and a
judge answers with a share and a message, never an exception."""

from __future__ import annotations

from typing import Any

from grader.code.checks import value


def complete(vals: Any, n: int) -> bool:
    """The check returned (at least) its ``n`` values."""
    return isinstance(vals, list) and len(vals) >= n


def number(encoded: Any) -> int | float | None:
    """A returned count as a number (None if it is anything else: a bool, a string, an array)."""
    got = value(encoded)
    return got if isinstance(got, (int, float)) and not isinstance(got, bool) else None


def found(encoded: Any) -> bool:
    """The grader's shape search set at least one array (its count came back positive)."""
    got = number(encoded)
    return got is not None and got > 0

"""Reading what a submission returned for the Chapter 24 judges: a number, a list of ints, a list of index pairs —
whatever container the student used (list, tuple, tensor, numpy) — or None when it is not one. Each reader takes
the harness's plain data (``encoded``) and never raises: a judge turns None into feedback."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.code.checks import returns, value  # noqa: F401 - returns: the plans' shared op, defined once


def decoded(encoded: Any) -> Any:
    """The plain data as Python values and numpy arrays (None if it does not decode)."""
    try:
        return value(encoded)
    except (ValueError, TypeError, KeyError):  # a malformed array record
        return None


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.ndarray) and v.size == 1 and np.isfinite(v).all():
        return float(v.reshape(()))
    return None


def _ints(v: Any) -> list[int] | None:
    if isinstance(v, np.ndarray):
        if v.ndim == 1 and np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            return [int(x) for x in v]
        return None
    if isinstance(v, list):
        out = [_number(x) for x in v]
        if all(x is not None and x == round(x) for x in out):
            return [int(x) for x in out]  # type: ignore[arg-type]
    return None


def scalar(encoded: Any) -> float | None:
    """A finite number (a Python number, a 0-d or one-element tensor/array), else None."""
    return _number(decoded(encoded))


def int_list(encoded: Any) -> list[int] | None:
    """A flat sequence of integers (list, tuple, 1-D tensor or array), else None."""
    return _ints(decoded(encoded))


def pairs(encoded: Any) -> list[tuple[int, int]] | None:
    """A sequence of (i, j) index pairs (a list of pairs, or an m × 2 tensor/array; empty allowed), else None."""
    v = decoded(encoded)
    if isinstance(v, np.ndarray):
        if v.size == 0:
            return []
        if v.ndim != 2 or v.shape[1] != 2 or not np.all(np.isfinite(v)) or not np.all(v == np.round(v)):
            return None
        return [(int(a), int(b)) for a, b in v]
    if isinstance(v, list):
        out = []
        for item in v:
            pair = _ints(item)
            if pair is None or len(pair) != 2:
                return None
            out.append((pair[0], pair[1]))
        return out
    return None

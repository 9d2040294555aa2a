"""What a code check is, and the helpers its judges share.

A check = ops the harness runs on the student's module, plus a *judge* run in the grader's process
that turns the returned plain data into a share of the check's points and a message that teaches.
Judges compute what is expected from the check's own inputs (the reference solutions in
``grader/reference`` are graded like submissions, by the tests).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

# judge(student values or None, error text or None) -> (share, message)
Judge = Callable[[list[Any] | None, str | None], tuple[Fraction, str]]


@dataclass(frozen=True)
class CodeCheck:
    id: str
    exercise: str
    title: str
    points: Fraction
    ops: list[dict[str, Any]]
    judge: Judge

    def grade(self, values: Any, error: str | None) -> tuple[Fraction, str]:
        """The judge's verdict on a record, which it always sees with one value per ``return`` op of the plan:
        the submission owns the fork that writes its records, so a record with fewer or more values (or none)
        is read as one that returned nothing where values are missing."""
        if values is not None:
            count = sum(op.get("op") == "return" for op in self.ops)
            values = ((list(values) if isinstance(values, list) else []) + [None] * count)[:count]
        return self.judge(values, error)


def returns(*names: str) -> list[dict[str, Any]]:
    """The ``return`` ops that send back these stored values, in order."""
    return [{"op": "return", "ref": n} for n in names]


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode()


def arr(a: Any) -> dict[str, Any]:
    """A numpy argument for the harness: raw float64, base64 (plain data, not pickle)."""
    a = np.asarray(a, dtype=np.float64)
    return {"b64": _b64(a), "shape": list(a.shape)}


def tensor(a: Any) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float64)
    return {"b64": _b64(a), "shape": list(a.shape), "tensor": True, "dtype": "float32"}


def value(encoded: Any) -> Any:
    """Plain data from the harness → numpy arrays / python values (None if it is not data)."""
    if isinstance(encoded, dict):
        if "b64" in encoded:
            raw = base64.b64decode(str(encoded["b64"]), validate=True)
            shape = [int(n) for n in encoded["shape"]]
            if len(raw) != 8 * int(np.prod(shape)):
                return None
            return np.frombuffer(raw, dtype="<f8").reshape(shape).copy()
        if "array" in encoded:
            flat = [float(x) for x in encoded["array"]]
            return np.asarray(flat, dtype=np.float64).reshape(encoded["shape"])
        if "seq" in encoded:
            return [value(v) for v in encoded["seq"]]
        if "dict" in encoded:
            return {k: value(v) for k, v in encoded["dict"].items()}
        return None
    return encoded


def as_array(encoded: Any) -> np.ndarray | None:
    v = value(encoded)
    return v if isinstance(v, np.ndarray) else None


def close(a: np.ndarray | None, b: np.ndarray, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    return a is not None and a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def diagnose(got: np.ndarray | None, expected: np.ndarray, mistakes: dict[str, np.ndarray], *, right: str,
             wrong: str, wrong_shape: str, **tolerance: float) -> tuple[Fraction, str]:
    """Full marks with ``right`` when ``got`` is ``expected``; else 0 with the first known mistake it equals
    (``mistakes``: why → what that mistake gives), with ``wrong_shape`` (``{got}``: its shape text) when its
    shape differs, or with ``wrong``."""
    if close(got, expected, **tolerance):
        return FULL, right
    for why, candidate in mistakes.items():
        if close(got, candidate, **tolerance):
            return NONE, why
    if got is None or got.shape != expected.shape:
        return NONE, wrong_shape.format(got=shape_text(got))
    return NONE, wrong


def shape_text(a: np.ndarray | None) -> str:
    return "nothing (None or not an array)" if a is None else f"shape {tuple(a.shape)}"


FULL = Fraction(1)
NONE = Fraction(0)


_HARNESS_MESSAGES = ("importing", "time limit", "crashed", "not run", "the check ended")


def failed(error: str | None) -> tuple[Fraction, str]:
    if not error:
        return NONE, "no result"
    return NONE, error if error.startswith(_HARNESS_MESSAGES) else f"raised {error}"

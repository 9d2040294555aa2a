"""Ops shared by the Section 9.6 checks (the harness's little language: grader/sandbox/ops.py)."""

from __future__ import annotations

from typing import Any

from grader.code.checks import arr, returns  # noqa: F401 - returns: the plans' shared op, defined once


def set_by_shape(obj: str, value: Any, store: str, *, transposed: bool = False) -> dict[str, Any]:
    """Set the trainable array of ``value``'s shape wherever the student's object keeps it (the grader finds
    it by shape, so any attribute names and nesting are accepted); ``store`` counts the arrays set."""
    return {"op": "exec", "helper": "set_nested_of_shape",
            "args": [obj, list(value.shape), arr(value), store, transposed]}


def call_repeatedly(obj: str, func: str, args: list[Any], times: int, store: str) -> dict[str, Any]:
    """``times`` calls of ``obj.func(*args)``, stacked into one array (first axis: the call)."""
    return {"op": "exec", "helper": "call_repeatedly", "args": [obj, func, args, times, store]}


def seed(value: int) -> dict[str, Any]:
    """Seed numpy's global generator, so that a submission's random draws are the same on a re-run."""
    return {"op": "exec", "helper": "seed", "args": [value]}

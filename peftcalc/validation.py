"""pydantic ``ValidationError`` → one :class:`InputError` naming the CLI flag and the allowed range."""

from __future__ import annotations

import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError

from peftcalc.errors import InputError, PeftcalcError


def _bounds(model: type[BaseModel], name: str) -> tuple[str, Any, Any]:
    field = model.model_fields.get(name)
    if field is None:
        return "value", None, None
    ann = field.annotation
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType")):
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    low = high = None
    for meta in field.metadata:
        if isinstance(meta, annotated_types.Gt):
            low = meta.gt + 1 if ann is int else meta.gt
        elif isinstance(meta, annotated_types.Ge):
            low = meta.ge
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
    kind = "integer" if ann is int else "number" if ann is float else "value"
    return kind, low, high


def _describe(kind: str, low: Any, high: Any) -> str:
    article = "an" if kind == "integer" else "a"
    if low is not None and high is not None:
        return f"{article} {kind} in [{low:,}, {high:,}]"
    if low is not None:
        return f"{article} {kind} ≥ {low:,}"
    if high is not None:
        return f"{article} {kind} ≤ {high:,}"
    return f"{article} {kind}"


def to_input_error(exc: ValidationError, model: type[BaseModel]) -> PeftcalcError:
    """The first problem of ``exc`` as a one-line error, e.g. `` `--r` must be an integer in [1, 1,000,000], got 0 ``."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("error"), PeftcalcError):  # raised by our own model validators
        return ctx["error"]
    loc = err.get("loc") or ("value",)
    name = str(loc[0])
    flag = "--" + name.replace("_", "-")
    kind = err.get("type", "")
    if kind == "finite_number":
        allowed = "a finite number"
    elif kind == "literal_error":
        allowed = "one of " + str(ctx.get("expected", ""))
    elif kind == "extra_forbidden":
        allowed = "an option of this method (see --help)"
    elif kind.startswith(("int_", "float_", "greater", "less")):
        allowed = _describe(*_bounds(model, name))
    else:
        allowed = str(err.get("msg", "valid"))
    return InputError(flag, err.get("input"), allowed)

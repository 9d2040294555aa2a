"""Ops shared by the stage9 checks (the harness's little language: grader/sandbox/ops.py)."""

from __future__ import annotations

from typing import Any

from grader.code.checks import returns  # noqa: F401 - the plans' shared op, defined once


def new_lora_layer(d_in: int, d_out: int, r: int, alpha: float) -> dict[str, Any]:
    return {"op": "new", "cls": "LoRALayer", "args": [d_in, d_out], "kwargs": {"rank": r, "alpha": alpha},
            "store": "layer"}


def reading_used(encoded: Any) -> dict[str, Any]:
    """What a reading helper (grader/sandbox/ops.py) stored, as a plain dict of strings ({} if it is not one):
    plain data from the submission's process, only ever compared with the grader's own candidate names."""
    from grader.code.checks import value

    got = value(encoded)
    if not isinstance(got, dict):
        return {}
    return {str(k): v for k, v in got.items() if isinstance(v, (str, list, bool, int))}

"""Ops shared by the chapter24 checks (the harness's little language: grader/sandbox/ops.py)."""

from __future__ import annotations

from typing import Any


def torch_model(seed: int) -> list[dict[str, Any]]:
    """The small model the LoRA exercises adapt: Linear(16, 32) → ReLU → Linear(32, 32) → ReLU → Linear(32, 8)."""
    return [{"op": "exec", "helper": "torch_model", "args": ["model", seed]}]

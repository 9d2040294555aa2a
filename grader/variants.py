"""Per-student variants: each student's own numbers, derived from a course seed and their ID.

Deterministic across machines (SHA-256, no ``random`` state): the same seed and ID always give the
same numbers, and grading that student checks against the key computed for them.
"""

from __future__ import annotations

import hashlib
from typing import Any

# Input name → values a variant may take. A name keeps one value across the whole assignment
# (the same d in 9.2a and 9.2b); k follows d (square matrices, as in the seeds).
POOLS: dict[str, tuple[Any, ...]] = {
    "d": (1024, 2048, 3072, 4096, 5120),
    "r": (4, 8, 16, 32),
    "alpha": (8, 16, 32, 64),
    "layers": (12, 24, 32, 40),
    "p": (10, 20, 30, 50),
    "m": (32, 64, 128),
    "finetune_cost": (200, 500, 1000, 2000),
    "queries_per_day": (5_000, 10_000, 20_000, 50_000),
}


def student_numbers(assignment: str, student: str, seed: str | int) -> dict[str, Any]:
    """The values of every variable input for this student."""
    digest = hashlib.sha256(f"peftcalc-variant\x00{seed}\x00{assignment}\x00{student}".encode()).digest()
    out = {name: pool[digest[i] % len(pool)] for i, (name, pool) in enumerate(POOLS.items())}
    out["k"] = out["d"]
    return out


def inputs_for(defaults: tuple[tuple[str, Any], ...], numbers: dict[str, Any]) -> dict[str, Any]:
    """The subset of a student's numbers that one part takes as inputs (r ≤ d always holds)."""
    return {name: numbers[name] for name, _ in defaults if name in numbers}

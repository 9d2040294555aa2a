"""The largest batch, sequence length or LoRA rank whose training step fits a GPU.

Memory never decreases in any of the three (a property test holds the model to it), so a doubling search
followed by bisection finds the largest value that fits in O(log n) estimates. "Fits" is judged on
``device_bytes`` (the step's peak allocated + the allocator's reserve + the CUDA context,
:mod:`peftcalc.overheads`) — what the GPU must hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from peftcalc.arch.model import Arch
from peftcalc.errors import InputError
from peftcalc.training import MemoryConfig, MemoryEstimate, training_memory

Solvable = Literal["batch", "seq", "r"]
UPPER = {"batch": 1_000_000, "seq": 10_000_000, "r": 65_536}  # the configs' own bounds (r: a practical cap)


@dataclass(frozen=True)
class Solution:
    """The largest ``value`` of ``name`` that fits ``capacity_bytes`` (0: not even 1 fits), and its estimate."""

    name: str
    value: int
    estimate: MemoryEstimate | None  # at ``value`` (None when nothing fits)
    next_estimate: MemoryEstimate | None  # at ``value + 1``: what does not fit (None at the bound)
    capacity_bytes: int
    evaluations: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"solve": self.name, "value": self.value, "capacity_bytes": self.capacity_bytes,
                               "judged_on": "device_bytes", "evaluations": self.evaluations}
        if self.estimate is not None:
            out |= self.estimate.to_json(self.capacity_bytes)
        if self.next_estimate is not None:
            out["next"] = {self.name: self.value + 1, "device_bytes": self.next_estimate.device_bytes}
        return out


def largest_fitting(arch: Arch, cfg: MemoryConfig, what: Solvable, capacity_bytes: int,
                    **method_options: Any) -> Solution:
    """Largest ``what`` (batch, seq or r) with ``device_bytes`` ≤ ``capacity_bytes``, other settings as given.

    Examples:
        >>> from peftcalc.arch import load_preset
        >>> from peftcalc.training import make_memory_config
        >>> sol = largest_fitting(load_preset("gpt2"), make_memory_config(method="lora", seq=1024), "batch",
        ...                       24 * 10**9, r=8)
        >>> sol.estimate.device_bytes <= 24 * 10**9 < sol.next_estimate.device_bytes
        True
    """
    if what == "r" and cfg.method.replace("-", "_").lower() not in ("lora", "qlora", "dora"):
        raise InputError("--solve", "r", f"used with --method lora, qlora or dora (not {cfg.method})")
    upper = UPPER[what]
    if what == "r":  # a rank above a targeted matrix's smaller side is no rank; cap at the smallest linear's
        upper = min(min(m.in_features, m.out_features) for m in arch.linear_modules())
    count = 0

    def at(value: int) -> MemoryEstimate:
        nonlocal count
        count += 1
        if what == "r":
            return training_memory(arch, cfg, **(method_options | {"r": value}))
        return training_memory(arch, cfg.model_copy(update={what: value}), **method_options)

    fits: Callable[[int], bool] = lambda v: at(v).device_bytes <= capacity_bytes  # noqa: E731
    if not fits(1):
        return Solution(what, 0, None, at(1), capacity_bytes, count)
    lo, hi = 1, 2
    while hi <= upper and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, upper + 1)
    while hi - lo > 1:  # lo fits, hi does not (or is past the bound)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return Solution(what, lo, at(lo), at(lo + 1) if lo < upper else None, capacity_bytes, count)

"""The method registry: one line per method (the module's ``METHOD``), keyed by peft's method ID."""

from __future__ import annotations

from peftcalc.errors import InputError
from peftcalc.methods import (
    adalora, adapter, bitfit, dora, full, ia3, ln_tuning, loha, lokr, lora, p_tuning, prefix_tuning,
    prompt_tuning, vera,
)
from peftcalc.methods.base import Count, Method, MethodConfig, Row

REGISTRY: dict[str, Method] = {
    "lora": lora.METHOD,
    "dora": dora.METHOD,
    "adalora": adalora.METHOD,
    "vera": vera.METHOD,
    "loha": loha.METHOD,
    "lokr": lokr.METHOD,
    "ia3": ia3.METHOD,
    "prefix_tuning": prefix_tuning.METHOD,
    "prompt_tuning": prompt_tuning.METHOD,
    "p_tuning": p_tuning.METHOD,
    "ln_tuning": ln_tuning.METHOD,
    "bitfit": bitfit.METHOD,
    "adapter": adapter.METHOD,
    "full": full.METHOD,
}


def get_method(name: str) -> Method:
    """The registered method called ``name`` (peft's ID, e.g. ``prefix_tuning``)."""
    key = name.replace("-", "_").lower()
    if key not in REGISTRY:
        raise InputError("method", name, "one of " + ", ".join(REGISTRY))
    return REGISTRY[key]


__all__ = ["REGISTRY", "Count", "Method", "MethodConfig", "Row", "get_method"]

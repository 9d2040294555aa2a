"""The method registry: one line per method, keyed by peft's method ID.

Each entry names the module exposing ``METHOD``; the module is imported on first use, so a command
pays only for the method it runs (start-up time matters for the CLI).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from peftcalc.errors import InputError
from peftcalc.methods.base import Count, Method, MethodConfig, Row

_MODULES: dict[str, str] = {
    "lora": "peftcalc.methods.lora",
    "dora": "peftcalc.methods.dora",
    "adalora": "peftcalc.methods.adalora",
    "vera": "peftcalc.methods.vera",
    "loha": "peftcalc.methods.loha",
    "lokr": "peftcalc.methods.lokr",
    "ia3": "peftcalc.methods.ia3",
    "prefix_tuning": "peftcalc.methods.prefix_tuning",
    "prompt_tuning": "peftcalc.methods.prompt_tuning",
    "p_tuning": "peftcalc.methods.p_tuning",
    "ln_tuning": "peftcalc.methods.ln_tuning",
    "bitfit": "peftcalc.methods.bitfit",
    "adapter": "peftcalc.methods.adapter",
    "full": "peftcalc.methods.full",
}


class _Registry(Mapping[str, Method]):
    """Read-only mapping name → Method that imports each method's module when first asked for it."""

    def __getitem__(self, name: str) -> Method:
        method: Method = importlib.import_module(_MODULES[name]).METHOD
        return method

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


REGISTRY: Mapping[str, Method] = _Registry()


def get_method(name: str) -> Method:
    """The registered method called ``name`` (peft's ID, e.g. ``prefix_tuning``; dashes allowed)."""
    key = name.replace("-", "_").lower()
    if key not in _MODULES:
        raise InputError("method", name, "one of " + ", ".join(_MODULES))
    return REGISTRY[key]


__all__ = ["REGISTRY", "Count", "Method", "MethodConfig", "Row", "get_method"]

"""Bundled presets: Hugging Face ``config.json`` files of well-known models (data, not code).

A preset is named by its file stem (``llama-2-7b.json`` → ``llama-2-7b``); adding one is adding a file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from peftcalc.arch.hf_config import arch_from_config
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError

_DIR = Path(__file__).parent


def list_presets() -> list[str]:
    """Names of every bundled preset, sorted."""
    return sorted(p.stem for p in _DIR.glob("*.json"))


def preset_config(name: str) -> dict[str, object]:
    """The raw config.json dict of a preset."""
    path = _DIR / f"{name}.json"
    if name not in list_presets():
        raise InputError("--model", name, "a known preset: " + ", ".join(list_presets()))
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def load_preset(name: str) -> Arch:
    """The architecture of a bundled preset.

    Examples:
        >>> load_preset("llama-2-7b").total_params
        6738415616
    """
    return arch_from_config(preset_config(name), name=name, source=f"preset {name}")

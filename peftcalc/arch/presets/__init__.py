"""Bundled presets: Hugging Face ``config.json`` files of well-known models (data, not code).

A preset is named by its file stem (``llama-2-7b.json`` → ``llama-2-7b``); adding one is adding a file. Its
``_name_or_path`` is the Hugging Face id it was read from, which ``--model`` accepts too (see ``model_ids``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from peftcalc.arch.hf_config import arch_from_config
from peftcalc.arch.model import Arch

_DIR = Path(__file__).parent


def list_presets() -> list[str]:
    """Names of every bundled preset, sorted."""
    return sorted(p.stem for p in _DIR.glob("*.json"))


@cache
def hub_ids() -> dict[str, str]:
    """Preset name → the Hugging Face id it was read from."""
    return {name: str(json.loads((_DIR / f"{name}.json").read_text(encoding="utf-8")).get("_name_or_path", ""))
            for name in list_presets()}


def preset_config(name: str) -> dict[str, object]:
    """The raw config.json dict of a preset (by name, Hugging Face id or alias)."""
    from peftcalc.arch.model_ids import preset_for, unknown

    preset = preset_for(name, hub_ids())
    if preset is None:
        raise unknown(name, hub_ids())
    data: dict[str, object] = json.loads((_DIR / f"{preset}.json").read_text(encoding="utf-8"))
    return data


@cache
def load_preset(name: str) -> Arch:
    """The architecture of a bundled preset (by name, Hugging Face id or alias).

    Examples:
        >>> load_preset("llama-2-7b").total_params
        6738415616
        >>> load_preset("meta-llama/Llama-2-7b-hf").total_params
        6738415616
    """
    return arch_from_config(preset_config(name), name=name, source=f"preset {name}")


def load_model(name: str) -> Arch:
    """``--model``: the local Hugging Face cache first for an ``org/name`` id, then the presets."""
    from peftcalc.arch.hf_config import load_config_file
    from peftcalc.arch.model_ids import cached_config

    cached = cached_config(name)
    if cached is not None:
        from dataclasses import replace

        arch = load_config_file(cached)
        return replace(arch, name=name, source=f"local Hugging Face cache: {cached}",
                       notes=(f"read from the local Hugging Face cache: {cached}", *arch.notes))
    return load_preset(name)

"""Architectures: read a Hugging Face ``config.json`` (or a bundled preset) into an :class:`Arch`."""

from __future__ import annotations

from peftcalc.arch.hf_config import SUPPORTED_MODEL_TYPES, arch_from_config, load_config_file
from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.arch.presets import list_presets, load_preset

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "Arch",
    "ModuleSpec",
    "arch_from_config",
    "list_presets",
    "load_config_file",
    "load_preset",
]

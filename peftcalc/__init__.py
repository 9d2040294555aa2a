"""peftcalc — exact parameter counts for parameter-efficient fine-tuning, with the working shown.

Two functions cover most uses::

    >>> import peftcalc
    >>> res = peftcalc.lora(d=4096, r=8)           # one 4096×4096 matrix, rank 8
    >>> res.trainable_params, res.formula
    (65536, r*(d + k))
    >>> peftcalc.params("ia3", model="llama-2-7b").trainable_params
    614400

Sizing: ``peftcalc.memory(model, method=…, batch=…, seq=…, …)`` is the training step's peak memory
(``total_bytes`` allocated, ``reserved_bytes``, ``device_bytes``, by component and by phase);
``peftcalc.inference(model, seq=…, gpu="24GB")`` is serving memory with the headroom and the KV tokens
and sequences that still fit.

``params(method, model=…|config=…|d=…, **options)`` works for every registered method
(``peftcalc.REGISTRY``); results are exact integers with the sympy formula, its substitution and a
per-module breakdown.
"""

from __future__ import annotations

from peftcalc.api import inference, memory
from peftcalc.arch import Arch, ModuleSpec, arch_from_config, list_presets, load_config_file, load_preset
from peftcalc.calc import compare, lora, params, resolve_arch
from peftcalc.errors import InputError, PeftcalcError
from peftcalc.matrix import seed_compare
from peftcalc.methods import REGISTRY, Method
from peftcalc.result import Result

__all__ = [
    "REGISTRY",
    "Arch",
    "InputError",
    "Method",
    "ModuleSpec",
    "PeftcalcError",
    "Result",
    "arch_from_config",
    "compare",
    "inference",
    "list_presets",
    "load_config_file",
    "load_preset",
    "lora",
    "memory",
    "params",
    "resolve_arch",
    "seed_compare",
]

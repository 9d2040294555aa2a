"""The top-level sizing functions: ``peftcalc.memory(...)`` and ``peftcalc.inference(...)``.

Both take a model by preset name (``model=``), a Hugging Face config (``config=`` path or dict) or, for
training, a bare parameter count (``params=``); every other keyword is an option of the estimate (the CLI's
flags with ``_`` for ``-``) or of the PEFT method (``r``, ``targets`` …). Results display in a notebook.

    >>> import peftcalc
    >>> est = peftcalc.memory("llama-3-8b", method="qlora", r=16, targets=["all-linear"], seq=2048,
    ...                       checkpointing="full", batch=2)
    >>> est.peak_phase, est.total_bytes < est.reserved_bytes < est.device_bytes
    ('loss backward (log-softmax)', True)
    >>> peftcalc.inference("llama-3-8b", seq=8192, gpu="24GB").max_sequences
    5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.errors import InputError
from peftcalc.serving import InferenceEstimate
from peftcalc.training import MemoryConfig, MemoryEstimate


def _arch(model: str | None, config: str | Mapping[str, Any] | None) -> Any:
    from peftcalc.arch import arch_from_config
    from peftcalc.calc import resolve_arch

    if isinstance(config, Mapping):
        if model is not None:
            raise InputError("model", model, "left out when config is given")
        return arch_from_config(config)
    return resolve_arch(model=model, config=config)


def _capacity(gpu: str | int | None) -> int | None:
    from peftcalc.units import parse_capacity

    return parse_capacity(gpu) if isinstance(gpu, str) else gpu


def memory(model: str | None = None, *, config: str | Mapping[str, Any] | None = None, params: int | str | None = None,
           **options: Any) -> MemoryEstimate:
    """Per-GPU training memory at the step's peak (``total_bytes``, ``reserved_bytes``, ``device_bytes``,
    ``breakdown``, ``phases``). Options: :class:`~peftcalc.training.MemoryConfig`'s fields, else PEFT options."""
    from peftcalc.training import make_memory_config, params_only_memory, training_memory
    from peftcalc.units import parse_count

    fields = set(MemoryConfig.model_fields)
    cfg = make_memory_config(**{k: v for k, v in options.items() if k in fields})
    peft = {k: v for k, v in options.items() if k not in fields}
    if params is not None:
        if model is not None or config is not None or peft:
            raise InputError("params", params, "given alone (a count has no module shapes)")
        count = parse_count(params, field="params") if isinstance(params, str) else params
        return params_only_memory(count, cfg)
    return training_memory(_arch(model, config), cfg, **peft)


def inference(model: str | None = None, *, config: str | Mapping[str, Any] | None = None, batch: int = 1,
              seq: int = 4096, dtype: str = "bf16", weights_dtype: str | None = None, gpu: str | int | None = None,
              adapters: int = 0, **lora: Any) -> InferenceEstimate:
    """Serving memory (weights, KV cache, resident adapters) and, with ``gpu``, the headroom, ``max_kv_tokens``
    and ``max_sequences``. ``weights_dtype``: nf4/fp4/int8/fp8 for quantized serving."""
    from peftcalc.calc import params as count_params
    from peftcalc.serving import inference_memory

    arch = _arch(model, config)
    adapter_params = count_params("lora", arch=arch, **lora).trainable_params if (adapters or lora) else 0
    return inference_memory(arch, batch=batch, seq=seq, dtype=dtype, adapters=adapters, adapter_params=adapter_params,
                            adapter_dtype=dtype, weights_dtype=weights_dtype, capacity_bytes=_capacity(gpu))

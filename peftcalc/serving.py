"""Serving memory: weights (16-bit or quantized), the KV cache, resident adapters — and what still fits.

The KV cache holds 2 (K and V) × decoder layers × kv_dim values per token (GQA-aware). Given a GPU, the
headroom after the weights, the adapters and the CUDA context (:mod:`peftcalc.overheads`) is what the cache
can take: ``max_kv_tokens`` of it, ``max_sequences`` of the given length.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from peftcalc import overheads
from peftcalc.arch.model import Arch
from peftcalc.quant import model_storage
from peftcalc.units import DTYPE_BYTES

QUANTIZED = ("nf4", "fp4", "int8", "fp8")


def kv_cache_bytes(arch: Arch, *, batch: int, seq: int, dtype: str = "bf16") -> int:
    """Key/value cache: 2 (K, V) × decoder layers × kv_dim × tokens × bytes (GQA-aware)."""
    return batch * seq * kv_bytes_per_token(arch, dtype)


def kv_bytes_per_token(arch: Arch, dtype: str = "bf16") -> int:
    """Bytes of K and V one token adds to the cache.

    Examples:
        >>> from peftcalc.arch import load_preset
        >>> kv_bytes_per_token(load_preset("llama-3-8b"))   # 2 · 32 layers · 1024 · 2 B
        131072
    """
    layers = arch.num_decoder_layers or arch.num_layers
    return int(2 * layers * arch.kv_dim * DTYPE_BYTES[dtype])


@dataclass(frozen=True)
class InferenceEstimate:
    """Bytes of serving ``batch`` sequences of ``seq`` tokens; with a GPU, what more the cache could hold."""

    model: str
    weights_bytes: int
    kv_cache_bytes: int
    adapter_bytes: int
    weights_dtype: str = "bf16"
    kv_per_token: int = 0
    seq: int = 0
    capacity_bytes: int | None = None

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.adapter_bytes

    @property
    def device_bytes(self) -> int:
        """With the caching allocator's reserve and the CUDA context (what nvidia-smi shows)."""
        return overheads.device(self.total_bytes)

    @property
    def headroom_bytes(self) -> int | None:
        return None if self.capacity_bytes is None else self.capacity_bytes - self.device_bytes

    @property
    def max_kv_tokens(self) -> int | None:
        """Tokens of KV cache that fit the GPU beside the weights, adapters, reserve and context."""
        if self.capacity_bytes is None or not self.kv_per_token:
            return None
        fixed = self.weights_bytes + self.adapter_bytes
        usable = Fraction(self.capacity_bytes - overheads.CUDA_CONTEXT_BYTES, 1) / (1 + overheads.RESERVE_FRACTION)
        return max(0, int((usable - fixed) // self.kv_per_token))

    @property
    def max_sequences(self) -> int | None:
        tokens = self.max_kv_tokens
        return None if tokens is None or not self.seq else tokens // self.seq

    def _repr_html_(self) -> str:  # notebooks
        from html import escape

        rows = [("weights (" + self.weights_dtype + ")", self.weights_bytes), ("KV cache", self.kv_cache_bytes),
                ("adapters", self.adapter_bytes), ("total", self.total_bytes), ("device", self.device_bytes)]
        body = "".join(f"<tr><td>{escape(k)}</td><td style='text-align:right'>{v / 1e9:,.3f}</td></tr>" for k, v in rows)
        fits = (f"<p>max KV tokens {self.max_kv_tokens:,}, sequences {self.max_sequences:,}</p>"
                if self.max_kv_tokens is not None and self.max_sequences is not None else "")
        return f"<table><caption>serving {escape(self.model)} (GB)</caption>{body}</table>{fits}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "total_bytes": self.total_bytes, "device_bytes": self.device_bytes,
                               "weights_dtype": self.weights_dtype,
                               "breakdown": {"weights": self.weights_bytes, "kv_cache": self.kv_cache_bytes,
                                             "adapters": self.adapter_bytes},
                               "kv_bytes_per_token": self.kv_per_token}
        if self.capacity_bytes is not None:
            out["gpu"] = {"capacity_bytes": self.capacity_bytes, "fits": (self.headroom_bytes or 0) >= 0,
                          "headroom_bytes": self.headroom_bytes, "max_kv_tokens": self.max_kv_tokens,
                          "max_sequences": self.max_sequences, "judged_on": "device_bytes"}
        return out


def inference_memory(arch: Arch, *, batch: int, seq: int, dtype: str = "bf16", adapters: int = 0,
                     adapter_params: int = 0, adapter_dtype: str = "bf16", weights_dtype: str | None = None,
                     capacity_bytes: int | None = None) -> InferenceEstimate:
    """Serving memory: weights (``weights_dtype``: nf4/fp4/int8/fp8 quantize every linear but the head, with
    their block constants) + KV cache in ``dtype`` + ``adapters`` unmerged adapters resident at once.

    Examples:
        >>> from peftcalc.arch import load_preset
        >>> est = inference_memory(load_preset("llama-3-8b"), batch=1, seq=8192, capacity_bytes=24 * 10**9)
        >>> est.kv_cache_bytes, est.max_sequences   # (24 GB − 512 MiB context) / 1.05 − 16.06 GB = 6.28 GB of cache
        (1073741824, 5)
    """
    wd = weights_dtype or dtype
    if wd in QUANTIZED:
        weights = model_storage(arch, wd, double_quant=True, compute_dtype=dtype).total_bytes
    else:
        weights = int(arch.total_params * DTYPE_BYTES[wd])
    per_token = kv_bytes_per_token(arch, dtype)
    return InferenceEstimate(arch.name, weights, batch * seq * per_token,
                             adapters * int(adapter_params * DTYPE_BYTES[adapter_dtype]), wd, per_token, seq,
                             capacity_bytes)


def lora_flop_overhead(arch: Arch, adapted: list[tuple[int, int]], rank: int) -> Fraction:
    """Extra matmul FLOPs of *unmerged* LoRA relative to the model's linear layers, per token:
    Σ r·(k + d) over adapted (k, d) / Σ k·d over all linear layers. Merged LoRA: 0."""
    base = sum(m.in_features * m.out_features for m in arch.linear_modules())
    return Fraction(sum(rank * (k + d) for k, d in adapted), base)

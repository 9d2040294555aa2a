"""CUDA-only: peak memory of one real training step vs :func:`peftcalc.memory.training_memory`.

Plain fp32 training (no autocast, whose cached 16-bit weight copies the model does not describe),
eager attention, AdamW. Static components are read from ``torch.cuda.memory_allocated`` between the
phases of a first step; the peak is that of a second, steady-state step (states and gradients already
allocated); activations are that peak above the static bytes. The CUDA
context, cuBLAS workspaces and allocator rounding are outside ``max_memory_allocated``'s reach or
are reported as the remainder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from peftcalc.memory import make_memory_config, training_memory
from peftcalc.verify.checks import Check
from peftcalc.verify.layers import apply_lora
from peftcalc.verify.models import TinyDecoder, tiny_llama_arch

SHAPES = {  # llama-shaped models of the sizes the issue names
    "gpt2-sized (124M-class)": dict(hidden=768, layers=12, heads=12, kv_heads=12, ffn=2048, vocab=50257),
    "1B-class": dict(hidden=2048, layers=16, heads=32, kv_heads=8, ffn=8192, vocab=32000),
}
TOLERANCE = 0.10


class CudaProbe:
    """The allocator counters (a stand-in with the same methods lets the code path run on CPU in tests)."""

    device = torch.device("cuda")

    def allocated(self) -> int:
        return torch.cuda.memory_allocated()

    def peak(self) -> int:
        return torch.cuda.max_memory_allocated()

    def reset(self) -> None:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    def release(self) -> None:
        torch.cuda.empty_cache()


def _step(shape: dict[str, int], method: str, batch: int, seq: int,
          probe: Any = None) -> tuple[dict[str, int], Any]:
    probe = probe or CudaProbe()
    dev = probe.device
    probe.release()
    probe.reset()
    start = probe.allocated()
    arch = tiny_llama_arch(**shape)
    model = TinyDecoder(arch).to(dev)
    opts: dict[str, Any] = {}
    if method == "lora":
        apply_lora(model, ["q_proj", "v_proj"], r=16)
        opts = {"r": 16, "targets": ["q_proj", "v_proj"]}
    weights = probe.allocated() - start
    ids = torch.randint(0, arch.vocab_size, (batch, seq), device=dev)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, foreach=False)
    model.loss(ids).backward()                      # step 1 allocates gradients …
    grads = probe.allocated() - start - weights
    before = probe.allocated()
    opt.step()                                      # … and the AdamW states
    states = probe.allocated() - before
    opt.zero_grad(set_to_none=False)                # steady state: gradients stay allocated
    probe.reset()
    model.loss(ids).backward()                      # step 2: the steady-state peak
    opt.step()
    probe.reset()
    peak = probe.peak() - start
    measured = {"weights+adapters": weights, "gradients": grads, "optimizer": states,
                "activations (peak above static)": peak - weights - grads - states, "peak_step": peak}
    est = training_memory(arch, make_memory_config(method=method, precision="fp32", batch=batch, seq=seq,
                                                   attention="eager"), **opts)
    del model, opt, ids
    probe.release()
    return measured, est


def cuda_memory_checks(batch: int = 4, seq: int = 512, *, shapes: dict[str, dict[str, int]] | None = None,
                       probe: Any = None, name: str | None = None) -> Iterator[Check]:
    name = name or torch.cuda.get_device_name()
    for label, shape in (shapes or SHAPES).items():
        for method in ("full", "lora"):
            measured, est = _step(shape, method, batch, seq, probe)
            predicted = est.total_bytes
            ratio = measured["peak_step"] / predicted if predicted else 0.0
            parts = ", ".join(f"{k} {v / 2**20:,.1f} MiB" for k, v in measured.items())
            model_parts = ", ".join(f"{k} {v / 2**20:,.1f} MiB" for k, v in est.breakdown.items())
            yield Check("cuda", f"{name}: {label} {method} b={batch} s={seq} peak vs model",
                        "pass" if abs(ratio - 1) <= TOLERANCE else "fail",
                        f"measured/model = {ratio:.3f}; measured: {parts}; model: {model_parts}",
                        {"gpu": name, "measured": measured, "model": est.breakdown, "ratio": ratio})

"""Peak memory of one real training step vs :func:`peftcalc.memory.training_memory`: on CUDA, and on CPU
through :class:`CpuAllocations`.

Plain fp32 training (no autocast, whose cached 16-bit weight copies the model does not describe),
eager attention, AdamW. Static components are read from ``torch.cuda.memory_allocated`` between the
phases of a first step; the peak is that of a second, steady-state step (states and gradients already
allocated); activations are that peak above the static bytes. The CUDA
context, cuBLAS workspaces and allocator rounding are outside ``max_memory_allocated``'s reach or
are reported as the remainder.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

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


class CpuAllocations(TorchDispatchMode):
    """``CudaProbe``'s counters for CPU tensors, so the same step runs and is measured without a GPU: bytes of
    the live storages that torch ops made (forward, backward and optimizer alike) and their peak since the
    last reset. Use as a context manager around the step."""

    device = torch.device("cpu")

    def __init__(self) -> None:
        super().__init__()
        self.live = self.high = 0
        self.storages: set[int] = set()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()  # torch keeps one Python object per storage while it lives
                if id(storage) not in self.storages:
                    self.storages.add(id(storage))
                    self.live += storage.nbytes()
                    self.high = max(self.high, self.live)
                    weakref.finalize(storage, self._freed, id(storage), storage.nbytes())
        return out

    def _freed(self, key: int, nbytes: int) -> None:
        self.storages.discard(key)
        self.live -= nbytes

    def allocated(self) -> int:
        return self.live

    def peak(self) -> int:
        return self.high

    def reset(self) -> None:
        self.high = self.live

    def release(self) -> None:
        pass


def step_peak(shape: dict[str, int], method: str, batch: int, seq: int,
              probe: Any = None) -> tuple[dict[str, int], Any]:
    """Measured bytes of a fp32 AdamW step (static parts, activations = peak above them) and the model's."""
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
    peak = probe.peak() - start                     # read before any reset: a reset would forget it
    measured = {"weights+adapters": weights, "gradients": grads, "optimizer": states,
                "activations (peak above static)": peak - weights - grads - states, "peak_step": peak}
    est = training_memory(arch, make_memory_config(method=method, precision="fp32", batch=batch, seq=seq,
                                                   attention="eager"), **opts)
    del model, opt, ids
    probe.release()
    return measured, est


DIFFER = 0.02  # the report names the components further than this from the model's, with the reason below
WHY = {"weights+adapters": "the allocator's 512-byte rounding per tensor",
       "gradients": "cuBLAS workspaces taken by the first backward, if not warmed up",
       "optimizer": "AdamW's per-tensor step counters (not modelled)",
       "activations (peak above static)": "RMSNorm's saved rstd, the attention mask and transients in a block's "
                                          "backward (not modelled)"}


def differences(measured: dict[str, int], model: dict[str, int]) -> list[str]:
    """The measured components more than ``DIFFER`` away from the model's, each with the likely reason."""
    modelled = {"weights+adapters": model.get("weights", 0) + model.get("adapters", 0),
                "gradients": model.get("gradients", 0), "optimizer": model.get("optimizer", 0),
                "activations (peak above static)": model.get("activations", 0)}
    out = []
    for key, want in modelled.items():
        got = measured[key]
        if (abs(got / want - 1) > DIFFER) if want else (got > 2**20):
            off = f"{got / want - 1:+.1%}" if want else f"+{got / 2**20:,.1f} MiB"
            out.append(f"{key} {off} ({WHY[key]})")
    return out


def _warm_up(device: torch.device) -> None:
    """cuBLAS takes its workspaces from torch's allocator on first use; let it before anything is measured."""
    x = torch.ones(64, 64, device=device, requires_grad=True)
    nn.functional.linear(x, x, torch.ones(64, device=device)).sum().backward()
    nn.functional.linear(x, x).sum().backward()


def cuda_memory_checks(batch: int = 4, seq: int = 512, *, shapes: dict[str, dict[str, int]] | None = None,
                       probe: Any = None, name: str | None = None) -> Iterator[Check]:
    name = name or torch.cuda.get_device_name()
    if probe is None:  # cuBLAS only: a stand-in probe has no workspaces to take
        _warm_up(CudaProbe.device)
    for label, shape in (shapes or SHAPES).items():
        for method in ("full", "lora"):
            measured, est = step_peak(shape, method, batch, seq, probe)
            predicted = est.total_bytes
            ratio = measured["peak_step"] / predicted if predicted else 0.0
            parts = ", ".join(f"{k} {v / 2**20:,.1f} MiB" for k, v in measured.items())
            model_parts = ", ".join(f"{k} {v / 2**20:,.1f} MiB" for k, v in est.breakdown.items())
            yield Check("cuda", f"{name}: {label} {method} b={batch} s={seq} peak vs model",
                        "pass" if abs(ratio - 1) <= TOLERANCE else "fail",
                        f"measured/model = {ratio:.3f}; measured: {parts}; model: {model_parts}; differ: "
                        + ("; ".join(differences(measured, est.breakdown)) or f"none by over {DIFFER:.0%}"),
                        {"gpu": name, "measured": measured, "model": est.breakdown, "ratio": ratio})

"""The allocation counters a measured step reads: CUDA's allocator (:class:`CudaProbe`), and on CPU the
live storages that torch ops make (:class:`CpuAllocations`), so the same step is measured without a GPU.

Plain fp32 training (no autocast, whose cached 16-bit weight copies the model does not describe). The
CUDA context and the caching allocator's reserve are outside ``max_memory_allocated``'s reach; the CUDA
group reports them next to the overheads the model assumes (:mod:`peftcalc.overheads`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from peftcalc.verify.checks import Check


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


CUDA_SHAPE = dict(hidden=768, layers=12, heads=12, kv_heads=4, ffn=2048, vocab=50257)  # GPT-2-sized
CUDA_CASES = [(family, method, attention, ckpt) for family in ("llama", "gpt2", "qwen2") for method in ("full", "lora")
              for attention, ckpt in (("eager", False), ("flash", True))]


def _warm_up(device: torch.device) -> None:
    """cuBLAS takes its workspaces from torch's allocator on first use; let it before anything is measured."""
    x = torch.ones(64, 64, device=device, requires_grad=True)
    nn.functional.linear(x, x, torch.ones(64, device=device)).sum().backward()
    nn.functional.linear(x, x).sum().backward()


def cuda_memory_checks(batch: int = 4, seq: int = 512, *, probe: Any = None, name: str | None = None,
                       device: str = "cuda") -> Iterator[Check]:
    """The transformers step of :mod:`peftcalc.verify.hf_step` on a GPU (``max_memory_allocated``), GPT-2-sized
    models, with the model's CUDA conventions (bool dropout masks, SDPA's memory-efficient kernel); and the
    reserve and the CUDA context measured next to the model's assumed overheads."""
    from peftcalc import overheads
    from peftcalc.verify.hf_step import check_hf_step_peaks

    if probe is None:  # cuBLAS only: a stand-in probe has no workspaces to take
        _warm_up(CudaProbe.device)
    probe = probe or CudaProbe()
    name = name or torch.cuda.get_device_name()
    for check in check_hf_step_peaks(batch, seq, probe=probe, device=device, only=CUDA_CASES, shape=CUDA_SHAPE):
        yield Check("cuda", f"{name}: {check.name}", check.status, check.detail, check.numbers)
    if isinstance(probe, CudaProbe):
        free, total = torch.cuda.mem_get_info()
        reserved = torch.cuda.max_memory_reserved()
        allocated = torch.cuda.max_memory_allocated()
        used = total - free
        yield Check("cuda", f"{name}: caching allocator reserve and CUDA context", "pass",
                    f"max reserved / max allocated = {reserved / allocated:.3f} (model assumes "
                    f"{1 + float(overheads.RESERVE_FRACTION):.2f}); device used − reserved = {(used - reserved) / 2**20:,.0f} "
                    f"MiB (model assumes {overheads.CUDA_CONTEXT_BYTES / 2**20:,.0f} MiB)",
                    {"max_reserved": reserved, "max_allocated": allocated, "device_used": used})

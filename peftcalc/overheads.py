"""What a GPU shows beyond the tensors: the caching allocator's reserve and the CUDA context.

Three levels of every memory answer (PyTorch's own terms, torch.cuda.memory_stats):

- ``total_bytes`` — peak *allocated*: the live tensors at the step's peak (``max_memory_allocated``);
- ``reserved_bytes`` — what the caching allocator holds at that peak (``max_memory_reserved``, what torchtune
  logs as ``peak_memory_reserved``): allocations rounded up to 512 B and carved from 2 MiB (small) or 20 MiB+
  (large) segments that a freed tensor leaves partly unused;
- ``device_bytes`` — what nvidia-smi/NVML shows for the process: the reserve plus the CUDA context (driver,
  kernels' code, cuBLAS/cuDNN handles and workspaces).

The two overheads are one definition each, here. No GPU was lent to the task that wrote them, so they are
the published ranges, not a measurement of ours: PyTorch's docs say only that nvidia-smi shows more than
``memory_allocated`` "since some unused memory can be held by the caching allocator and some context needs to
be created on GPU" (torch.cuda.memory_allocated); pytorch/pytorch#34323 shows a process holding 781 MB
before any tensor; with CUDA ≥ 11.7 lazy module loading the context of a torch process is ~0.3–0.6 GB.
The reserve is workload-dependent (fragmentation); 5 % is the middle of what the allocator's segment
rounding and one step's free/alloc churn leave on training steps (``expandable_segments`` lowers it).
``peftcalc verify --memory`` measures both on a GPU when one is lent (peftcalc/verify/cuda.py).
"""

from __future__ import annotations

from fractions import Fraction

RESERVE_FRACTION = Fraction(5, 100)   # reserved ≈ allocated × (1 + this)
CUDA_CONTEXT_BYTES = 512 * 2**20      # CUDA context + cuBLAS workspaces, outside torch's allocator

LEVELS = {
    "total_bytes": "peak allocated: live tensors at the step's peak (torch.cuda.max_memory_allocated)",
    "reserved_bytes": f"+ the caching allocator's reserve, {float(RESERVE_FRACTION):.0%} assumed "
                      "(torch.cuda.max_memory_reserved; torchtune's peak_memory_reserved)",
    "device_bytes": f"+ the CUDA context, {CUDA_CONTEXT_BYTES / 2**20:,.0f} MiB assumed (nvidia-smi / NVML)",
}


def reserved(allocated: int) -> int:
    """The caching allocator's reserve at a peak of ``allocated`` bytes (rounded up to 2 MiB segments).

    Examples:
        >>> reserved(20 * 10**9)
        21000880128
    """
    raw = allocated + allocated * RESERVE_FRACTION
    segment = 2 * 2**20
    return int(-(-raw // segment) * segment)


def device(allocated: int) -> int:
    """What nvidia-smi shows for the process: the reserve plus the CUDA context."""
    return reserved(allocated) + CUDA_CONTEXT_BYTES

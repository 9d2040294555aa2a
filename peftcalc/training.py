"""GPU memory of a training step (full, LoRA, QLoRA, any PEFT method), component by component, at its peak.

The step's peak (``total_bytes``) is the largest phase of :mod:`peftcalc.step` — gradients appear as
activations die, so it is less than the sum of every component at full size (``static``, the textbook
sum). ``reserved_bytes``/``device_bytes`` add the allocator's reserve and the CUDA context
(:mod:`peftcalc.overheads`). Serving memory is :mod:`peftcalc.serving`; the largest batch/seq/rank that
fits is :mod:`peftcalc.solve`; the Python entry point is ``peftcalc.memory(...)``.

Components (DESIGN.md names): ``weights`` (the base model as stored), ``quant_constants`` (4-bit
absmax / scales), ``adapters`` (parameters a PEFT method adds), ``gradients`` (trainable parameters
only), ``master_weights`` (fp32 copies under mixed precision), ``optimizer`` (its states),
``activations`` (see :mod:`peftcalc.activations`). ZeRO (Rajbhandari et al. 2020, arXiv 1910.02054)
shards optimizer states and master weights (stage 1), then gradients (2), then weights (3) over N GPUs.

Precision conventions:
- ``mixed``: 16-bit weights and gradients, fp32 master weights and optimizer states (ZeRO's 16Ψ with Adam);
- ``amp``: torch autocast — fp32 weights, gradients and states, 16-bit activations and weight copies;
- ``bf16``/``fp16``: pure 16-bit weights and gradients, fp32 optimizer states, no master copy
  (seed 004's "FP16 14 GB + gradients 14 GB + Adam 56 GB = 84 GB" for 7B); ``optimizer_dtype="bf16"`` is
  what torch's AdamW does on bf16 parameters (states like the parameter);
- ``fp32``: everything in fp32.
PEFT: the frozen base is stored in 16-bit (fp32 with ``fp32``) or 4-bit (QLoRA); adapters are fp32 by
default — peft ≥ 0.12 up-casts adapter weights to fp32 (``autocast_adapter_dtype=True``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from peftcalc import overheads
from peftcalc.activations import ActivationEstimate, Attention, Checkpointing, Implementation, Loss, estimate
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError
from peftcalc.step import Gradients, Phase, peak_phase, step_phases
from peftcalc.quant import model_storage
from peftcalc.units import DTYPE_BYTES
from peftcalc.validation import to_input_error

COMPONENTS = ("weights", "quant_constants", "adapters", "gradients", "master_weights", "optimizer", "activations")
Precision = Literal["mixed", "amp", "bf16", "fp16", "fp32"]
Optimizer = Literal["adamw", "adamw8bit", "sgd", "sgd_momentum", "adafactor"]
# bitsandbytes 8-bit optimizers: blockwise states (block 256, one fp32 absmax per block per state);
# tensors smaller than min_8bit_size = 4096 keep 32-bit states.
_ADAM8_BLOCK = 256
_ADAM8_MIN_SIZE = 4096


class MemoryConfig(BaseModel):
    """Options of a training-memory estimate (field names are the CLI flags)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    method: str = Field("full", description="full, qlora, or any PEFT method (lora, dora, ia3, …)")
    precision: Precision = Field("mixed", description="mixed (16-bit + fp32 master), amp (torch autocast: fp32 weights "
                                                      "and gradients, 16-bit copies), bf16/fp16 (pure), fp32")
    set_to_none: bool = Field(True, description="zero_grad(set_to_none=True), torch ≥ 2.0's default; False: gradients "
                                                "zeroed in place stay allocated through the next step")
    optimizer: Optimizer = Field("adamw", description="adamw, adamw8bit, sgd, sgd_momentum, adafactor")
    optimizer_dtype: Literal["fp32", "bf16"] = Field(
        "fp32", description="dtype of AdamW/SGD states: fp32, or bf16 (torch's AdamW on pure-bf16 parameters)")
    optimizer_impl: Literal["fused", "foreach"] = Field(
        "fused", description="fused (Trainer's adamw_torch_fused, DeepSpeed FusedAdam: no temporaries) or foreach "
                             "(torch.optim's CUDA default: one state-sized temporary during the step)")
    optimizer_in_backward: bool = Field(False, description="apply and free each gradient during the backward")
    offload: Literal["none", "cpu"] = Field("none", description="optimizer states (and ZeRO-3 parameters) on the host")
    batch: int = Field(1, ge=0, le=1_000_000, description="sequences per step (0: weights and states only)")
    gradient_accumulation: int = Field(1, gt=0, le=1_000_000, description="micro-batches per optimizer step (>1: "
                                                                        "gradients stay alive through every step)")
    seq: int = Field(2048, gt=0, le=10_000_000, description="tokens per sequence")
    checkpointing: Checkpointing = Field("none", description="gradient checkpointing: none, full, selective")
    attention: Attention = Field("flash", description="flash (no s² scores) or eager")
    loss: Loss = Field("standard", description="standard (full-vocabulary fp32 logits) or chunked (fused linear + "
                                               "cross-entropy: Liger, Unsloth, Cut Cross-Entropy)")
    zero: int = Field(0, ge=0, le=3, description="DeepSpeed ZeRO stage")
    gpus: int | None = Field(None, gt=0, le=1_000_000, description="data-parallel GPUs (ZeRO shards over them)")
    quant_dtype: Literal["nf4", "fp4", "int8", "fp8"] | None = Field(None, description="QLoRA base weight dtype (nf4)")
    double_quant: bool = Field(True, description="QLoRA double quantization of the absmax constants")
    adapter_dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="dtype of PEFT parameters")
    paged: bool = Field(False, description="paged optimizer (states may spill to CPU under pressure)")
    device: Literal["cuda", "cpu"] = Field("cuda", description="where the step runs (dropout masks: bool on CUDA)")
    implementation: Implementation = Field(
        "transformers", description="whose layers: transformers (measured tensor by tensor) or megatron "
                                    "(Korthikanti et al.'s textbook count)")

    @model_validator(mode="after")
    def _check(self) -> MemoryConfig:
        if self.zero and self.gpus is None:
            raise InputError("--gpus", "<missing>", f"given with --zero {self.zero} (the number of GPUs it shards over)")
        if self.quant_dtype is not None and self.method.replace("-", "_").lower() != "qlora":
            raise InputError("--quant-dtype", self.quant_dtype, "used with --method qlora (only QLoRA quantizes the base)")
        if self.gradient_accumulation > 1 and self.optimizer_in_backward:
            raise InputError("--gradient-accumulation", self.gradient_accumulation,
                             "1 with --optimizer-in-backward (each gradient is applied as it is made)")
        if self.offload == "cpu" and self.optimizer_in_backward:
            raise InputError("--offload", "cpu", "none with --optimizer-in-backward (the step runs on the GPU)")
        return self

    @property
    def n_gpus(self) -> int:
        return self.gpus or 1


@dataclass(frozen=True)
class Component:
    bytes: int
    formula: str


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per GPU at the step's peak, by component, with the formulas, the phases and the assumptions.

    ``total_bytes`` is the peak allocated; ``reserved_bytes`` and ``device_bytes`` add the caching allocator's
    reserve and the CUDA context (:mod:`peftcalc.overheads`); ``host_bytes`` is what ``offload`` puts in CPU RAM.
    """

    model: str
    method: str
    components: dict[str, Component]
    trainable_params: int
    base_params: int
    assumptions: tuple[str, ...]
    config: dict[str, Any] = field(default_factory=dict)
    phases: tuple[Phase, ...] = ()
    peak_phase: str = ""
    host_bytes: int = 0
    static: dict[str, int] = field(default_factory=dict)  # every component at its full size (see training_memory)
    activation: ActivationEstimate | None = None          # the activation model's detail (saved tensors, items)
    paged_bytes: int = 0                                  # paged optimizer states (unified memory, evictable)

    @property
    def total_bytes(self) -> int:
        return sum(c.bytes for c in self.components.values())

    @property
    def reserved_bytes(self) -> int:
        return overheads.reserved(self.total_bytes)

    @property
    def device_bytes(self) -> int:
        return overheads.device(self.total_bytes) + self.paged_bytes

    @property
    def breakdown(self) -> dict[str, int]:
        return {name: c.bytes for name, c in self.components.items()}

    def fits(self, capacity_bytes: int) -> tuple[bool, int]:
        """(fits, headroom bytes — negative when it does not), judged on ``device_bytes`` (what the GPU holds)
        less paged optimizer states, which are evicted to the host rather than fail."""
        need = self.device_bytes - self.paged_bytes
        return need <= capacity_bytes, capacity_bytes - need

    def to_json(self, gpu_bytes: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model, "method": self.method, "total_bytes": self.total_bytes,
            "reserved_bytes": self.reserved_bytes, "device_bytes": self.device_bytes, "host_bytes": self.host_bytes,
            "paged_bytes": self.paged_bytes,
            "levels": overheads.LEVELS,
            "breakdown": self.breakdown, "formulas": {k: c.formula for k, c in self.components.items()},
            "peak_phase": self.peak_phase,
            "phases": [{"name": p.name, "total_bytes": p.total_bytes, "breakdown": p.breakdown} for p in self.phases],
            "static": self.static,
            "trainable_params": self.trainable_params, "base_params": self.base_params,
            "assumptions": list(self.assumptions), "config": self.config,
        }
        if gpu_bytes is not None:
            ok, headroom = self.fits(gpu_bytes)
            out["gpu"] = {"capacity_bytes": gpu_bytes, "fits": ok, "headroom_bytes": headroom, "judged_on": "device_bytes"}
        return out

    def _repr_html_(self) -> str:  # notebooks
        from peftcalc.render_sizing import memory_html

        return memory_html(self)


def make_memory_config(**options: Any) -> MemoryConfig:
    try:
        return MemoryConfig(**options)
    except ValidationError as exc:
        raise to_input_error(exc, MemoryConfig) from None


def _bytes(params: int, dtype: str) -> int:
    return int(params * DTYPE_BYTES[dtype])


def _shard(value: int, stage_needed: int, cfg: MemoryConfig) -> int:
    """Per-GPU bytes of a component ZeRO shards from ``stage_needed`` on (partitions padded up)."""
    if cfg.zero >= stage_needed and cfg.n_gpus > 1:
        return -(-value // cfg.n_gpus)
    return value


def _state_bytes(cfg: MemoryConfig) -> int:
    """Bytes of one optimizer state element (AdamW's m or v, SGD's momentum)."""
    return 2 if cfg.optimizer_dtype == "bf16" else 4


def _optimizer_bytes(cfg: MemoryConfig, tensors: list[tuple[int, ...]]) -> tuple[int, str]:
    """Optimizer state bytes over trainable tensors (given by shape)."""
    numel = sum(math.prod(shape) for shape in tensors)
    sb = _state_bytes(cfg)
    if cfg.optimizer == "adamw":
        return 2 * sb * numel, f"{2 * sb} B × {numel:,} (two {cfg.optimizer_dtype} states, m and v)"
    if cfg.optimizer == "sgd":
        return 0, "plain SGD keeps no state"
    if cfg.optimizer == "sgd_momentum":
        return sb * numel, f"{sb} B × {numel:,} ({cfg.optimizer_dtype} momentum)"
    if cfg.optimizer == "adamw8bit":
        total = 0
        for shape in tensors:
            n = math.prod(shape)
            total += 8 * n if n < _ADAM8_MIN_SIZE else 2 * n + 2 * 4 * -(-n // _ADAM8_BLOCK)
        return total, f"2 B × params + 2 fp32 absmax per {_ADAM8_BLOCK} (tensors < {_ADAM8_MIN_SIZE} keep 8 B)"
    # Adafactor (Shazeer & Stern 2018), β1 = None: a 2-D tensor keeps row and column second-moment
    # factors (n + m fp32), other tensors the full second moment.
    total = sum(4 * (shape[0] + shape[1]) if len(shape) == 2 else 4 * math.prod(shape) for shape in tensors)
    return total, "Adafactor: 4 B × (rows + cols) per matrix, 4 B × n per vector"


def _step_temporaries(cfg: MemoryConfig, numel: int, largest: int) -> int:
    """Bytes the optimizer step allocates beyond its states: torch's foreach AdamW takes the square roots of
    all second moments at once (``_foreach_sqrt``: one state-sized list); fused kernels and SGD work in place.
    In the backward (``optimizer_in_backward``) the same happens one parameter at a time."""
    if cfg.optimizer != "adamw" or cfg.optimizer_impl == "fused":
        return 0
    return _state_bytes(cfg) * (largest if cfg.optimizer_in_backward else numel)


def _base_tensors(arch: Arch) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    for mod in arch.modules:
        if mod.tied_to is not None:
            continue
        for pname, n in mod.params.items():
            shapes.append((mod.out_features, n // mod.out_features) if pname == "weight" and mod.kind != "norm" else (n,))
    return shapes


def training_memory(arch: Arch, cfg: MemoryConfig, **method_options: Any) -> MemoryEstimate:
    """Per-GPU bytes at the peak of one training step of ``cfg.method`` on ``arch``.

    Examples:
        >>> from peftcalc.arch import load_preset
        >>> est = training_memory(load_preset("llama-2-7b"), make_memory_config(batch=0))
        >>> est.total_bytes == 16 * 6_738_415_616    # mixed-precision Adam: 2 + 2 + 4 + 8 bytes/param
        True
    """
    from peftcalc.calc import params  # local: calc imports methods, which never import memory

    base = arch.total_params
    assumptions: list[str] = []
    comps: dict[str, Component] = {}
    half = "fp32" if cfg.precision in ("fp32", "amp") else ("fp16" if cfg.precision == "fp16" else "bf16")
    method = cfg.method.replace("-", "_").lower()
    qlora = method == "qlora"
    if method == "full":
        if method_options:
            raise InputError(f"--{next(iter(method_options)).replace('_', '-')}", next(iter(method_options.values())),
                             "an option of a PEFT method (not of full fine-tuning)")
        trainable = base
        trained_names = [m.name for m in arch.linear_modules()]
        comps["weights"] = Component(_shard(_bytes(base, half), 3, cfg), f"{DTYPE_BYTES[half]} B × {base:,} ({half})")
        grad_dtype = half
        comps["gradients"] = Component(_shard(_bytes(base, grad_dtype), 2, cfg),
                                       f"{DTYPE_BYTES[grad_dtype]} B × {base:,} ({grad_dtype})")
        if cfg.precision == "mixed":
            comps["master_weights"] = Component(_shard(4 * base, 1, cfg), f"4 B × {base:,} (fp32 master copy)")
        tensors = _base_tensors(arch)
        opt, opt_formula = _optimizer_bytes(cfg, tensors)
        comps["optimizer"] = Component(_shard(opt, 1, cfg), opt_formula)
        lora_rank = 0
        grad_bytes = int(DTYPE_BYTES[grad_dtype])
    else:
        quant_dtype = cfg.quant_dtype or "nf4"
        res = params("lora" if qlora else method, arch=arch, **method_options)
        trainable = res.trainable_params
        added = res.total_params - base
        if qlora:
            storage = model_storage(arch, quant_dtype, double_quant=cfg.double_quant, compute_dtype=half)
            comps["weights"] = Component(_shard(storage.data_bytes + storage.kept_bytes, 3, cfg),
                                         f"{quant_dtype} {storage.quantized_params:,} linear weights ÷ 2 + "
                                         f"{storage.kept_params:,} others × {DTYPE_BYTES[half]} B ({half})")
            comps["quant_constants"] = Component(_shard(storage.constant_bytes, 3, cfg),
                                                 "absmax per 64 values" + (" (double-quantized)" if cfg.double_quant else " (fp32)"))
            assumptions.append("QLoRA: every Linear/Conv1D but the output head in 4-bit; embeddings, norms in 16-bit")
        else:
            comps["weights"] = Component(_shard(_bytes(base, half), 3, cfg), f"{DTYPE_BYTES[half]} B × {base:,} ({half}, frozen)")
        ad = cfg.adapter_dtype if cfg.precision != "fp32" else "fp32"
        comps["adapters"] = Component(_shard(_bytes(added, ad), 3, cfg), f"{DTYPE_BYTES[ad]} B × {added:,} ({ad})")
        comps["gradients"] = Component(_shard(_bytes(trainable, ad), 2, cfg), f"{DTYPE_BYTES[ad]} B × {trainable:,} ({ad})")
        if ad != "fp32" and cfg.precision == "mixed":
            comps["master_weights"] = Component(_shard(4 * trainable, 1, cfg), f"4 B × {trainable:,} (fp32 master copy)")
        # adapter tensors are small matrices; count them as vectors except for Adafactor's factoring
        tensors = [(trainable,)]
        opt, opt_formula = _optimizer_bytes(cfg, tensors)
        if cfg.optimizer == "adafactor":
            assumptions.append("Adafactor on adapters: counted unfactored (an upper bound)")
        comps["optimizer"] = Component(_shard(opt, 1, cfg), opt_formula)
        trained_names = [name for row in res.rows for name in row.module_names]
        lora_rank = int(res.symbols.get("r", 0)) if res.method in ("lora", "dora") else 0
        grad_bytes = int(DTYPE_BYTES[ad])
    paged = 0
    if cfg.paged:  # bitsandbytes allocates paged states with cudaMallocManaged, outside torch's allocator
        paged = comps["optimizer"].bytes
        comps["optimizer"] = Component(0, f"paged, outside torch's allocator ({paged:,} B): {comps['optimizer'].formula}")
        assumptions.append(f"paged optimizer (bitsandbytes): its {paged:,} B of states live in CUDA unified memory, "
                           "outside torch's allocator (not in total/reserved); device_bytes counts them on the GPU, but "
                           "under pressure they are evicted to CPU RAM instead of failing, so a fit is judged without them")
    if cfg.zero and cfg.n_gpus > 1:  # say where ZeRO divides (ZeRO paper §5: stage 1 states, 2 gradients, 3 weights)
        for name, stage in (("optimizer", 1), ("master_weights", 1), ("gradients", 2), ("weights", 3),
                            ("adapters", 3), ("quant_constants", 3)):
            if name in comps and cfg.zero >= stage:
                comps[name] = Component(comps[name].bytes, f"({comps[name].formula}) ÷ {cfg.n_gpus} GPUs")
    act_bytes = 4 if cfg.precision == "fp32" else 2
    if cfg.precision == "amp":
        # torch.autocast keeps fp32 weights and casts each linear's weight to 16-bit on use; the copies are
        # saved for the backward (and cached until the forward's autocast region ends): 2 B per linear parameter
        linear = sum(m.numel - m.bias_numel for m in arch.linear_modules() if m.tied_to is None)
        comps["weights"] = Component(comps["weights"].bytes + 2 * linear,
                                     comps["weights"].formula + f" + 16-bit autocast copies 2 B × {linear:,}")
        assumptions.append("amp: fp32 weights, gradients and states; 16-bit activations and weight copies")
    act = estimate(arch, batch=cfg.batch, seq=cfg.seq, trained_names=trained_names, lora_rank=lora_rank,
                   attention=cfg.attention, checkpointing=cfg.checkpointing, dtype_bytes=act_bytes,
                   norms_trained=method == "full", embeddings_trained=method == "full", device=cfg.device,
                   loss=cfg.loss, implementation=cfg.implementation, adapter_bytes=int(DTYPE_BYTES[cfg.adapter_dtype if cfg.precision != "fp32" else "fp32"]))
    assumptions.extend(act.assumptions)
    host = _offload(cfg, comps, assumptions)
    if cfg.zero == 3 and cfg.n_gpus > 1 and arch.blocks:
        # ZeRO-3/FSDP gather each block's full parameters on the GPU for its forward/backward and prefetch the
        # next (offloaded or not): two blocks of 16-bit weights (DeepSpeed bounds it by stage3_max_live_parameters)
        block = sum(m.numel for m in arch.modules if _block_index(m.name) == 0)
        live = 2 * block * int(DTYPE_BYTES[half])
        comps["weights"] = Component(comps["weights"].bytes + live,
                                     comps["weights"].formula + f" + 2 gathered blocks {live:,} B")
    numel = sum(math.prod(t) for t in tensors)
    largest = max((math.prod(t) for t in tensors), default=0)
    grads = _gradient_profile(arch, method == "full", comps["gradients"].bytes, grad_bytes, largest, act.blocks,
                              on_host=cfg.offload == "cpu" and cfg.zero >= 1)
    if cfg.zero >= 2 and cfg.n_gpus > 1 and method == "full" and act.blocks:
        # ZeRO-2/3 and FSDP reduce-scatter each block's gradient: it exists unsharded, in full, until then
        unsharded = sum(m.numel for m in arch.modules if _block_index(m.name) == 0) * grad_bytes
        grads = replace(grads, unsharded_block=unsharded)
        assumptions.append(f"ZeRO-{cfg.zero}: a block's gradient is whole ({unsharded:,} B) until its reduce-scatter")
    resident = {name: c.bytes for name, c in comps.items() if name != "gradients"}
    step_extra = 0 if cfg.offload == "cpu" else _shard(_step_temporaries(cfg, numel, largest), 1, cfg)
    phases = step_phases(resident, act, grads, optimizer_step_bytes=step_extra,
                         checkpointing=cfg.checkpointing == "full", optimizer_in_backward=cfg.optimizer_in_backward,
                         gradients_persist=cfg.gradient_accumulation > 1 or not cfg.set_to_none)
    top = peak_phase(phases)
    formulas = {name: c.formula for name, c in comps.items()}
    formulas["gradients"] = f"{formulas['gradients']}; alive at the peak: {top.breakdown['gradients']:,} B"
    formulas["activations"] = (f"{act.formula or 'batch 0: none'}; alive at the peak ({top.name}): "
                               f"{top.breakdown['activations']:,} B")
    if top.breakdown.get("optimizer", 0) != resident.get("optimizer", 0):
        formulas["optimizer"] += f" + {top.breakdown['optimizer'] - resident.get('optimizer', 0):,} B step temporaries"
    if cfg.optimizer_in_backward:
        assumptions.append("optimizer in the backward: each gradient is applied and freed as soon as it is made")
    if cfg.zero:
        assumptions.append(f"ZeRO stage {cfg.zero} over {cfg.n_gpus} GPUs: per-GPU figures; activations not sharded")
    elif cfg.gpus and cfg.gpus > 1:
        assumptions.append(f"data parallelism over {cfg.gpus} GPUs without ZeRO: each GPU holds all of it")
    ordered = {name: Component(top.breakdown[name], formulas[name]) for name in COMPONENTS if name in top.breakdown}
    # every component at its full size, activations additively (all saved tensors + the loss's peak): the
    # textbook sum, an upper bound of the step peak
    static = {name: c.bytes for name, c in comps.items()} | {"activations": act.total_bytes}
    return MemoryEstimate(arch.name, cfg.method, ordered, trainable, base, tuple(assumptions), cfg.model_dump(),
                          phases, top.name, host, static, act, paged)


def _block_index(name: str) -> int | None:
    from peftcalc.activations import block_of

    return block_of(name)


def _offload(cfg: MemoryConfig, comps: dict[str, Component], assumptions: list[str]) -> int:
    """Move what ``--offload cpu`` puts in host RAM out of ``comps``; return its bytes (DeepSpeed ZeRO-Offload:
    optimizer states and master weights, gradients too from stage 1; ZeRO-3 also the parameters)."""
    if cfg.offload == "none":
        return 0
    moved = ["optimizer", "master_weights"] + (["gradients"] if cfg.zero >= 1 else []) + (
        ["weights", "adapters", "quant_constants"] if cfg.zero == 3 else [])
    host = 0
    for name in moved:
        if name in comps:
            host += comps[name].bytes
            comps[name] = Component(0, f"on the host ({comps[name].bytes:,} B): {comps[name].formula}")
    assumptions.append(f"offload to CPU: {', '.join(m for m in moved)} in host RAM ({host:,} B); the optimizer "
                       "step runs on the CPU (DeepSpeed CPU Adam); ZeRO-3 streams parameters in per layer")
    return host


def _gradient_profile(arch: Arch, full: bool, total: int, grad_bytes: int, largest: int, blocks: int, *,
                      on_host: bool) -> Gradients:
    """Where the backward makes the gradients: per block (by role), LM head, embeddings (full fine-tuning:
    from the module tree; PEFT: spread evenly over the blocks — adapters are alike per block)."""
    if on_host or total == 0:
        return Gradients(0, {}, 0, 0, 0, blocks=blocks)
    if not full or not blocks:
        # adapters are alike per block; the largest single gradient is bounded by one block's adapters
        per_block = total // max(1, blocks)
        return Gradients(per_block, {}, 0, 0, per_block, blocks=max(1, blocks))
    from peftcalc.activations import block_of, role_group

    per_block: dict[str, int] = {}
    head = embedding = tied = 0
    unsharded = arch.total_params * grad_bytes
    for mod in arch.modules:
        nbytes = mod.numel * grad_bytes
        index = block_of(mod.name)
        if index == 0:
            role = role_group(mod) or ("norm1" if not any(k.startswith("norm") for k in per_block) else "norm2")
            per_block[role] = per_block.get(role, 0) + nbytes
        elif index is not None:
            continue
        elif mod.tied_to is not None:
            tied = arch.module(mod.tied_to).numel * grad_bytes
        elif mod.kind == "embedding":
            embedding += nbytes
        else:
            head += nbytes
    # a tied head's gradient is made in the head's backward; the embedding's own comes last and is added to it
    head, embedding = head + tied, embedding - tied
    scale = Fraction(total, unsharded)  # ZeRO-2/3 keep a 1/N share of every gradient
    shard = {k: int(v * scale) for k, v in per_block.items()}
    return Gradients(sum(shard.values()), shard, int(head * scale), int(embedding * scale),
                     int(largest * grad_bytes * scale), int(tied * scale), blocks=blocks)


def params_only_memory(psi: int, cfg: MemoryConfig) -> MemoryEstimate:
    """Full fine-tuning of Ψ parameters known only by count (no architecture: no activations).

    Examples:
        >>> est = params_only_memory(7_500_000_000, make_memory_config(zero=3, gpus=64, batch=0))
        >>> est.total_bytes                   # ZeRO paper: 16Ψ/N_d = 1.875 GB
        1875000000
    """
    if cfg.method != "full":
        raise InputError("--method", cfg.method, "full when only --params is given (PEFT needs a model's shapes)")
    if cfg.batch:
        raise InputError("--batch", cfg.batch, "0 with --params (activations need a model: use --model/--config)")
    if cfg.optimizer == "adafactor":
        raise InputError("--optimizer", "adafactor", "used with --model/--config (it factors by matrix shape)")
    half = "fp32" if cfg.precision == "fp32" else ("fp16" if cfg.precision == "fp16" else "bf16")
    n = cfg.n_gpus

    def per_gpu(stage: int, text: str) -> str:
        return f"{text} ÷ {n} GPUs" if cfg.zero >= stage and n > 1 else text

    psi_text = f"Ψ = {psi:,}"
    comps = {
        "weights": Component(_shard(_bytes(psi, half), 3, cfg), per_gpu(3, f"{DTYPE_BYTES[half]} B × {psi_text} ({half})")),
        "gradients": Component(_shard(_bytes(psi, half), 2, cfg), per_gpu(2, f"{DTYPE_BYTES[half]} B × {psi_text} ({half})")),
    }
    if cfg.precision == "mixed":
        comps["master_weights"] = Component(_shard(4 * psi, 1, cfg), per_gpu(1, f"4 B × {psi_text} (fp32 master copy)"))
    opt, formula = _optimizer_bytes(cfg, [(psi,)])
    comps["optimizer"] = Component(_shard(opt, 1, cfg), per_gpu(1, formula))
    notes = [f"Ψ = {psi:,} parameters (no architecture: no activations)"]
    if cfg.zero:
        notes.append(f"ZeRO stage {cfg.zero} over {cfg.n_gpus} GPUs (per GPU: ÷ {cfg.n_gpus})")
    return MemoryEstimate("Ψ parameters", "full", comps, psi, psi, tuple(notes), cfg.model_dump())


def zero_bytes_per_gpu(psi: int, stage: int, gpus: int) -> Fraction:
    """ZeRO paper §5 closed forms, mixed-precision Adam (K = 12): exact, unpadded.

    Examples:
        >>> [float(zero_bytes_per_gpu(7_500_000_000, s, 64)) / 1e9 for s in range(4)]
        [120.0, 31.40625, 16.640625, 1.875]
    """
    k, n = 12, Fraction(gpus)
    forms: dict[int, Fraction] = {0: Fraction((2 + 2 + k) * psi), 1: 4 * psi + k * psi / n,
                                  2: 2 * psi + (2 + k) * psi / n, 3: (2 + 2 + k) * psi / n}
    return forms[stage]

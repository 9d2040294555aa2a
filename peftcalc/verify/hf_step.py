"""The step peak of real Hugging Face models (transformers + peft, on CPU) vs :func:`peftcalc.training.training_memory`.

A small llama, GPT-2 and Qwen2 (built from their transformers configs, fp32, in train mode — GPT-2's dropout
on) take two AdamW steps (``foreach``: torch's default on CUDA, whose step temporaries the model counts;
``zero_grad(set_to_none=True)``). The second step's peak of live storage, counted by
:class:`~peftcalc.verify.cuda.CpuAllocations` across its three phases, is compared with the model's step
peak (``device="cpu"``: CPU dropout masks are float, CPU SDPA with dropout is the math kernel).
Needs the ``hf`` extra; skips cleanly without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch

from peftcalc.verify.checks import Check

TOLERANCE = 0.05
FAMILIES = ("llama", "gpt2", "qwen2")
LORA_TARGETS = {"llama": ["q_proj", "v_proj"], "qwen2": ["q_proj", "v_proj"], "gpt2": ["c_attn"]}
SHAPE = dict(hidden=128, layers=4, heads=4, kv_heads=2, ffn=344, vocab=512)


def hf_config(family: str, seq: int, shape: dict[str, int] | None = None) -> Any:
    """A transformers config of ``family`` with the given shape (GPT-2: MHA, 4h MLP, its own dropout)."""
    import transformers

    d = {**SHAPE, **(shape or {})}
    if family == "gpt2":
        return transformers.GPT2Config(n_embd=d["hidden"], n_layer=d["layers"], n_head=d["heads"],
                                       vocab_size=d["vocab"], n_positions=seq)
    cls = transformers.LlamaConfig if family == "llama" else transformers.Qwen2Config
    return cls(hidden_size=d["hidden"], intermediate_size=d["ffn"], num_hidden_layers=d["layers"],
               num_attention_heads=d["heads"], num_key_value_heads=d["kv_heads"], vocab_size=d["vocab"],
               max_position_embeddings=seq, tie_word_embeddings=family == "qwen2")


def _model(family: str, method: str, attention: str, checkpointing: bool, seq: int,
           shape: dict[str, int] | None, device: torch.device, dtype: torch.dtype = torch.float32) -> Any:
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    cfg = hf_config(family, seq, shape)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa" if attention == "flash" else "eager")
    model.to(device=device, dtype=dtype).train()
    with warnings.catch_warnings():
        # transformers 5 renames gradient checkpointing (FutureWarning), which peft still asks about
        warnings.simplefilter("ignore", FutureWarning)
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if method == "lora":
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=8, target_modules=LORA_TARGETS[family], lora_dropout=0.0,
                                                     fan_in_fan_out=family == "gpt2"))  # Conv1D stores (in, out)
    return model


def measure_saved(family: str, method: str, attention: str, *, batch: int, seq: int,
                  shape: dict[str, int] | None = None) -> int:
    """Bytes of the distinct storages autograd saves in the forward, parameters excluded."""
    model = _model(family, method, attention, False, seq, shape, torch.device("cpu"))
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids)
    return sum(seen.values())


def measure_step(family: str, method: str, attention: str, checkpointing: bool, *, batch: int, seq: int,
                 shape: dict[str, int] | None = None, probe: Any = None, bf16: bool = False) -> dict[str, int]:
    """Peak live bytes of each phase of a steady-state AdamW step (everything counts, weights included).
    ``probe``: :class:`~peftcalc.verify.cuda.CudaProbe` on a GPU; default: CPU storages."""
    import contextlib

    from peftcalc.verify.cuda import CpuAllocations

    probe = probe or CpuAllocations()
    context = probe if isinstance(probe, CpuAllocations) else contextlib.nullcontext()
    with context:
        probe.release()
        start = probe.allocated()
        model = _model(family, method, attention, checkpointing, seq, shape, probe.device,
                       torch.bfloat16 if bf16 else torch.float32)  # peft keeps its adapters fp32 either way
        ids = torch.randint(0, model.config.vocab_size, (batch, seq), device=probe.device)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, foreach=True)
        out: dict[str, int] = {}
        for _ in range(2):  # the second step is the steady state: states exist, gradients were set to None
            probe.reset()
            loss = model(input_ids=ids, labels=ids).loss  # the output object (and its logits) is not kept
            out["forward"] = probe.peak()
            probe.reset()
            loss.backward()
            del loss
            out["backward"] = probe.peak()
            probe.reset()
            opt.step()
            out["optimizer step"] = probe.peak()
            opt.zero_grad(set_to_none=True)
        out = {k: v - start for k, v in out.items()}
        out["peak"] = max(out.values())
        out["static"] = probe.allocated() - start
        del model, opt, ids
        probe.release()
    return out


def predicted_step(family: str, method: str, attention: str, checkpointing: bool, *, batch: int, seq: int,
                   shape: dict[str, int] | None = None, device: str = "cpu", bf16: bool = False) -> Any:
    from peftcalc.arch.hf_config import arch_from_config
    from peftcalc.training import make_memory_config, training_memory

    arch = arch_from_config(hf_config(family, seq, shape).to_dict(), name=f"tiny-{family}")
    # pure bf16: torch's AdamW keeps its states in the parameters' dtype (bf16 for full fine-tuning)
    precision = {"precision": "bf16", "optimizer_dtype": "bf16" if method == "full" else "fp32"} if bf16 else {
        "precision": "fp32"}
    cfg = make_memory_config(method=method, **precision, batch=batch, seq=seq, attention=attention,
                             checkpointing="full" if checkpointing else "none", device=device,
                             optimizer_impl="foreach")
    opts = {"r": 8, "targets": LORA_TARGETS[family]} if method == "lora" else {}
    return training_memory(arch, cfg, **opts)


def cases() -> Iterator[tuple[str, str, str, bool]]:
    for family in FAMILIES:
        for method in ("full", "lora"):
            for attention in ("eager", "flash"):
                for ckpt in (False, True):
                    yield family, method, attention, ckpt


def bf16_cases() -> Iterator[tuple[str, str, str, bool]]:
    """Pure-bf16 steps (full fine-tuning with bf16 AdamW states; LoRA with peft's fp32 adapters on a bf16 base).
    GPT-2 with SDPA is left out: on CPU its dropout sends SDPA to the math kernel, which computes bf16 in
    fp32 (measured 1.19–1.23 × the model); on CUDA the memory-efficient kernel takes dropout."""
    yield from (("llama", "full", "eager", False), ("llama", "lora", "flash", True), ("qwen2", "full", "flash", True),
                ("qwen2", "lora", "eager", False), ("gpt2", "full", "eager", True), ("gpt2", "lora", "eager", False))


def hf_missing() -> str | None:
    try:
        import peft  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return "needs transformers and peft: pip install 'peftcalc[hf]'"
    return None


def check_saved_tensors(batch: int = 2, seq: int = 64) -> Iterator[Check]:
    """What autograd saves in a real transformers forward vs the activation model's saved part, tensor bytes."""
    missing = hf_missing()
    if missing:
        yield Check("activations", "transformers saved tensors vs model", "skip", missing)
        return
    for family in FAMILIES:
        for method in ("full", "lora"):
            for attention in ("eager", "flash"):
                measured = measure_saved(family, method, attention, batch=batch, seq=seq)
                est = predicted_step(family, method, attention, False, batch=batch, seq=seq)
                model = est.activation.saved_bytes
                ratio = measured / model
                yield Check("activations", f"{family} {method} {_attn(attention)} b={batch} s={seq}: saved tensors vs "
                            "model", "pass" if abs(ratio - 1) <= TOLERANCE else "fail",
                            f"measured {measured:,} B, model {model:,} B, ratio {ratio:.3f} (±{TOLERANCE:.0%})",
                            {"measured": measured, "model": model, "ratio": ratio})


def _attn(attention: str) -> str:
    return "sdpa" if attention == "flash" else "eager"


def check_hf_step_peaks(batch: int = 2, seq: int = 128, *, probe: Any = None, device: str = "cpu",
                        only: list[tuple[str, str, str, bool]] | None = None,
                        shape: dict[str, int] | None = None) -> Iterator[Check]:
    missing = hf_missing()
    if missing:
        yield Check("step", "transformers step peaks vs model", "skip", missing)
        return
    runs = [(c, False) for c in only] if only else [(c, False) for c in cases()] + [(c, True) for c in bf16_cases()]
    for (family, method, attention, ckpt), bf16 in runs:
        measured = measure_step(family, method, attention, ckpt, batch=batch, seq=seq, shape=shape, probe=probe,
                                bf16=bf16)
        est = predicted_step(family, method, attention, ckpt, batch=batch, seq=seq, shape=shape, device=device,
                             bf16=bf16)
        ratio = measured["peak"] / est.total_bytes
        label = (f"{family} {method} {_attn(attention)}{' +checkpointing' if ckpt else ''}{' bf16' if bf16 else ''} "
                 f"b={batch} s={seq}")
        phases = ", ".join(f"{k} {v:,}" for k, v in measured.items() if k not in ("peak", "static"))
        yield Check("step", f"{label}: step peak vs model", "pass" if abs(ratio - 1) <= TOLERANCE else "fail",
                    f"measured/model = {ratio:.3f} (±{TOLERANCE:.0%}); measured peak {measured['peak']:,} B "
                    f"({phases}); model {est.total_bytes:,} B at {est.peak_phase}",
                    {"measured": measured, "model": est.total_bytes, "model_phase": est.peak_phase, "ratio": ratio})

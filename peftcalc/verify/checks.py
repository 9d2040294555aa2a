"""The verifier's checks: peftcalc's symbolic models against real torch tensors.

Each check returns a :class:`Check` — pass, fail or skip, with the numbers that decided it. Nothing
here raises for a failed comparison: a report is data.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from peftcalc.arch.model import Arch
from peftcalc.calc import params
from peftcalc.training import make_memory_config, training_memory
from peftcalc.quant import bits_per_param, model_storage, tensor_storage
from peftcalc.verify.layers import (BottleneckAdapter, DoRALinear, IA3Scale, LoRALinear, PrefixEncoder,
                                    PromptEmbedding, apply_lora, lora_modules, replace_modules, trainable_numel)
from peftcalc.verify.models import Conv1D, TinyDecoder, module_tree, tiny_llama_arch
from peftcalc.verify.nf4 import dequantize_nf4, nf4_code_book, quantize_nf4, round_trip_bound

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    status: Status
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "status": self.status, "detail": self.detail,
                "numbers": self.numbers}


def _verdict(ok: bool) -> Status:
    return "pass" if ok else "fail"


# Tolerance of "merged == unmerged": a few units in the last place of the dtype, at the output's
# magnitude (the merged weight W₀ + ΔW is rounded once more than the two separate products).
EPS = {torch.float32: 2.0**-23, torch.bfloat16: 2.0**-7, torch.float16: 2.0**-10}


def merge_tolerance(dtype: torch.dtype, magnitude: float) -> float:
    return 8 * EPS[dtype] * magnitude


# ---- counts ----------------------------------------------------------------------------------------------------


def _adapted_numel(tree: nn.Module, method: str, names: list[str], options: dict[str, Any]) -> int:
    """Σ numel of the reference layer put on each named module (on the meta device)."""
    total = 0
    with torch.device("meta"):
        for name in names:
            mod = tree.get_submodule(name)
            if isinstance(mod, Conv1D):
                lin = nn.Linear(mod.in_features, mod.out_features)
            elif isinstance(mod, nn.Linear):
                lin = mod
            else:
                raise TypeError(f"{name}: {type(mod).__name__} is not a linear layer")
            if method in ("lora", "dora"):
                cls = DoRALinear if method == "dora" else LoRALinear
                layer: nn.Module = cls(lin, options.get("r", 8))
                total += sum(p.numel() for n, p in layer.named_parameters() if not n.startswith("base."))
            elif method == "ia3":
                ff = any(name.endswith(s) for s in ("down_proj", "mlp.c_proj", "output.dense", "wo", "fc2"))
                total += IA3Scale(lin, feedforward=ff).ia3.numel()
    return total


def _method_numel(arch: Arch, method: str, options: dict[str, Any]) -> tuple[int, int]:
    """(Σ numel of real torch layers, peftcalc's count) for one method on one architecture."""
    res = params(method, arch=arch, **options)
    tree = module_tree(arch, "meta")
    if method in ("lora", "dora", "ia3"):
        names = [n for row in res.rows for n in row.module_names]
        measured = _adapted_numel(tree, method, names, options)
    elif method == "adapter":
        m = options.get("bottleneck", 64)
        per_block = 1 if options.get("variant") == "pfeiffer" else 2
        with torch.device("meta"):
            adapter = BottleneckAdapter(arch.hidden_size, m, bias=options.get("adapter_bias", True))
        measured = per_block * arch.blocks * sum(p.numel() for p in adapter.parameters())
    elif method == "prefix_tuning":
        # peft sizes prefixes by config.num_layers: the encoder's depth for T5, not encoder + decoder
        with torch.device("meta"):
            enc = PrefixEncoder(options.get("tokens", 20), arch.num_layers, arch.kv_dim)
        measured = sum(p.numel() for p in enc.parameters())
    elif method == "prompt_tuning":
        virtual = options.get("tokens", 20) * (2 if arch.is_encoder_decoder else 1)
        with torch.device("meta"):
            measured = PromptEmbedding(virtual, arch.hidden_size).prompt.weight.numel()
    else:
        raise ValueError(method)
    return measured, res.trainable_params


COUNT_CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("lora", {"r": 8}), ("lora", {"r": 16, "targets": ["all-linear"]}), ("dora", {"r": 8}), ("ia3", {}),
    ("adapter", {"bottleneck": 64}), ("prefix_tuning", {"tokens": 20}), ("prompt_tuning", {"tokens": 20}),
)


def check_counts(arch: Arch, cases: tuple[tuple[str, dict[str, Any]], ...] = COUNT_CASES) -> Iterator[Check]:
    for method, options in cases:
        label = f"{method} {options or ''}".strip()
        try:
            measured, symbolic = _method_numel(arch, method, dict(options))
        except Exception as exc:  # a refusal by peftcalc (e.g. IA3 on an unknown type) is reported, not raised
            yield Check("counts", f"{arch.name}: {label}", "skip", f"not applicable: {exc}")
            continue
        yield Check("counts", f"{arch.name}: {label}", _verdict(measured == symbolic),
                    f"Σ numel {measured:,} vs formula {symbolic:,}", {"measured": measured, "symbolic": symbolic})


# ---- LoRA behaviour on a runnable model -------------------------------------------------------------------------


def _tiny(seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[Arch, TinyDecoder, torch.Tensor]:
    torch.manual_seed(seed)
    arch = tiny_llama_arch()
    model = TinyDecoder(arch).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    ids = torch.randint(0, arch.vocab_size, (2, 16))
    return arch, model, ids


ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def check_identity_at_init() -> Iterator[Check]:
    _, model, ids = _tiny()
    with torch.no_grad():
        before = model(ids)
        lora_model = copy.deepcopy(model)
        apply_lora(lora_model, ALL_LINEAR, r=4, alpha=8)
        after = lora_model(ids)
        yield Check("init", "LoRA: B = 0 ⇒ output unchanged", _verdict(torch.equal(before, after)),
                    f"max |Δ| = {float((after - before).abs().max()):.3g} (must be exactly 0)")
        dora_model = copy.deepcopy(model)
        apply_lora(dora_model, ALL_LINEAR, r=4, dora=True)
        d = float((dora_model(ids) - before).abs().max())
        tol = merge_tolerance(torch.float32, float(before.abs().max()))
        yield Check("init", "DoRA: magnitude = ‖W₀‖ ⇒ output unchanged", _verdict(d <= tol),
                    f"max |Δ| = {d:.3g} ≤ {tol:.3g} (the norm is recomputed)", {"max_abs_diff": d, "tolerance": tol})
        x = torch.randn(2, 16, 64)
        adapter = BottleneckAdapter(64, 8)
        yield Check("init", "adapter: W_up = 0 ⇒ identity", _verdict(torch.equal(adapter(x), x)), "x + 0")
        ia3 = IA3Scale(nn.Linear(64, 64))
        yield Check("init", "IA3: vectors = 1 ⇒ output unchanged", _verdict(torch.equal(ia3(x), ia3.base(x))), "×1")
        prompt = PromptEmbedding(5, 64)
        out = prompt(x)
        yield Check("init", "prompt tuning prepends p vectors", _verdict(out.shape == (2, 21, 64)
                                                                       and torch.equal(out[:, 5:], x)),
                    f"{tuple(x.shape)} → {tuple(out.shape)}")


def _randomize_lora(model: nn.Module, scale: float = 0.05) -> None:
    with torch.no_grad():
        for m in lora_modules(model):
            m.lora_B.normal_(0, scale)


def check_merge(dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16)) -> Iterator[Check]:
    for dtype in dtypes:
        for dora in (False, True):
            _, model, ids = _tiny(dtype=dtype)
            apply_lora(model, ALL_LINEAR, r=4, alpha=8, dora=dora)
            _randomize_lora(model)
            name = ("DoRA" if dora else "LoRA") + f" {str(dtype).removeprefix('torch.')}"
            with torch.no_grad():
                w0 = {n: m.base.weight.clone() for n, m in model.named_modules() if isinstance(m, LoRALinear)}
                unmerged = model(ids).float()
                for m in lora_modules(model):
                    m.merge()
                merged = model(ids).float()
                diff = float((merged - unmerged).abs().max())
                tol = merge_tolerance(dtype, float(unmerged.abs().max()))
                yield Check("merge", f"{name}: merged == unmerged", _verdict(diff <= tol),
                            f"max |Δ| = {diff:.3g} ≤ tolerance {tol:.3g}", {"max_abs_diff": diff, "tolerance": tol})
                for m in lora_modules(model):
                    m.unmerge()
                worst = max(float((m.base.weight - w0[n]).abs().max()) for n, m in model.named_modules()
                            if isinstance(m, LoRALinear))
                wtol = 4 * EPS[dtype] * max(float(w.abs().max()) for w in w0.values())
                yield Check("merge", f"{name}: unmerge restores W₀", _verdict(worst <= wtol),
                            f"max |W − W₀| = {worst:.3g} ≤ {wtol:.3g} (rounding of W₀ + ΔW − ΔW)",
                            {"max_abs_diff": worst, "tolerance": wtol})


def check_merged_latency(d: int = 1024, tokens: int = 2048, r: int = 16, repeats: int = 20) -> Iterator[Check]:
    torch.manual_seed(0)
    base = nn.Linear(d, d, bias=False)
    x = torch.randn(tokens, d)
    lora = LoRALinear(copy.deepcopy(base), r)
    _randomize_lora(lora)

    def best(fn: Callable[[], Any]) -> float:
        times = []
        with torch.no_grad():
            fn()
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        return min(times)

    t_base = best(lambda: base(x))
    t_unmerged = best(lambda: lora(x))
    lora.merge()
    t_merged = best(lambda: lora(x))
    ratio_m, ratio_u = t_merged / t_base, t_unmerged / t_base
    # merged LoRA runs exactly the base layer's matmul; the generous bound only absorbs timer noise
    yield Check("merge", f"merged inference latency ({d}×{d}, {tokens} tokens, r={r})", _verdict(ratio_m <= 1.5),
                f"merged/base = {ratio_m:.2f}×, unmerged/base = {ratio_u:.2f}×",
                {"merged_over_base": ratio_m, "unmerged_over_base": ratio_u})


def check_gradients() -> Iterator[Check]:
    _, model, ids = _tiny()
    apply_lora(model, ["q_proj", "v_proj"], r=4)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.loss(ids).backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    expected = {n for n, _ in model.named_parameters() if "lora_" in n}
    yield Check("gradients", "only adapter parameters receive gradients", _verdict(with_grad == expected),
                f"{len(with_grad)} tensors with .grad, {len(expected)} LoRA tensors",
                {"unexpected": sorted(with_grad - expected)[:5], "missing": sorted(expected - with_grad)[:5]})
    opt.step()
    changed = [n for n, p in model.named_parameters() if n in frozen and not torch.equal(p, frozen[n])]
    yield Check("gradients", "the base is bit-identical after an optimizer step", _verdict(not changed),
                f"{len(frozen)} frozen tensors compared with torch.equal", {"changed": changed[:5]})


# ---- quantization -----------------------------------------------------------------------------------------------

# QLoRA's NF4 values as printed in bitsandbytes (functional.py, get_4bit_type "nf4") / QLoRA appendix E.
PUBLISHED_NF4 = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                 -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                 0.7229568362236023, 1.0)


def check_quantization() -> Iterator[Check]:
    codes = nf4_code_book()
    worst = float((codes - torch.tensor(PUBLISHED_NF4)).abs().max())
    yield Check("quantization", "NF4 code book from N(0,1) quantiles == published values", _verdict(worst < 1e-6),
                f"max |Δ| = {worst:.2g}", {"max_abs_diff": worst})
    torch.manual_seed(0)
    for shape in ((1024, 1024), (300, 7), (64 * 256 * 2,)):
        w = torch.randn(*shape) * 0.02
        for dq in (False, True):
            t = quantize_nf4(w, double_quant=dq)
            measured = t.nbytes()
            model = tensor_storage(w.numel(), "nf4", double_quant=dq)
            ok = (measured["data"], measured["constants"]) == (model.data_bytes, model.constant_bytes)
            yield Check("quantization", f"NF4 bytes {shape}{' +DQ' if dq else ''}", _verdict(ok),
                        f"measured {measured['data']:,} + {measured['constants']:,} B, model "
                        f"{model.data_bytes:,} + {model.constant_bytes:,} B",
                        {"measured": measured, "model": [model.data_bytes, model.constant_bytes]})
            err = (w - dequantize_nf4(t)).abs()
            bound = round_trip_bound(w, t)
            yield Check("quantization", f"NF4 round trip {shape}{' +DQ' if dq else ''} within bound",
                        _verdict(bool((err <= bound).all())),
                        f"max error {float(err.max()):.3g}, max bound {float(bound.max()):.3g}",
                        {"max_error": float(err.max())})
    n = 64 * 256 * 64
    for dq, expected in ((False, 4.5), (True, 4.127)):
        t = quantize_nf4(torch.randn(n), double_quant=dq)
        bits = 8 * sum(t.nbytes().values()) / n
        asym = float(bits_per_param("nf4", double_quant=dq))
        yield Check("quantization", f"bits/param {'with' if dq else 'without'} double quantization",
                    _verdict(abs(bits - expected) < 5e-4 and abs(asym - expected) < 5e-4),
                    f"measured {bits:.6f}, model {asym:.6f}, QLoRA paper {expected}",
                    {"measured": bits, "model": asym})
    arch, model, _ = _tiny()
    packed = kept = 0
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and name != "lm_head":
            packed += sum(quantize_nf4(mod.weight, double_quant=True).nbytes().values())
    quantized_ptrs = {mod.weight.data_ptr() for n, mod in model.named_modules()
                      if isinstance(mod, nn.Linear) and n != "lm_head"}
    kept = sum(2 * p.numel() for p in model.parameters() if p.data_ptr() not in quantized_ptrs)
    storage = model_storage(arch, "nf4", double_quant=True)
    yield Check("quantization", f"{arch.name} in NF4+DQ: measured bytes == model", _verdict(
        packed + kept == storage.total_bytes),
        f"measured {packed + kept:,} B vs model {storage.total_bytes:,} B (linears but the head in NF4, the rest bf16)",
        {"measured": packed + kept, "model": storage.total_bytes})


# ---- memory -----------------------------------------------------------------------------------------------------


def _tensor_bytes(tensors: Any) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measured_step_bytes(model: nn.Module, ids: torch.Tensor) -> dict[str, int]:
    """Parameter, gradient and AdamW-state bytes after one real training step."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-3)
    model.loss(ids).backward()  # type: ignore[operator]
    opt.step()
    frozen = [p for p in model.parameters() if not p.requires_grad]
    states = [s for st in opt.state.values() for k, s in st.items() if k in ("exp_avg", "exp_avg_sq")]
    steps = [s for st in opt.state.values() for k, s in st.items() if k == "step" and torch.is_tensor(s)]
    return {"weights": _tensor_bytes(frozen) if frozen and len(frozen) < len(list(model.parameters()))
            else _tensor_bytes(model.parameters()),
            "adapters": _tensor_bytes(trainable) if frozen else 0,
            "gradients": _tensor_bytes(p.grad for p in trainable if p.grad is not None),
            "optimizer": _tensor_bytes(states), "step_counters": _tensor_bytes(steps)}


def check_memory_accounting(arch: Arch | None = None, method: str | None = None,
                            options: dict[str, Any] | None = None) -> Iterator[Check]:
    """Bytes of parameters, gradients and AdamW states after a real step == the memory model, exactly.

    Without ``arch``: a small llama on the CPU (fp32 full, fp32 LoRA, bf16 base + fp32 LoRA). With a
    llama-like ``arch`` (any size): the same step on the meta device — shapes and dtypes, no memory.
    """
    if arch is None:
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("full", "fp32", {}), ("lora", "fp32", {"r": 8, "targets": ["q_proj", "v_proj"]}),
            ("lora", "bf16", {"r": 8, "targets": ALL_LINEAR})]
    elif arch.model_type not in ("llama", "mistral"):
        yield Check("memory", f"{arch.name}: step accounting", "skip",
                    f"the runnable reference model is llama-style; {arch.model_type} is checked by counts only")
        return
    else:
        opts = dict(options or {})
        if method in ("lora", "dora"):
            opts.setdefault("r", 8)
            opts.setdefault("targets", ["q_proj", "v_proj"])
        cases = [("full", "fp32", {})] + ([(method, "fp32", opts)] if method in ("lora", "dora") else [])
    for name, precision, opts in cases:
        if arch is None:
            target_arch, model, ids = _tiny()
            device = "cpu"
        else:
            target_arch, device = arch, "meta"
            with torch.device("meta"):
                model = TinyDecoder(arch)
            ids = torch.zeros(1, 8, dtype=torch.long, device="meta")
        with torch.device(device):
            if name in ("lora", "dora"):
                if precision == "bf16":
                    model = model.to(torch.bfloat16)
                targets = ALL_LINEAR if opts["targets"] == ["all-linear"] else opts["targets"]
                apply_lora(model, targets, r=opts["r"], dora=name == "dora")
                for m in lora_modules(model):  # peft keeps adapters in fp32 over a 16-bit base
                    for p in m.parameters(recurse=False):
                        p.data = p.data.float()
        # outside the device context: AdamW's step counters stay on the CPU, where torch 2.11 reads them
        measured = measured_step_bytes(model, ids)
        est = training_memory(target_arch, make_memory_config(method=name, precision=precision, batch=0),
                              **{k: v for k, v in opts.items() if k in ("r", "targets")})
        predicted = {k: v for k, v in est.breakdown.items() if k != "activations"}
        got = {k: measured[k] for k in predicted}
        where = "" if device == "cpu" else " (meta device)"
        label = f"{target_arch.name} {name} ({precision}{', ' + ','.join(opts['targets'][:2]) if opts else ''}){where}"
        yield Check("memory", f"{label}: parameter/gradient/AdamW bytes after a step", _verdict(got == predicted),
                    ", ".join(f"{k} {got[k]:,} vs {predicted[k]:,}" for k in predicted)
                    + f"; + torch's per-tensor step counters {measured['step_counters']:,} B (not modelled)",
                    {"measured": got, "model": predicted, "step_counters": measured["step_counters"]})


def check_activations(batch: int = 2, seq: int = 64) -> Iterator[Check]:
    """Saved tensors of real transformers models (llama, GPT-2, Qwen2; full and LoRA; eager and SDPA) vs the model."""
    from peftcalc.verify.hf_step import check_saved_tensors

    yield from check_saved_tensors(batch=batch, seq=seq)


def check_step(batch: int = 2, seq: int = 128) -> Iterator[Check]:
    """The step peak of real transformers models (24 cases) vs :mod:`peftcalc.step`, CPU storages, ±5 %."""
    from peftcalc.verify.hf_step import check_hf_step_peaks

    yield from check_hf_step_peaks(batch=batch, seq=seq)


# ---- CUDA -------------------------------------------------------------------------------------------------------


def check_cuda_memory(batch: int = 4, seq: int = 512) -> Iterator[Check]:
    """Peak ``max_memory_allocated`` of one real training step vs the memory model (CUDA only)."""
    if not torch.cuda.is_available():
        yield Check("cuda", "peak memory of a training step vs model", "skip", "no CUDA device: CPU-only run")
        return
    from peftcalc.verify.cuda import cuda_memory_checks

    yield from cuda_memory_checks(batch=batch, seq=seq)


GROUPS: dict[str, Callable[[], Iterator[Check]]] = {
    "counts": lambda: check_counts(tiny_llama_arch()),
    "init": check_identity_at_init,
    "merge": check_merge,
    "latency": check_merged_latency,
    "gradients": check_gradients,
    "quantization": check_quantization,
    "memory": check_memory_accounting,
    "activations": check_activations,
    "step": check_step,
    "cuda": check_cuda_memory,
}

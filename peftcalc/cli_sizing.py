"""``peftcalc memory | quant | cost | inference | known``: the sizing commands (parsing + rendering only)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from peftcalc.errors import InputError

# PEFT options the memory/inference commands pass through to the chosen method (only those given).
PEFT_FLAGS: dict[str, Any] = {"r": "N", "alpha": "X", "targets": "A,B", "init_r": "N", "tokens": "N",
                              "bottleneck": "N"}


def add_commands(sub: Any, *, strict_int: Any, finite_float: Any, name_list: Any, add_arch: Any) -> None:
    p = sub.add_parser("memory", help="training memory: weights, gradients, optimizer, activations; fits a GPU?")
    g = p.add_argument_group("model (one of)")
    g.add_argument("--model", metavar="NAME", help="a preset (peftcalc model --list), a Hugging Face id or alias, or "
                   "a model in the local Hugging Face cache")
    g.add_argument("--config", metavar="PATH", help="a Hugging Face config.json")
    g.add_argument("--params", metavar="COUNT", help="only a parameter count (7.5e9, 7B): full fine-tuning, no activations")
    p.add_argument("--method", default="full", help="full, lora, qlora, dora, ia3, … (default: full)")
    p.add_argument("--precision", choices=["mixed", "amp", "bf16", "fp16", "fp32"], default="mixed",
                   help="mixed: 16-bit + fp32 master (default); amp: torch autocast (fp32 weights, 16-bit copies); "
                        "bf16/fp16: pure 16-bit, fp32 optimizer states unless --optimizer-dtype bf16")
    p.add_argument("--optimizer", default="adamw", help="adamw (default), adamw8bit, sgd, sgd_momentum, adafactor")
    p.add_argument("--batch", type=strict_int, default=1, help="sequences per step; 0: no activations (default 1)")
    p.add_argument("--seq", type=strict_int, default=2048, help="tokens per sequence (default 2048)")
    p.add_argument("--gradient-accumulation", type=strict_int, default=1,
                   help="micro-batches per optimizer step (gradients then stay alive)")
    p.add_argument("--checkpointing", nargs="?", const="full", default="none", choices=["none", "full", "selective"],
                   help="gradient checkpointing (alone: full)")
    p.add_argument("--attention", choices=["flash", "eager"], default="flash", help="flash/SDPA (default) or eager")
    p.add_argument("--zero", type=strict_int, default=0, help="DeepSpeed ZeRO stage 0-3")
    p.add_argument("--gpus", type=strict_int, default=None, help="data-parallel GPUs (ZeRO shards over them)")
    p.add_argument("--quant-dtype", choices=["nf4", "fp4", "int8", "fp8"], default=None,
                   help="QLoRA base dtype (default nf4; only with --method qlora)")
    p.add_argument("--double-quant", action=argparse.BooleanOptionalAction, default=True, help="QLoRA double quantization")
    p.add_argument("--adapter-dtype", choices=["fp32", "bf16", "fp16"], default="fp32",
                   help="dtype of PEFT parameters (peft up-casts to fp32 by default)")
    p.add_argument("--paged", action="store_true", help="paged optimizer (bitsandbytes): its effect is stated")
    p.add_argument("--optimizer-dtype", choices=["fp32", "bf16"], default="fp32",
                   help="optimizer state dtype (bf16: torch's AdamW on pure-bf16 parameters)")
    p.add_argument("--optimizer-impl", choices=["fused", "foreach"], default="fused",
                   help="fused (Trainer default, no temporaries) or foreach (torch.optim default on CUDA)")
    p.add_argument("--optimizer-in-backward", action="store_true", help="step and free each gradient in the backward")
    p.add_argument("--offload", choices=["none", "cpu"], default="none",
                   help="cpu: optimizer states (+ gradients with ZeRO, + parameters with ZeRO-3) in host RAM")
    p.add_argument("--loss", choices=["standard", "chunked"], default="standard",
                   help="chunked: fused linear + cross-entropy (Liger, Unsloth), no b·s·V logits")
    p.add_argument("--gpu", metavar="SIZE", help="GPU memory to check against: 24GB, 80GiB")
    p.add_argument("--solve", choices=["batch", "seq", "r"],
                   help="with --gpu: the largest batch, sequence length or LoRA rank that fits")
    _add_peft_flags(p, strict_int, finite_float, name_list)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_memory)

    p = sub.add_parser("quant", help="storage of quantized weights with their block constants")
    add_arch(p, matrix=False)
    p.add_argument("--params", metavar="COUNT", help="only a parameter count (7B, 6.7e9): every value quantized")
    p.add_argument("--dtype", default="nf4", help="fp32, fp16, bf16, int8, fp8, nf4 (default), fp4")
    p.add_argument("--double-quant", action="store_true", help="quantize the absmax constants too (QLoRA)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_quant)

    p = sub.add_parser("cost", help="prompting vs fine-tuning cost and break-even; training compute")
    for flag, help_text in (("--system-tokens", "system-prompt tokens per query"), ("--query-tokens", "user-query tokens"),
                            ("--response-tokens", "response tokens"), ("--queries-per-day", "queries per day"),
                            ("--overhead-words", "prompt overhead in words per query (Exercise 24.1e)")):
        p.add_argument(flag, type=strict_int, default=None, help=help_text)
    p.add_argument("--few-shot", metavar="NxT", help="few-shot examples as count x tokens, e.g. 5x200")
    p.add_argument("--input-price", type=finite_float, help="$ per 1K input tokens")
    p.add_argument("--output-price", type=finite_float, help="$ per 1K output tokens")
    p.add_argument("--finetune-cost", type=finite_float, help="one-off fine-tuning cost in $")
    p.add_argument("--train-params", metavar="COUNT", help="training compute: parameters N (7B, 7e9)")
    p.add_argument("--train-tokens", metavar="COUNT", help="training compute: tokens D")
    p.add_argument("--peak-tflops", type=finite_float, default=989.0, help="GPU peak TFLOP/s (default 989, H100 bf16)")
    p.add_argument("--mfu", type=finite_float, default=0.4, help="model FLOPs utilization (default 0.4)")
    p.add_argument("--gpu-hour-price", type=finite_float, help="$ per GPU-hour")
    p.add_argument("--checkpointing", action="store_true", help="training compute: full recomputation (8·N·D)")
    p.add_argument("--tasks", type=strict_int, help="storage: N task adapters vs N full checkpoints (with --model)")
    p.add_argument("--model", metavar="NAME", help="storage: the base model (preset)")
    p.add_argument("--config", metavar="PATH", help="storage: the base model (config.json)")
    p.add_argument("--method", default="lora", help="storage: the PEFT method (default lora)")
    _add_peft_flags(p, strict_int, finite_float, name_list)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_cost)

    p = sub.add_parser("inference", help="serving memory: weights + KV cache + resident adapters; LoRA overhead")
    add_arch(p, matrix=False)
    p.add_argument("--batch", type=strict_int, default=1, help="concurrent sequences (default 1)")
    p.add_argument("--seq", type=strict_int, default=4096, help="tokens per sequence (default 4096)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="bf16", help="weights and cache dtype")
    p.add_argument("--weights-dtype", choices=["fp32", "fp16", "bf16", "nf4", "fp4", "int8", "fp8"],
                   help="quantized serving: the weights' dtype (default: --dtype); linears but the head quantized")
    p.add_argument("--adapters", type=strict_int, default=0, help="unmerged LoRA adapters resident at once")
    _add_peft_flags(p, strict_int, finite_float, name_list)
    p.add_argument("--gpu", metavar="SIZE", help="GPU memory to check against")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_inference)

    p = sub.add_parser("known", help="every published figure the models reproduce, with source and verdict")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_known)


def _add_peft_flags(p: argparse.ArgumentParser, strict_int: Any, finite_float: Any, name_list: Any) -> None:
    g = p.add_argument_group("PEFT method options (passed to --method)")
    g.add_argument("--r", type=strict_int, help="rank")
    g.add_argument("--alpha", type=finite_float, help="alpha")
    g.add_argument("--targets", type=name_list, help="target modules or all-linear")
    g.add_argument("--init-r", type=strict_int, help="AdaLoRA initial rank")
    g.add_argument("--tokens", type=strict_int, help="virtual tokens")
    g.add_argument("--bottleneck", type=strict_int, help="adapter bottleneck")


def _peft_options(ns: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(ns, k) for k in PEFT_FLAGS if getattr(ns, k, None) is not None}


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def run_memory(ns: argparse.Namespace) -> int:
    from peftcalc.calc import resolve_arch
    from peftcalc.training import make_memory_config, params_only_memory, training_memory
    from peftcalc.units import parse_capacity, parse_count

    given = [f for f in ("model", "config", "params") if getattr(ns, f)]
    if len(given) != 1:
        raise InputError("model", " and ".join(f"--{g}" for g in given) or "<none>",
                         "exactly one of --model NAME, --config PATH or --params COUNT")
    if ns.optimizer not in ("adamw", "adamw8bit", "sgd", "sgd_momentum", "adafactor"):
        raise InputError("--optimizer", ns.optimizer, "one of adamw, adamw8bit, sgd, sgd_momentum, adafactor")
    cfg = make_memory_config(
        method=ns.method, precision=ns.precision, optimizer=ns.optimizer, batch=ns.batch, seq=ns.seq,
        checkpointing=ns.checkpointing, attention=ns.attention, zero=ns.zero, gpus=ns.gpus,
        quant_dtype=ns.quant_dtype, double_quant=ns.double_quant, adapter_dtype=ns.adapter_dtype, paged=ns.paged,
        optimizer_dtype=ns.optimizer_dtype, optimizer_impl=ns.optimizer_impl,
        optimizer_in_backward=ns.optimizer_in_backward, offload=ns.offload, loss=ns.loss,
        gradient_accumulation=ns.gradient_accumulation)
    gpu = parse_capacity(ns.gpu) if ns.gpu else None
    if ns.solve:
        return _solve(ns, cfg, gpu)
    if ns.params:
        if _peft_options(ns):
            raise InputError("--params", ns.params, "used without PEFT options (a count has no module shapes)")
        est = params_only_memory(parse_count(ns.params, field="--params"), cfg)
    else:
        est = training_memory(resolve_arch(model=ns.model, config=ns.config), cfg, **_peft_options(ns))
    if ns.json:
        _json(est.to_json(gpu))
    else:
        from peftcalc.render_sizing import render_memory

        render_memory(est, gpu, _console())
    return 0


def _solve(ns: argparse.Namespace, cfg: Any, gpu: int | None) -> int:
    from peftcalc.calc import resolve_arch
    from peftcalc.solve import largest_fitting

    if gpu is None:
        raise InputError("--solve", ns.solve, "used with --gpu SIZE (the memory to fit)")
    if ns.params:
        raise InputError("--solve", ns.solve, "used with --model or --config (activations need a model's shapes)")
    if ns.solve == "r" and ns.r is not None:
        raise InputError("--r", ns.r, "left out with --solve r (it is what is solved for)")
    sol = largest_fitting(resolve_arch(model=ns.model, config=ns.config), cfg, ns.solve, gpu, **_peft_options(ns))
    if ns.json:
        _json(sol.to_json())
    else:
        from peftcalc.render_sizing import render_solution

        render_solution(sol, _console())
    return 0


def run_quant(ns: argparse.Namespace) -> int:
    from peftcalc.calc import resolve_arch
    from peftcalc.quant import model_storage

    if ns.params:
        return _quant_params(ns)
    arch = resolve_arch(model=ns.model, config=ns.config)
    storage = model_storage(arch, ns.dtype, double_quant=ns.double_quant)
    if ns.json:
        _json({"model": arch.name, "dtype": storage.dtype, "double_quant": storage.double_quant,
               "total_bytes": storage.total_bytes,
               "breakdown": {"weights": storage.data_bytes + storage.kept_bytes, "quant_constants": storage.constant_bytes},
               "quantized_params": storage.quantized_params, "kept_params": storage.kept_params,
               "data_bytes": storage.data_bytes, "kept_bytes": storage.kept_bytes,
               "bits_per_param": float(storage.bits_per_param)})
    else:
        from peftcalc.render_sizing import render_quant

        render_quant(arch, storage, _console())
    return 0


def _quant_params(ns: argparse.Namespace) -> int:
    from peftcalc.quant import tensor_storage
    from peftcalc.units import format_bytes, parse_count

    if ns.model or ns.config:
        raise InputError("--params", ns.params, "given without --model/--config (one of the three)")
    count = parse_count(ns.params, field="--params")
    st = tensor_storage(count, ns.dtype, double_quant=ns.double_quant)
    data = {"params": count, "dtype": ns.dtype, "double_quant": ns.double_quant, "total_bytes": st.total_bytes,
            "breakdown": {"weights": st.data_bytes, "quant_constants": st.constant_bytes},
            "bits_per_param": float(st.bits_per_param),
            "assumption": "every parameter quantized as one tensor (a model keeps embeddings, head and norms "
                          "16-bit: use --model for that)"}
    if ns.json:
        _json(data)
    else:
        _console().print(f"{count:,} parameters in {ns.dtype}{' + double quantization' if ns.double_quant else ''}: "
                         f"{format_bytes(st.data_bytes)} values + {format_bytes(st.constant_bytes)} constants = "
                         f"{format_bytes(st.total_bytes)} ({float(st.bits_per_param):.4f} bits/param); "
                         f"{data['assumption']}")
    return 0


def run_cost(ns: argparse.Namespace) -> int:
    from peftcalc.cost import break_even, make_cost_config, prompt_overhead_per_day

    out: dict[str, Any] = {}
    if ns.input_price is not None and ns.output_price is not None:
        shots, shot_tokens = _parse_few_shot(ns.few_shot)
        cfg = make_cost_config(system_tokens=ns.system_tokens or 0, few_shot=shots, few_shot_tokens=shot_tokens,
                               query_tokens=ns.query_tokens or 0, response_tokens=ns.response_tokens or 0,
                               input_price=ns.input_price, output_price=ns.output_price,
                               finetune_cost=ns.finetune_cost or 0, queries_per_day=ns.queries_per_day or 0)
        out["break_even"] = break_even(cfg).to_json()
    if ns.overhead_words is not None:
        if ns.input_price is None or not ns.queries_per_day:
            raise InputError("--overhead-words", ns.overhead_words, "used with --input-price and --queries-per-day")
        tokens, dollars = prompt_overhead_per_day(queries_per_day=ns.queries_per_day, overhead_words=ns.overhead_words,
                                                  input_price_per_1k=ns.input_price)
        out["prompt_overhead"] = {"tokens_per_day": float(tokens), "usd_per_day": float(dollars),
                                  "usd_per_year": float(dollars * 365), "tokens_per_word": "4/3"}
    if ns.train_params or ns.train_tokens:
        out["training"] = _training(ns)
    if ns.tasks is not None:
        out["storage"] = _storage(ns)
    if not out:
        raise InputError("cost", "<nothing>", "given --input-price and --output-price (break-even), "
                         "--overhead-words, --train-params and --train-tokens, or --tasks with --model")
    if ns.json:
        _json(out)
    else:
        from peftcalc.render_sizing import render_cost

        render_cost(out, _console())
    return 0


def _training(ns: argparse.Namespace) -> dict[str, Any]:
    """Training compute: N from --train-params, or from --model/--config with --method (PEFT: no gradients of
    frozen weights); 6·N·D, 8·N·D with --checkpointing; GPU-hours and tokens/s at --peak-tflops × --mfu."""
    from peftcalc.cost import gpu_hours, training_compute
    from peftcalc.units import parse_count

    if not ns.train_tokens:
        raise InputError("--train-tokens", "<missing>", "given with --train-params or --model (C = 6·N·D)")
    tokens = parse_count(ns.train_tokens, field="--train-tokens")
    method = "full"
    if ns.train_params:
        if ns.model or ns.config:
            raise InputError("--train-params", ns.train_params, "left out with --model/--config (N comes from it)")
        comp = training_compute(parse_count(ns.train_params, field="--train-params"), tokens,
                                recompute=ns.checkpointing)
    else:
        from peftcalc.calc import params, resolve_arch

        if not (ns.model or ns.config):
            raise InputError("--train-tokens", ns.train_tokens, "given with --train-params or --model/--config")
        arch = resolve_arch(model=ns.model, config=ns.config)
        n = sum(m.numel for m in arch.linear_modules() if m.tied_to is None) + (
            arch.module(arch.output_head).numel if arch.output_head and arch.module(arch.output_head).tied_to else 0)
        method = ns.method
        if method == "full":
            comp = training_compute(n, tokens, recompute=ns.checkpointing)
        else:
            res = params("lora" if method == "qlora" else method, arch=arch, **_peft_options(ns))
            comp = training_compute(n, tokens, trainable=res.trainable_params, adapter_params=res.trainable_params,
                                    recompute=ns.checkpointing)
    hours = gpu_hours(comp.flops, peak_flops=ns.peak_tflops * 1e12, utilization=ns.mfu)
    return {"method": method, "params": comp.params, "trainable_params": comp.trainable, "tokens": tokens,
            "flops": comp.flops, "flops_per_token": float(comp.flops_per_token),
            "flops_per_param_token": float(comp.flops_per_token / comp.params),
            "split": {"forward": comp.forward, "input_gradients": comp.input_gradients,
                      "weight_gradients": comp.weight_gradients, "recompute": comp.recompute},
            "gpu_hours": float(hours), "tokens_per_second": float(tokens / (hours * 3600)),
            "peak_tflops": ns.peak_tflops, "mfu": ns.mfu,
            "usd": float(hours) * ns.gpu_hour_price if ns.gpu_hour_price else None}


def _storage(ns: argparse.Namespace) -> dict[str, Any]:
    from peftcalc.calc import params, resolve_arch
    from peftcalc.cost import adapter_storage

    if not 1 <= ns.tasks <= 10**6:
        raise InputError("--tasks", ns.tasks, "an integer in [1, 1,000,000]")
    if not (ns.model or ns.config):
        raise InputError("--tasks", ns.tasks, "used with --model or --config (the base model)")
    arch = resolve_arch(model=ns.model, config=ns.config)
    res = params(ns.method, arch=arch, **_peft_options(ns))
    adapter, full = res.checkpoint_bytes()["bf16"], 2 * arch.total_params
    with_adapters, with_full = adapter_storage(tasks=ns.tasks, adapter_bytes=adapter, full_bytes=full)
    return {"tasks": ns.tasks, "dtype": "bf16", "adapter_bytes": adapter, "full_checkpoint_bytes": full,
            "base_plus_adapters_bytes": with_adapters, "full_checkpoints_bytes": with_full,
            "ratio": with_full / with_adapters}


def _parse_few_shot(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 0
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise InputError("--few-shot", text, "COUNTxTOKENS, e.g. 5x200")
    return int(parts[0]), int(parts[1])


def run_inference(ns: argparse.Namespace) -> int:
    from peftcalc.calc import params, resolve_arch
    from peftcalc.serving import inference_memory, lora_flop_overhead
    from peftcalc.units import parse_capacity

    arch = resolve_arch(model=ns.model, config=ns.config)
    for flag, value, low in (("--batch", ns.batch, 1), ("--seq", ns.seq, 1), ("--adapters", ns.adapters, 0)):
        if not low <= value <= 10**7:
            raise InputError(flag, value, f"an integer in [{low}, 10,000,000]")
    opts = _peft_options(ns)
    lora = params("lora", arch=arch, **opts) if (ns.adapters or opts) else None
    gpu = parse_capacity(ns.gpu) if ns.gpu else None
    est = inference_memory(arch, batch=ns.batch, seq=ns.seq, dtype=ns.dtype, adapters=ns.adapters,
                           adapter_params=lora.trainable_params if lora else 0, adapter_dtype=ns.dtype,
                           weights_dtype=ns.weights_dtype, capacity_bytes=gpu)
    overhead = None
    if lora is not None:
        adapted = [(row.fan_in, row.fan_out) for row in lora.rows for _ in row.module_names]
        overhead = lora_flop_overhead(arch, adapted, int(lora.symbols["r"]))
    data = est.to_json() | {"unmerged_lora_flop_overhead": float(overhead) if overhead is not None else None,
                            "merged_lora_flop_overhead": 0.0 if overhead is not None else None}
    if ns.json:
        _json(data)
    else:
        from peftcalc.render_sizing import render_inference

        render_inference(data, _console())
    return 0


def run_known(ns: argparse.Namespace) -> int:
    from peftcalc.known import check_all

    verdicts = check_all()
    if ns.json:
        _json({"all_reproduced": all(v.ok for v in verdicts), "results": [
            {"id": v.entry.id, "claim": v.entry.claim, "source": v.entry.source, "published": v.entry.published,
             "model_value": str(v.value), "verdict": v.verdict, "ok": v.ok, "explanation": v.entry.explanation}
            for v in verdicts]})
    else:
        from peftcalc.render_sizing import render_known

        render_known(verdicts, _console())
    return 0 if all(v.ok for v in verdicts) else 1

"""The data of :mod:`peftcalc.known`: each published figure, its source, and the model call that
reproduces it. Values are computed by peftcalc's models, never typed in."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from peftcalc.known import Known

GB = 10**9
GIB = 2**30
MB = 10**6
MIB = 2**20


def entries(params: Callable[..., Any]) -> list[Known]:  # noqa: PLR0915 - a flat list of data
    from peftcalc.activations import estimate, korthikanti_bytes
    from peftcalc.arch import load_preset
    from peftcalc.cost import training_flops
    from peftcalc.matrix import seed_compare
    from peftcalc.training import make_memory_config, params_only_memory, training_memory
    from peftcalc.quant import bits_per_param, model_storage, seed_nf4_bytes
    from peftcalc.units import DTYPE_BYTES

    def mem(psi: int, **kw: Any) -> int:
        return params_only_memory(psi, make_memory_config(batch=0, **kw)).total_bytes

    def comp(psi: int, name: str, **kw: Any) -> int:
        return params_only_memory(psi, make_memory_config(batch=0, **kw)).breakdown[name]

    def trainable(method: str, **kw: Any) -> int:
        return int(params(method, **kw).trainable_params)

    zero = "Rajbhandari et al. 2020, ZeRO (arXiv 1910.02054)"
    qlora = "Dettmers et al. 2023, QLoRA (arXiv 2305.14314)"
    lora = "Hu et al. 2021, LoRA (arXiv 2106.09685)"
    s003 = "seed 003 (Section 9.6), demo output"
    s004 = "seed 004 (Lesson 19)"
    gpt3 = {"d": 12288, "layers": 96, "matrices": 2}  # GPT-3 175B: d_model 12288, 96 layers, W_q and W_v
    out: list[Known] = [
        # ---- ZeRO ---------------------------------------------------------------------------------
        Known("zero.bytes_per_param", "mixed-precision Adam needs 2Ψ + 2Ψ + 12Ψ = 16Ψ bytes", f"{zero} §3.1",
              "16 B/param", lambda: Fraction(mem(10**9), 10**9), target=16),
        *[Known(f"zero.7.5b_64gpu.stage{s}", f"7.5B parameters on 64 GPUs, per GPU, {label}", f"{zero} Figure 1",
                text, lambda s=s: mem(7_500_000_000, zero=s, gpus=64 if s else 1), target=int(val * GB),
                rel_tol=tol, unit="bytes")
          for s, label, text, val, tol in ((0, "baseline", "120 GB", 120, 0), (1, "P_os", "31.4 GB", 31.4, 0.0016),
                                           (2, "P_os+g", "16.6 GB", 16.6, 0.0025), (3, "P_os+g+p", "1.9 GB", 1.9, 0.014))],
        # ---- QLoRA --------------------------------------------------------------------------------
        Known("qlora.absmax_bits", "block-64 fp32 absmax costs 32/64 = 0.5 bit per parameter", f"{qlora} §3",
              "0.5 bit/param", lambda: bits_per_param("nf4") - 4, target=Fraction(1, 2)),
        Known("qlora.double_quant_bits", "double quantization: 8/64 + 32/(64·256) = 0.127 bit per parameter",
              f"{qlora} §3", "0.127 bit/param", lambda: bits_per_param("nf4", double_quant=True) - 4,
              target=Fraction(127, 1000), rel_tol=0.0005),
        Known("qlora.65b_full_16bit", "fine-tuning LLaMA-65B in 16-bit needs more than 780 GB", f"{qlora} §1",
              "> 780 GB", lambda: training_memory(load_preset("llama-65b"),
                                                  make_memory_config(precision="bf16", batch=0)).total_bytes,
              kind="bound", bound=">", target=780 * GB, unit="bytes",
              explanation="16-bit weights + 16-bit gradients + fp32 Adam m, v = 12 B × 65.3B params"),
        Known("qlora.65b_qlora", "QLoRA fine-tunes LLaMA-65B in under 48 GB", f"{qlora} §1",
              "< 48 GB", lambda: training_memory(
                  load_preset("llama-65b"),
                  make_memory_config(method="qlora", precision="bf16", adapter_dtype="bf16", batch=1, seq=512,
                                     checkpointing="full", paged=True), r=64, targets=["all-linear"]).total_bytes,
              kind="bound", bound="<", target=48 * GB, unit="bytes",
              explanation="NF4 + double quantization, LoRA r=64 on every linear layer (bf16), 32-bit paged AdamW, "
                          "gradient checkpointing, batch 1 × 512 tokens"),
        Known("qlora.7b_lora_26mb", "LoRA with 0.2% of a 7B model's parameters takes 26 MB", f"{qlora} §2",
              "26 MB", lambda: Fraction(load_preset("llama-2-7b").total_params, 500) * DTYPE_BYTES["bf16"] / MIB,
              target=26, rel_tol=0.02,
              explanation="0.2% × 6.74B × 2 bytes (bf16) = 25.7 MiB; the paper's MB are MiB"),
        # ---- LoRA ---------------------------------------------------------------------------------
        Known("lora.gpt3_r1", "GPT-3 175B, LoRA r_q = r_v = 1: 4.7M trainable", f"{lora} Table 4", "4.7M",
              lambda: trainable("lora", r=1, **gpt3), target=4_700_000, rel_tol=0.011),
        Known("lora.gpt3_r8", "GPT-3 175B, LoRA r_q = r_v = 8: 37.7M trainable", f"{lora} Table 4", "37.7M",
              lambda: trainable("lora", r=8, **gpt3), target=37_700_000, rel_tol=0.0014),
        Known("lora.roberta_base", "RoBERTa-base LoRA (r=8 on W_q, W_v): 0.3M", f"{lora} Table 2", "0.3M",
              lambda: trainable("lora", model="roberta-base", r=8), target=300_000, rel_tol=0.17),
        Known("lora.roberta_large", "RoBERTa-large LoRA (r=8 on W_q, W_v): 0.8M", f"{lora} Table 2", "0.8M",
              lambda: trainable("lora", model="roberta-large", r=8), target=800_000, rel_tol=0.07),
        Known("lora.deberta_xxl", "DeBERTa-XXL LoRA (r=16 on W_q, W_v; d=1536, 48 layers): 4.7M",
              f"{lora} Table 2", "4.7M", lambda: trainable("lora", d=1536, layers=48, matrices=2, r=16),
              target=4_700_000, rel_tol=0.011),
        Known("lora.gpt2_medium", "GPT-2 M LoRA (r_q = r_v = 4): 0.35M", f"{lora} Table 3", "0.35M",
              lambda: trainable("lora", d=1024, layers=24, matrices=2, r=4), kind="discrepancy",
              target=350_000, rel_tol=0.015, correct=393_216,
              explanation="24 layers × 2 matrices × 4·(1024 + 1024) = 393,216 ≈ 0.39M, not 0.35M"),
        Known("lora.gpt2_large", "GPT-2 L LoRA (r_q = r_v = 4): 0.77M", f"{lora} Table 3", "0.77M",
              lambda: trainable("lora", d=1280, layers=36, matrices=2, r=4), kind="discrepancy",
              target=770_000, rel_tol=0.0065, correct=737_280,
              explanation="36 layers × 2 matrices × 4·(1280 + 1280) = 737,280 ≈ 0.74M, not 0.77M"),
        Known("lora.gpt3_checkpoint_350gb", "GPT-3 175B checkpoint in fp16: 350 GB", f"{lora} §4.2", "350 GB",
              lambda: comp(175 * 10**9, "weights", precision="fp16"), target=350 * GB, unit="bytes"),
        Known("lora.gpt3_checkpoint_35mb", "LoRA r=4 on W_q, W_v of GPT-3: checkpoint of roughly 35 MB",
              f"{lora} §4.2", "35 MB", lambda: Fraction(2 * trainable("lora", r=4, **gpt3), MB),
              target=35, rel_tol=0.08,
              explanation="18,874,368 params × 2 B = 37.7 MB (36.0 MiB): the paper rounds down"),
        # ---- adapters, prompt tuning --------------------------------------------------------------
        Known("houlsby.adapter_params", "an adapter d→m→d with biases has 2md + d + m parameters",
              "Houlsby et al. 2019 (arXiv 1902.00751) §3.6", "2md + d + m (d=1024, m=64: 132,160)",
              lambda: trainable("adapter", d=1024, bottleneck=64) // 2, target=2 * 64 * 1024 + 1024 + 64),
        Known("lester.prompt_below_0.01pct", "prompt tuning trains < 0.01% of a model above 1B parameters",
              "Lester et al. 2021 (arXiv 2104.08691) §1", "< 0.01 %",
              lambda: params("prompt_tuning", model="llama-2-7b", tokens=100).trainable_fraction * 100,
              kind="bound", bound="<", target=Fraction(1, 100),
              explanation="100 soft tokens on Llama-2-7B: 409,600 / 6.74B = 0.0061 %"),
        # ---- activations (Korthikanti et al. 2022) ------------------------------------------------
        Known("korthikanti.per_layer", "activations per GPT layer: sbh(34 + 5as/h) bytes (16-bit, no recompute)",
              "Korthikanti et al. 2022 (arXiv 2205.05198) §4.1, eq. 1", "sbh(34 + 5as/h)",
              lambda: _gpt_block(estimate, load_preset, "none"),
              target=korthikanti_bytes(seq=1024, batch=4, hidden=768, heads=12), unit="bytes",
              explanation="GPT-2 small block, s=1024, b=4, eager attention, every weight trained"),
        Known("korthikanti.selective", "selective recomputation keeps 34sbh per layer",
              "Korthikanti et al. 2022 §5", "34sbh", lambda: _gpt_block(estimate, load_preset, "selective"),
              target=34 * 1024 * 4 * 768, unit="bytes"),
        # ---- Transformer Math 101, accelerate -------------------------------------------------------
        Known("tm101.training_flops", "training compute C ≈ 6PD", "EleutherAI, Transformer Math 101 (2023)",
              "6PD", lambda: Fraction(training_flops(7 * 10**9, 10**12), 7 * 10**9 * 10**12), target=6),
        Known("tm101.adamw_12", "AdamW: 12 bytes/param (fp32 copy + m + v)", "EleutherAI, Transformer Math 101",
              "12 B/param", lambda: Fraction(comp(10**9, "optimizer") + comp(10**9, "master_weights"), 10**9),
              target=12),
        Known("tm101.adam8bit_6", "8-bit Adam: 6 bytes/param (fp32 copy + two 8-bit states)",
              "EleutherAI, Transformer Math 101", "6 B/param",
              lambda: Fraction(comp(10**9, "optimizer", optimizer="adamw8bit")
                               + comp(10**9, "master_weights", optimizer="adamw8bit"), 10**9),
              target=6, rel_tol=0.006, explanation="bitsandbytes adds one fp32 absmax per 256 values per state"),
        Known("tm101.sgd_momentum_8", "SGD with momentum: 8 bytes/param", "EleutherAI, Transformer Math 101",
              "8 B/param", lambda: Fraction(comp(10**9, "optimizer", optimizer="sgd_momentum")
                                          + comp(10**9, "master_weights", optimizer="sgd_momentum"), 10**9),
              target=8),
        Known("accelerate.llama2_7b_fp32", "accelerate estimate-memory: Llama-2-7B training, fp32: 100.41 \"GB\"",
              "accelerate 1.15.0, `accelerate estimate-memory` (its GB are GiB)", "100.41 GB",
              lambda: Fraction(training_memory(load_preset("llama-2-7b"),
                                               make_memory_config(precision="fp32", batch=0)).total_bytes, GIB),
              target=Fraction(10041, 100), rel_tol=0.00005,
              explanation="weights + gradients + Adam m, v, all fp32 = 16 B × 6,738,415,616 = 100.41 GiB"),
        Known("accelerate.llama2_7b_fp16", "accelerate estimate-memory: Llama-2-7B training, fp16: 50.21 \"GB\"",
              "accelerate 1.15.0, `accelerate estimate-memory` (its GB are GiB)", "50.21 GB",
              lambda: Fraction(4 * model_storage(load_preset("llama-2-7b"), "fp16").total_bytes, GIB),
              target=Fraction(5021, 100), rel_tol=0.0001,
              explanation="accelerate's convention: 4 × the model's size in the dtype (Adam states in fp16 too); "
                          "real fp16 training with fp32 Adam states needs 12 B/param = 75.3 GiB"),
        # ---- seed 004 -----------------------------------------------------------------------------
        *[Known(f"seed004.why_peft.{name}", f"7B full fine-tuning in FP16: {label}", f"{s004} §1.1", text,
                (lambda name=name: comp(7 * 10**9, name, precision="fp16")) if name != "total"
                else (lambda: mem(7 * 10**9, precision="fp16")), target=val * GB, unit="bytes")
          for name, label, text, val in (("weights", "FP16 memory", "14GB", 14), ("optimizer", "optimizer states", "56GB", 56),
                                         ("gradients", "gradients", "14GB", 14), ("total", "total", "~84GB", 84))],
        Known("seed004.lora_example", "d=k=4096, r=8: LoRA 65K params (0.4%)", f"{s004} §2.1", "65K (0.4%)",
              lambda: trainable("lora", d=4096, r=8), target=65_000, rel_tol=0.01),
        Known("seed004.table.lora_r8", "7B, LoRA r=8: ~4M trainable", f"{s004} §6.1 table", "~4M (0.06%)",
              lambda: trainable("lora", model="llama-2-7b", r=8), target=4_000_000, rel_tol=0.05),
        Known("seed004.table.lora_r64", "7B, LoRA r=64: ~30M trainable (0.4%)", f"{s004} §6.1 table", "~30M (0.4%)",
              lambda: trainable("lora", model="llama-2-7b", r=64), kind="discrepancy", target=30_000_000,
              rel_tol=0.1, correct=33_554_432,
              explanation="q,v at r=64 on Llama-2-7B: 64 × 64·(4096 + 4096) = 33,554,432 = 0.50 % of 6.74B"),
        Known("seed004.table.prefix", "7B, prefix tuning: ~1M trainable", f"{s004} §6.1 table", "~1M",
              lambda: trainable("prefix_tuning", model="llama-2-7b", tokens=20), kind="discrepancy",
              target=1_000_000, rel_tol=0.5, correct=5_242_880,
              explanation="peft's default 20 tokens: 20 × 32 layers × 2 × 4096 = 5,242,880; ~1M is ~4 tokens"),
        Known("seed004.table.prompt", "7B, prompt tuning: ~100K trainable", f"{s004} §6.1 table", "~100K",
              lambda: trainable("prompt_tuning", model="llama-2-7b", tokens=20), target=100_000, rel_tol=0.25),
        Known("seed004.table.ia3", "7B, IA³: ~300K trainable", f"{s004} §6.1 table", "~300K",
              lambda: trainable("ia3", model="llama-2-7b"), kind="discrepancy", target=300_000, rel_tol=0.2,
              correct=614_400,
              explanation="peft's default IA³ also scales down_proj's input: 32 × (4096 + 4096 + 11008) = 614,400; "
                          "k, v alone give 262,144 ≈ the table's ~300K"),
        Known("seed004.ex1.full_qv", "q_proj + v_proj of 32 layers: 1,073,741,824 params", f"{s004} Exercise 1",
              "1,073,741,824", lambda: params("lora", d=4096, layers=32, matrices=2).base_params, target=1_073_741_824),
        Known("seed004.ex1.lora_r8", "LoRA r=8 on q, v: 4,194,304", f"{s004} Exercise 1", "4,194,304",
              lambda: trainable("lora", d=4096, layers=32, matrices=2, r=8), target=4_194_304),
        Known("seed004.ex1.lora_r64", "LoRA r=64 on q, v: 33,554,432", f"{s004} Exercise 1", "33,554,432",
              lambda: trainable("lora", d=4096, layers=32, matrices=2, r=64), target=33_554_432),
        Known("seed004.ex1.reduction_r8", "reduction at r=8: 256×", f"{s004} Exercise 1", "256x",
              lambda: params("lora", d=4096, layers=32, matrices=2, r=8).reduction_factor, target=256),
        Known("seed004.ex1.reduction_r64", "reduction at r=64: 32×", f"{s004} Exercise 1", "32x",
              lambda: params("lora", d=4096, layers=32, matrices=2, r=64).reduction_factor, target=32),
        Known("seed004.ex2.lora_params_13b", "13B, LoRA r=8 on q, v: ≈ 8M trainable", f"{s004} Exercise 2", "≈ 8M",
              lambda: trainable("lora", model="llama-2-13b", r=8), kind="discrepancy", target=8_000_000,
              rel_tol=0.1, correct=6_553_600,
              explanation="Llama-2-13B has 40 layers of d=5120: 40 × 2 × 8·(5120 + 5120) = 6,553,600 "
                          "(the seed assumes 32 layers)"),
        *[Known(f"seed004.ex2.{key}", f"13B: {label}", f"{s004} Exercise 2", text, fn, target=val, unit="bytes",
                rel_tol=tol)
          for key, label, text, fn, val, tol in (
              ("full_weights", "full FT FP16 weights 13B × 2 B", "26GB", lambda: comp(13 * 10**9, "weights", precision="fp16"), 26 * GB, 0),
              ("full_optimizer", "Adam 13B × 8 B", "104GB", lambda: comp(13 * 10**9, "optimizer", precision="fp16"), 104 * GB, 0),
              ("full_gradients", "FP16 gradients", "26GB", lambda: comp(13 * 10**9, "gradients", precision="fp16"), 26 * GB, 0),
              ("full_total", "full FT total", "~156GB", lambda: mem(13 * 10**9, precision="fp16"), 156 * GB, 0),
              ("lora_adapters", "8M LoRA params in BF16", "16MB", lambda: int(8 * 10**6 * DTYPE_BYTES["bf16"]), 16 * MB, 0),
              ("lora_optimizer", "Adam on 8M params", "64MB", lambda: comp(8 * 10**6, "optimizer", precision="bf16"), 64 * MB, 0),
              ("qlora_weights", "13B in NF4 at 0.5 B/param", "6.5GB",
               lambda: int(seed_nf4_bytes(13 * 10**9, bits=Fraction(4))), 6_500_000_000, 0),
              ("qlora_total", "QLoRA total", "~6.6GB",
               lambda: int(seed_nf4_bytes(13 * 10**9, bits=Fraction(4)) + 8 * 10**6 * DTYPE_BYTES["bf16"])
               + comp(8 * 10**6, "optimizer", precision="bf16"), 6_600_000_000, 0.004))],
        # ---- seed 003 -----------------------------------------------------------------------------
        Known("seed003.lora_params", "256×256, r=8: LoRA parameters 4,096", s003, "4,096",
              lambda: trainable("lora", d=256, r=8), target=4096),
        Known("seed003.compression", "256×256, r=8: compression 6.25%", s003, "6.25%",
              lambda: params("lora", d=256, r=8).trainable_fraction * 100, target=Fraction(625, 100)),
        Known("seed003.adapter_params", "adapter d=256, bottleneck 64 (no biases): 32,768", s003, "32,768",
              lambda: trainable("adapter", d=256, bottleneck=64, variant="pfeiffer", adapter_bias=False), target=32_768),
        Known("seed003.prompt_params", "20 soft prompts at d=256: 5,120", s003, "5,120",
              lambda: trainable("prompt_tuning", d=256, tokens=20), target=5120),
        *[Known(f"seed003.compare.{name}", f"7B-scale comparison: {name}", f"{s003} (seed's convention)",
                f"{count:,}", lambda name=name: seed_compare()[name][0], target=count)
          for name, count in (("full", 2_147_483_648), ("lora", 4_194_304), ("adapters", 33_554_432),
                              ("prefix", 2_621_440), ("prompt", 81_920))],
    ]
    return out


def _gpt_block(estimate: Callable[..., Any], load_preset: Callable[[str], Any], checkpointing: str) -> int:
    arch = load_preset("gpt2")
    names = [m.name for m in arch.linear_modules()]
    # Korthikanti et al. count Megatron's layers (fused GELU, no norm statistics, 1-byte masks)
    return int(estimate(arch, batch=4, seq=1024, trained_names=names, attention="eager",
                        checkpointing=checkpointing, implementation="megatron").per_block_bytes)

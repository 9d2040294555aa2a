"""Published, measured GPU memory of fine-tuning runs vs peftcalc's step-peak model (issue 19).

Each figure carries its source, the settings the source states, the level it was measured at (nvidia-smi/NVML
= ``device_bytes``; torch's ``max_memory_reserved`` = ``reserved_bytes``; ``max_memory_allocated`` =
``total_bytes``) and the peftcalc call that models it. Where a source measured the CUDA context itself, that
figure replaces peftcalc's assumed one (``context``). Settings a source does not state are taken from the
recipe it names and listed under ``assumed``.

    python benchmarks/published_memory.py          # table, median and worst error
    python benchmarks/published_memory.py --json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from peftcalc import overheads
from peftcalc.arch import arch_from_config, load_preset
from peftcalc.training import MemoryEstimate, make_memory_config, training_memory

MiB, GiB = 2**20, 2**30
HF_ANATOMY = ("Hugging Face transformers docs, 'Model training anatomy' and 'Methods and tools for efficient "
              "training on a single GPU' (perf_train_gpu_one, v4.2x), V100 16 GB, nvidia-smi/NVML 'GPU memory "
              "occupied' (MiB)", "https://huggingface.co/docs/transformers/model_memory_anatomy")
TORCHTUNE = ("torchtune README, 'Memory and training speed' (Llama 3.1, batch 2, packed to 2,048 tokens, "
             "torch.compile), 'Peak Memory per GPU'", "https://github.com/pytorch/torchtune#memory-and-training-speed")
# bert-large-uncased's config.json (BertForSequenceClassification: + a 1024×2 classifier, 2,050 parameters)
BERT_LARGE = arch_from_config({"model_type": "bert", "hidden_size": 1024, "num_hidden_layers": 24,
                               "num_attention_heads": 16, "intermediate_size": 4096, "vocab_size": 30522,
                               "max_position_embeddings": 512, "type_vocab_size": 2}, name="bert-large-uncased")
# meta-llama/Llama-3.1-70B config.json
LLAMA_31_70B = arch_from_config({"model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 80,
                                 "num_attention_heads": 64, "num_key_value_heads": 8, "intermediate_size": 28672,
                                 "vocab_size": 128256, "tie_word_embeddings": False}, name="llama-3.1-70b")
HF_CONTEXT = 1343 * MiB  # the same doc: "the kernels alone take up 1.3GB" (torch.ones((1, 1)).to("cuda"): 1343 MB)
ALL_LINEAR_TT = ["q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]  # torchtune q, v, output_proj + MLP


@dataclass(frozen=True)
class Figure:
    id: str
    source: tuple[str, str]
    stated: str
    measured_bytes: int
    level: str                      # total_bytes | reserved_bytes | device_bytes
    call: Callable[[], MemoryEstimate | int]
    assumed: str = ""
    context: int | None = None      # the source's own CUDA-context measurement

    def predicted(self) -> int:
        est = self.call()
        if isinstance(est, int):
            return est if self.level != "device_bytes" else overheads.reserved(est) + (self.context or 0)
        if self.level == "device_bytes" and self.context is not None:
            return overheads.reserved(est.total_bytes) + self.context + est.paged_bytes
        return int(getattr(est, self.level))


def bert(batch: int, **options: Any) -> Callable[[], MemoryEstimate]:
    # transformers 4.1x Trainer on torch 1.x: model.zero_grad() kept the gradients allocated (set_to_none=False)
    return lambda: training_memory(BERT_LARGE, make_memory_config(batch=batch, seq=512, attention="eager",
                                                                  precision=options.pop("precision", "fp32"),
                                                                  set_to_none=False, **options))


def llama8b(method: str, **peft: Any) -> Callable[[], MemoryEstimate]:
    def run() -> MemoryEstimate:
        common = dict(batch=2, seq=2048, checkpointing="full", precision="bf16", loss="chunked")
        if method == "full":
            return training_memory(load_preset("llama-3-8b"), make_memory_config(
                method="full", optimizer="adamw8bit", paged=True, optimizer_in_backward=True, **common))
        return training_memory(load_preset("llama-3-8b"), make_memory_config(
            method=method, adapter_dtype="bf16", optimizer_dtype="bf16", gradient_accumulation=1, **common), **peft)
    return run


FIGURES: list[Figure] = [
    Figure("hf.vanilla", HF_ANATOMY, "bert-large-uncased, seq 512, batch 4, fp32, Trainer AdamW", 14949 * MiB,
           "device_bytes", bert(4), "eager attention, dropout 0.1 (2022 transformers)", HF_CONTEXT),
    Figure("hf.grad_accum", HF_ANATOMY, "batch 1, gradient accumulation 4", 8681 * MiB, "device_bytes",
           bert(1, gradient_accumulation=4), context=HF_CONTEXT),
    Figure("hf.checkpointing", HF_ANATOMY, "batch 1, accumulation 4, gradient checkpointing", 6775 * MiB,
           "device_bytes", bert(1, gradient_accumulation=4, checkpointing="full"), context=HF_CONTEXT),
    Figure("hf.fp16", HF_ANATOMY, "batch 4, fp16=True (AMP)", 13939 * MiB, "device_bytes", bert(4, precision="amp"),
           "fp16=True is torch AMP: fp32 weights, gradients and AdamW states, 16-bit copies", HF_CONTEXT),
    Figure("hf.fp16_ckpt", HF_ANATOMY, "batch 1, accumulation 4, checkpointing, fp16", 7275 * MiB, "device_bytes",
           bert(1, gradient_accumulation=4, checkpointing="full", precision="amp"), "torch AMP", HF_CONTEXT),
    Figure("hf.adafactor", HF_ANATOMY, "batch 4, optim=adafactor", 12295 * MiB, "device_bytes",
           bert(4, optimizer="adafactor"), context=HF_CONTEXT),
    Figure("hf.all_adafactor", HF_ANATOMY, "batch 1, accumulation 4, checkpointing, fp16, adafactor", 4847 * MiB,
           "device_bytes", bert(1, gradient_accumulation=4, checkpointing="full", precision="amp",
                                optimizer="adafactor"), "torch AMP", HF_CONTEXT),
    Figure("hf.adam8bit", HF_ANATOMY, "batch 4, bitsandbytes Adam8bit", 13085 * MiB, "device_bytes",
           bert(4, optimizer="adamw8bit"), context=HF_CONTEXT),
    Figure("hf.all_adam8bit", HF_ANATOMY, "batch 1, accumulation 4, checkpointing, fp16, Adam8bit", 5363 * MiB,
           "device_bytes", bert(1, gradient_accumulation=4, checkpointing="full", precision="amp",
                                optimizer="adamw8bit"), "torch AMP", HF_CONTEXT),
    Figure("hf.weights_loaded", HF_ANATOMY, "bert-large-uncased loaded to the GPU (fp32), nothing else", 2631 * MiB,
           "device_bytes", lambda: 4 * BERT_LARGE.total_params, context=HF_CONTEXT),
    Figure("torchtune.8b_full_4090", TORCHTUNE, "Llama 3.1 8B full fine-tune, 1× RTX 4090", int(18.9 * GiB),
           "reserved_bytes", llama8b("full"),
           "recipe llama3_1/8B_full_single_device: bf16, PagedAdamW8bit, optimizer_in_bwd, activation checkpointing, "
           "linear cross-entropy; 'Peak Memory' read as peak reserved; torch.compile not modelled"),
    Figure("torchtune.8b_lora_4090", TORCHTUNE, "Llama 3.1 8B LoRA, 1× RTX 4090", int(16.2 * GiB), "reserved_bytes",
           llama8b("lora", r=8, targets=ALL_LINEAR_TT),
           "recipe llama3_1/8B_lora_single_device: r 8 on q, v, output_proj + MLP, bf16 (adapters too), fused "
           "AdamW, activation checkpointing, chunked cross-entropy"),
    Figure("torchtune.8b_qlora_4090", TORCHTUNE, "Llama 3.1 8B QLoRA, 1× RTX 4090", int(7.4 * GiB), "reserved_bytes",
           llama8b("qlora", r=8, targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
           "recipe llama3_1/8B_qlora_single_device: NF4 base, r 8 on q, k, v, output_proj + MLP, bf16, fused AdamW, "
           "activation checkpointing, chunked cross-entropy"),
    Figure("torchtune.70b_full_8xa100", TORCHTUNE, "Llama 3.1 70B full fine-tune, 8× A100, CPU offload, fused "
           "optimizer", int(13.9 * GiB), "reserved_bytes",
           lambda: training_memory(LLAMA_31_70B, make_memory_config(
               batch=2, seq=2048, precision="bf16", zero=3, gpus=8, offload="cpu", checkpointing="full",
               loss="chunked")),
           "recipe llama3_1/70B_full: FSDP (ZeRO-3) over 8 GPUs, fsdp_cpu_offload, bf16, activation checkpointing"),
    Figure("torchtune.70b_lora_8xa100", TORCHTUNE, "Llama 3.1 70B LoRA, 8× A100", int(27.6 * GiB), "reserved_bytes",
           lambda: training_memory(LLAMA_31_70B, make_memory_config(
               method="lora", batch=2, seq=2048, precision="bf16", zero=3, gpus=8, checkpointing="full",
               loss="chunked", adapter_dtype="bf16", optimizer_dtype="bf16"), r=16,
               targets=["q_proj", "k_proj", "v_proj", "o_proj"]),
           "recipe llama3_1/70B_lora: FSDP (ZeRO-3) over 8 GPUs; r 16 on q, k, v, output_proj (assumed), bf16"),
]


def rows() -> list[dict[str, Any]]:
    out = []
    for f in FIGURES:
        predicted = f.predicted()
        out.append({"id": f.id, "source": f.source[0], "url": f.source[1], "stated": f.stated, "assumed": f.assumed,
                    "level": f.level, "measured_bytes": f.measured_bytes, "predicted_bytes": predicted,
                    "ratio": predicted / f.measured_bytes})
    return out


def main(argv: list[str] | None = None) -> int:
    data = rows()
    errors = [abs(r["ratio"] - 1) for r in data]
    summary = {"figures": len(data), "median_abs_error": statistics.median(errors), "worst": max(errors),
               "worst_id": data[errors.index(max(errors))]["id"]}
    if "--json" in (argv if argv is not None else sys.argv[1:]):
        print(json.dumps({"rows": data, "summary": summary}, indent=2))
        return 0
    print(f"{'figure':28s} {'level':15s} {'measured':>10s} {'predicted':>10s}  pred/meas")
    for r in data:
        print(f"{r['id']:28s} {r['level']:15s} {r['measured_bytes'] / GiB:9.2f}G {r['predicted_bytes'] / GiB:9.2f}G  "
              f"{r['ratio']:.3f}")
    print(f"{len(data)} figures: median |error| {summary['median_abs_error']:.1%}, worst {summary['worst']:.1%} "
          f"({summary['worst_id']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

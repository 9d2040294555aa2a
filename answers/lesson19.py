"""Lesson 19, PEFT unified (seed 004): Exercises 1–4, one part per quantity of their answer tables."""

from __future__ import annotations

from fractions import Fraction

from answers.format import fmt
from answers.key import Accepted, Answer, Mistake, Part, RubricPoint, Tolerance, concept, part, pct
from peftcalc.arch.presets import load_preset
from peftcalc.calc import params
from peftcalc.training import make_memory_config, params_only_memory
from peftcalc.quant import model_storage, seed_nf4_bytes

PARTS: list[Part] = []
SRC = "seed 004, Lesson 19 Exercises"
R = RubricPoint
EXACT = Tolerance(Fraction(0))
ROUNDED = Tolerance(Fraction(1, 100))

# ---- Exercise 1: LoRA trainable parameters, q_proj + v_proj of a 32-layer d=4096 model ----------------------


def _qv(d: int, layers: int, r: int) -> tuple[int, int]:
    """(full q+v params, LoRA params) for q_proj and v_proj of every layer."""
    res = params("lora", d=d, layers=layers, matrices=2, r=r)
    return res.base_params, res.trainable_params


_EX1 = "Exercise 1 (LLaMA-7B, d_model=4096, 32 layers, LoRA on q_proj and v_proj): "


@part(PARTS, "19.1.full_ft_params", _EX1 + "full fine-tuning params of q_proj + v_proj across all layers", SRC)
def full_ft_params(d: int = 4096, layers: int = 32) -> Answer:
    full, _ = _qv(d, layers, 1)
    return Answer("", "", "numeric", full, "params", text=f"2 · {d}² · {layers} = {full:,} ≈ 1.07B",
                  formula=r"2\,d^2 L", substitution=f"2·{d}·{d}·{layers}",
                  accepted=(Accepted("q + v of all layers", full, "2 matrices × d² × L"),),
                  mistakes=(Mistake("one matrix per layer", full // 2, "q_proj and v_proj: two per layer",
                                    Fraction(1, 2)),),
                  tolerance=EXACT)


def _lora(d: int, layers: int, r: int) -> Answer:
    _, n = _qv(d, layers, r)
    return Answer("", "", "numeric", n, "params",
                  text=f"2 matrices × {layers} layers × ({d}·{r} + {r}·{d}) = {n:,} ≈ {n / 1e6:.1f}M",
                  formula=r"2 L \cdot r (d + k)", substitution=f"2·{layers}·({d}·{r} + {r}·{d})",
                  accepted=(Accepted("W_A + W_B on q and v", n, "LoRA on two matrices per layer"),),
                  mistakes=(Mistake("one factor only", n // 2, "LoRA trains W_A and W_B", Fraction(1, 2)),
                            Mistake("one matrix per layer", n // 2, "q_proj and v_proj", Fraction(1, 2))),
                  tolerance=EXACT)


@part(PARTS, "19.1.lora_r8_params", _EX1 + "LoRA params at r=8", SRC)
def lora_r8_params(d: int = 4096, layers: int = 32, r: int = 8) -> Answer:
    return _lora(d, layers, r)


@part(PARTS, "19.1.lora_r64_params", _EX1 + "LoRA params at r=64", SRC)
def lora_r64_params(d: int = 4096, layers: int = 32, r: int = 64) -> Answer:
    return _lora(d, layers, r)


def _reduction(d: int, layers: int, r: int) -> Answer:
    full, n = _qv(d, layers, r)
    ratio = Fraction(full, n)
    return Answer("", "", "numeric", ratio, "ratio",
                  text=(f"{full:,} / {n:,} = {fmt(ratio, 'ratio')} fewer trainable parameters "
                        f"({fmt(pct(1 / ratio), 'percent')} of full fine-tuning of q, v); = d/(2r) for d = k."),
                  formula=r"\frac{d^2}{r (d + k)}", substitution=f"{full:,} / {n:,}",
                  accepted=(Accepted("full / LoRA", ratio, "reduction factor"),
                            Accepted("LoRA share of full q,v", pct(1 / ratio), "the same ratio inverted, in %",
                                     unit="percent")),
                  tolerance=ROUNDED)


@part(PARTS, "19.1.reduction_ratio", _EX1 + "parameter reduction ratio for r=8", SRC)
def reduction_ratio(d: int = 4096, layers: int = 32, r: int = 8) -> Answer:
    return _reduction(d, layers, r)


@part(PARTS, "19.1.reduction_ratio_r64", _EX1 + "parameter reduction ratio for r=64 (in the answer)", SRC)
def reduction_ratio_r64(d: int = 4096, layers: int = 32, r: int = 64) -> Answer:
    return _reduction(d, layers, r)


def _share_of_model(d: int, layers: int, r: int, model_params: int, model: str) -> Answer:
    _, n = _qv(d, layers, r)
    share = pct(Fraction(n, model_params))
    real = load_preset(model).total_params
    return Answer("", "", "numeric", share, "percent",
                  text=f"{n:,} / {model_params:,} = {fmt(share, 'percent')} of the whole model",
                  substitution=f"{n:,} / {model_params:,} × 100 %",
                  accepted=(Accepted("of 7·10⁹", share, "the model's nominal size"),
                            Accepted(f"of {model}'s exact {real:,}", pct(Fraction(n, real)), "the real count")),
                  mistakes=(Mistake("of the q+v weights only", pct(Fraction(n, 2 * d * d * layers)),
                                    "that is the share of q+v, not of the whole model", Fraction(1, 2)),),
                  notes=("Seed 004 writes \"0.06% of 7B model total params = 7B × q+v only ≈ 2B\": the 0.06 % "
                         f"is of the whole 7B model; q+v alone are {2 * d * d * layers:,} ≈ 1.07B (not ≈ 2B), "
                         f"of which the LoRA is {fmt(pct(Fraction(n, 2 * d * d * layers)), 'percent')}.",),
                  tolerance=Tolerance(Fraction(5, 100)))


@part(PARTS, "19.1.lora_r8_percent_of_model", _EX1 + "r=8 LoRA as a percentage of the 7B model (0.06 %)", SRC)
def lora_r8_percent(d: int = 4096, layers: int = 32, r: int = 8, model_params: int = 7 * 10**9,
                    model: str = "llama-2-7b") -> Answer:
    return _share_of_model(d, layers, r, model_params, model)


@part(PARTS, "19.1.lora_r64_percent_of_model", _EX1 + "r=64 LoRA as a percentage of the 7B model (0.48 %)", SRC)
def lora_r64_percent(d: int = 4096, layers: int = 32, r: int = 64, model_params: int = 7 * 10**9,
                     model: str = "llama-2-7b") -> Answer:
    return _share_of_model(d, layers, r, model_params, model)


# ---- Exercise 2: QLoRA memory table for a 13B model -------------------------------------------------------------

_EX2 = "Exercise 2 (13B model; LoRA r=8 on q, v ≈ 8M params): "
_EX2_ASSUME = ("13B = 13·10⁹ parameters; LoRA ≈ 8·10⁶ trainable parameters (the seed's assumption)",
               "NF4 = 0.5 B/param (the seed's convention: block constants ignored)",
               "no activations (the table leaves them out)")


def _ex2_note(lora_params: int, model: str = "llama-2-13b") -> str:
    real = params("lora", model=model, r=8)
    arch = load_preset(model)
    nf4 = model_storage(arch, "nf4", double_quant=True)
    return (f"The table's '≈ 8M' does not follow from its assumptions: {model} has {arch.num_layers} layers of "
            f"d={arch.hidden_size}, so LoRA r=8 on q, v is {real.trainable_params:,} "
            f"({lora_params - real.trainable_params:+,} vs the 8M used); 32 layers of d=5120 would give 5,242,880. "
            f"Real NF4 with double quantization stores {model} in {fmt(nf4.total_bytes, 'bytes')} "
            "(embeddings/head stay bf16; 4.127 bits per quantized weight).")


def _mem_cell(part_id: str, question: str, value_fn, text_fn, *, note: bool = False) -> None:
    def solve(params_count: int = 13 * 10**9, lora_params: int = 8 * 10**6) -> Answer:
        value = value_fn(params_count, lora_params)
        return Answer("", "", "numeric", value, "bytes", text=text_fn(params_count, lora_params, value),
                      assumptions=_EX2_ASSUME, accepted=(Accepted("seed's convention", value, "as in the table"),),
                      notes=(_ex2_note(lora_params),) if note else (), tolerance=ROUNDED)
    PARTS.append(Part(part_id, _EX2 + question, SRC, "numeric", solve,
                      (("params_count", 13 * 10**9), ("lora_params", 8 * 10**6))))


def _fp16_full(psi: int) -> dict[str, int]:
    return params_only_memory(psi, make_memory_config(precision="fp16", batch=0)).breakdown


def _adapters(n: int) -> int:
    """LoRA weights in bf16 (2 B) + Adam's fp32 m, v (8 B)."""
    return 2 * n + 8 * n


_mem_cell("19.2.full_ft.weights", "full FT (FP16): model weights", lambda p, n: _fp16_full(p)["weights"],
          lambda p, n, v: f"{p / 1e9:g}B × 2 B = {fmt(v, 'bytes')}")
_mem_cell("19.2.full_ft.optimizer", "full FT (FP16): optimizer states (Adam)", lambda p, n: _fp16_full(p)["optimizer"],
          lambda p, n, v: f"{p / 1e9:g}B × 8 B (m, v in fp32) = {fmt(v, 'bytes')}")
_mem_cell("19.2.full_ft.gradients", "full FT (FP16): gradients", lambda p, n: _fp16_full(p)["gradients"],
          lambda p, n, v: f"{p / 1e9:g}B × 2 B = {fmt(v, 'bytes')}")
_mem_cell("19.2.full_ft.total", "full FT (FP16): total", lambda p, n: sum(_fp16_full(p).values()),
          lambda p, n, v: f"26 + 104 + 26 = 12 B/param × {p / 1e9:g}B = {fmt(v, 'bytes')} → at least two 80 GB GPUs")
_mem_cell("19.2.lora.weights", "LoRA (BF16): model weights", lambda p, n: 2 * p,
          lambda p, n, v: f"frozen base in bf16: {p / 1e9:g}B × 2 B = {fmt(v, 'bytes')}")
_mem_cell("19.2.lora.optimizer", "LoRA (BF16): optimizer states of the base (N/A, frozen)", lambda p, n: 0,
          lambda p, n, v: "N/A: the base is frozen, no optimizer states (0 B); the adapters' are counted below")
_mem_cell("19.2.lora.gradients", "LoRA (BF16): gradients of the base (N/A, frozen)", lambda p, n: 0,
          lambda p, n, v: "N/A: the base is frozen, no gradients (0 B)")
_mem_cell("19.2.lora.adapters", "LoRA (BF16): LoRA adapters + optimizer", lambda p, n: _adapters(n),
          lambda p, n, v: f"{n / 1e6:g}M × 2 B (bf16) + {n / 1e6:g}M × 8 B (Adam) = 16 MB + 64 MB = {fmt(v, 'bytes')}",
          note=True)
_mem_cell("19.2.lora.total", "LoRA (BF16): total", lambda p, n: 2 * p + _adapters(n),
          lambda p, n, v: f"26 GB + 80 MB = {fmt(v, 'bytes')} (≈ 26 GB)")
_mem_cell("19.2.qlora.weights", "QLoRA (NF4 + BF16): model weights", lambda p, n: int(seed_nf4_bytes(p, bits=Fraction(4))),
          lambda p, n, v: f"{p / 1e9:g}B × 0.5 B = {fmt(v, 'bytes')}", note=True)
_mem_cell("19.2.qlora.optimizer", "QLoRA: optimizer states of the base (N/A, frozen)", lambda p, n: 0,
          lambda p, n, v: "N/A: the base is frozen (0 B)")
_mem_cell("19.2.qlora.gradients", "QLoRA: gradients of the base (N/A, frozen)", lambda p, n: 0,
          lambda p, n, v: "N/A: the base is frozen (0 B)")
_mem_cell("19.2.qlora.adapters", "QLoRA: LoRA adapters + optimizer", lambda p, n: _adapters(n),
          lambda p, n, v: f"as for LoRA: 16 MB + 64 MB = {fmt(v, 'bytes')}")
_mem_cell("19.2.qlora.total", "QLoRA (NF4 + BF16): total", lambda p, n: int(seed_nf4_bytes(p, bits=Fraction(4))) + _adapters(n),
          lambda p, n, v: f"6.5 GB + 80 MB = {fmt(v, 'bytes')} (≈ 6.6 GB) — fits a 24 GB consumer GPU")

# ---- Exercise 3: rank selection -------------------------------------------------------------------------------

_EX3 = "Exercise 3 (7B LLM): recommended LoRA rank and justification for task "
_TASKS = (
    ("A", "A) translating tech docs EN→FR, 50K sentence pairs", (4, 8),
     "Translation is a well-defined skill the base model largely has (French is in pre-training); a low rank "
     "captures the alignment without memorising corpus-specific phrases; 50K pairs are plenty for it.",
     (R("the base model already knows the task/language", ("already", "pretrain", "pre-train", "knows",
                                                          "well-defined", "well defined")),
      R("low rank generalizes / avoids over-fitting", ("overfit", "over-fit", "generaliz", "memoriz")))),
    ("B", "B) a new proprietary API style, 200 examples", (16, 32),
     "A style the base model has never seen needs enough rank to express new patterns, but with only 200 "
     "examples over-fitting is the risk: moderate rank with higher lora_dropout (0.1–0.2).",
     (R("new, unseen patterns need more capacity", ("new", "unseen", "never seen", "novel", "capacity")),
      R("tiny dataset: regularize (dropout) against over-fitting", ("dropout", "overfit", "over-fit", "200",
                                                                    "small data", "regulariz")))),
    ("C", "C) general instruction following, 100K diverse examples", (64, 128),
     "Broad behavioural change across many task types needs a high-rank update (often on all linear layers); "
     "100K diverse examples support the capacity without over-fitting.",
     (R("broad/diverse behaviour change needs high rank", ("broad", "diverse", "many task", "general",
                                                           "behavio")),
      R("large dataset supports the capacity", ("100k", "100,000", "large dataset", "enough data", "lots of data")))),
)


def _rank_part(key: str, label: str, ranks: tuple[int, int], why: str, rubric: tuple[RubricPoint, ...]) -> None:
    def rank() -> Answer:
        return Answer("", "", "numeric", ranks[0], "rank", text=f"r = {ranks[0]} or r = {ranks[1]}. {why}",
                      accepted=tuple(Accepted(f"r={r}", r, "seed 004's recommendation") for r in ranks),
                      tolerance=EXACT)

    PARTS.append(Part(f"19.3.{key}.rank", _EX3 + label, SRC, "numeric", rank))
    concept(PARTS, f"19.3.{key}.justification", _EX3 + label + " — justification", SRC, text=why, rubric=rubric)


for _task in _TASKS:
    _rank_part(*_task)

# ---- Exercise 4: why LoRA merges and adapters do not ------------------------------------------------------------

_EX4 = "Exercise 4 (adapters vs LoRA at inference): "


@part(PARTS, "19.4.merge_formula", _EX4 + "the formula for merging LoRA into the base weight", SRC, "formula")
def merge_formula() -> Answer:
    return Answer("", "", "formula", "W + (alpha/r)*B*A",
                  text="W_merged = W + (α/r)·B·A, computed once offline; then y = W_merged·x.",
                  formula=r"W_\text{merged} = W + \frac{\alpha}{r} B A",
                  accepted=(Accepted("scaled", "W + (alpha/r)*B*A", "peft's merge"),
                            Accepted("unscaled (α = r)", "W + B*A", "the seed's first docstring omits the scaling")),
                  mistakes=(Mistake("A·B order", "W + (alpha/r)*A*B", "B (d×r) · A (r×k) — A·B is r×r",
                                    Fraction(0)),))


concept(PARTS, "19.4.why_lora_merges", _EX4 + "why LoRA can be merged for zero inference overhead", SRC, text=(
        "Both paths are linear maps of the same input at the same point of the network: W·x + (α/r)·B·A·x = "
        "(W + (α/r)·B·A)·x. Adding the product to W once gives a matrix of W's shape, so inference runs exactly "
        "the base model's computation — zero extra cost."),
        rubric=(R("linear in the same input", ("linear", "same input")),
                R("so the product adds into W: one matrix of the same shape", ("w + ba", "w+ba", "add", "merge",
                  "single matrix", "one matrix", "same shape")),
                R("identical computation to the base model, no overhead", ("zero", "no overhead", "no extra",
                  "same speed", "base model speed", "identical"))))


concept(PARTS, "19.4.why_adapters_cannot", _EX4 + "why adapters cannot be merged", SRC, text=(
        "An adapter is a sequential bottleneck with a nonlinearity: x + Up(σ(Down(x))). Because σ (ReLU/GELU) is "
        "not linear, no single matrix reproduces it, so the down-projection, activation and up-projection run on "
        "every token at inference."),
        rubric=(R("nonlinear activation between down and up", ("nonlinear", "non-linear", "relu", "gelu",
                                                              "activation")),
                R("cannot be written as a single matrix", ("single matrix", "one matrix", "cannot be collapsed",
                  "can't be collapsed", "cannot be merged", "not linear")),
                R("so it runs sequentially at inference (latency)", ("sequential", "latency", "extra computation",
                                                                   "every token", "overhead"))))

"""Chapter 24 (seed 002): Exercises 24.1–24.10, the conceptual and analytical questions."""

from __future__ import annotations

import math
from fractions import Fraction

from answers.format import fmt
from answers.key import Accepted, Answer, Mistake, Part, RubricPoint, Tolerance, concept, part, pct
from peftcalc.arch.presets import load_preset
from peftcalc.calc import params
from peftcalc.cost import break_even, make_cost_config, prompt_overhead_per_day
from peftcalc.training import make_memory_config, params_only_memory, training_memory
from peftcalc.quant import model_storage, seed_nf4_bytes

PARTS: list[Part] = []
SRC = "seed 002, Chapter 24 Exercises"
R = RubricPoint
QKVO = ["q_proj", "k_proj", "v_proj", "o_proj"]


def _scenario(part_id: str, question: str, choice: str, text: str, rubric: tuple[RubricPoint, ...],
              also: tuple[Accepted, ...] = ()) -> None:
    def solve() -> Answer:
        return Answer("", "", "choice", choice, text=text, rubric=rubric,
                      accepted=(Accepted(choice, choice, "recommended"), *also))
    PARTS.append(Part(part_id, question, SRC, "choice", solve))


_24_1 = "Prompting, fine-tuning or hybrid (justify)? "
_scenario("24.1a", _24_1 + "A legal firm classifies 50 contracts/day into 5 categories; 200 labeled examples.",
          "prompting",
          "Prompting (few-shot, with examples chosen from the 200): the volume is tiny (50/day, so per-query "
          "cost is negligible), 5 categories suit in-context classification, and 200 examples are few for "
          "fine-tuning but plenty to pick demonstrations and to evaluate the prompt.",
          (R("low volume makes per-query prompt cost negligible", ("50", "low volume", "volume", "cost")),
           R("few labeled examples: use them as demonstrations / for evaluation",
             ("200", "few-shot", "few shot", "examples", "evaluat")),),
          (Accepted("hybrid", "hybrid", "prompting now, fine-tune later if accuracy is insufficient"),))
_scenario("24.1b", _24_1 + "A startup generates product descriptions in a brand voice; 10,000 examples.",
          "fine-tuning",
          "Fine-tuning (e.g. LoRA): a consistent brand voice is a style that is hard to pin down in a prompt, "
          "and 10,000 examples are enough to learn it; the fine-tuned model also needs no long style prompt.",
          (R("style/voice is hard to specify in a prompt but learnable from data",
             ("style", "voice", "tone", "consisten")),
           R("10,000 examples are enough data to fine-tune", ("10,000", "10000", "10k", "enough data", "data"))))
_scenario("24.1c", _24_1 + "A research team wants to quickly prototype a sentiment analyzer for a new language.",
          "prompting",
          "Prompting: speed of iteration matters most and there is no labeled data yet; a multilingual LLM "
          "with zero/few-shot prompts gives a baseline in hours. Fine-tune later if the language is poorly "
          "covered.",
          (R("prototype speed / no training needed", ("quick", "fast", "prototype", "no training", "iterat")),
           R("no (or little) labeled data yet", ("no data", "no labeled", "zero-shot", "zero shot", "few-shot"))))
_scenario("24.1d", _24_1 + "A hospital extracts medication names and dosages from clinical notes with >99% precision.",
          "fine-tuning",
          "Fine-tuning (possibly hybrid: a fine-tuned extractor plus rule-based validation against a drug "
          "lexicon): >99% precision on a specialised, safety-critical domain needs consistent, structured "
          "output that prompting rarely reaches; data stays on-premises with a local fine-tuned model.",
          (R("very high precision / consistency required", ("99", "precision", "consisten", "reliab", "accura")),
           R("specialised domain (clinical vocabulary)", ("domain", "clinical", "medical", "specialized",
                                                           "specialised")),
           R("privacy / validation safeguards", ("privacy", "hipaa", "on-prem", "validat", "rule"))),
          (Accepted("hybrid", "hybrid", "fine-tuned extractor + rule-based validation"),))


@part(PARTS, "24.1e", _24_1 + "An e-commerce platform handles 1 million queries/day with a 10-word prompt overhead.",
      SRC, "choice")
def ex24_1e(queries: int = 1_000_000, overhead_words: int = 10,
            input_price_per_1k: Fraction = Fraction(1, 100)) -> Answer:
    tokens, dollars = prompt_overhead_per_day(queries_per_day=queries, overhead_words=overhead_words,
                                              input_price_per_1k=float(input_price_per_1k))
    return Answer("", "", "choice", "fine-tuning", text=(
        f"Fine-tuning: at this volume the fixed prompt overhead is re-paid on every query — "
        f"{queries:,} × {overhead_words} words × 4/3 tokens/word ≈ {float(tokens):,.0f} tokens/day, "
        f"≈ {fmt(dollars, 'USD')}/day (≈ {fmt(dollars * 365, 'USD')}/year) at 24.2's ${float(input_price_per_1k)}/1K "
        "input tokens, plus the latency of the longer input. A one-off fine-tune that bakes the instruction "
        "in pays for itself quickly."),
        assumptions=("4/3 tokens per English word (OpenAI's 100 tokens ≈ 75 words)",
                     "input price from Exercise 24.2 ($0.01 / 1K tokens)"),
        accepted=(Accepted("fine-tuning", "fine-tuning", "high volume: the per-query overhead dominates"),),
        rubric=(R("volume: overhead × 1M queries/day is large", ("million", "1m", "volume", "per day", "scale")),
                R("fine-tuning removes the overhead tokens (cost and latency)", ("overhead", "tokens", "latency",
                                                                                 "cost"))))


def _cost_config(system_tokens: int, few_shot: int, few_shot_tokens: int, query_tokens: int, response_tokens: int,
                 input_price: Fraction, output_price: Fraction, finetune_cost: int, queries_per_day: int):
    return break_even(make_cost_config(system_tokens=system_tokens, few_shot=few_shot,
                                       few_shot_tokens=few_shot_tokens, query_tokens=query_tokens,
                                       response_tokens=response_tokens, input_price=float(input_price),
                                       output_price=float(output_price), finetune_cost=finetune_cost,
                                       queries_per_day=queries_per_day))


_24_2 = dict(system_tokens=500, few_shot=5, few_shot_tokens=200, query_tokens=50, response_tokens=100,
             input_price=Fraction(1, 100), output_price=Fraction(3, 100), finetune_cost=500, queries_per_day=10_000)
_24_2_ASSUME = ("prices are per 1,000 tokens", "fine-tuning leaves the response length unchanged")


@part(PARTS, "24.2a", "Per-query cost with prompting (500-token system prompt, 5×200-token examples, "
      "50-token query, 100-token response; $0.01/1K in, $0.03/1K out).", SRC)
def ex24_2a(system_tokens: int = 500, few_shot: int = 5, few_shot_tokens: int = 200, query_tokens: int = 50,
            response_tokens: int = 100, input_price: Fraction = Fraction(1, 100),
            output_price: Fraction = Fraction(3, 100)) -> Answer:
    be = _cost_config(system_tokens, few_shot, few_shot_tokens, query_tokens, response_tokens, input_price,
                      output_price, 0, 0)
    out = response_tokens * output_price / 1000
    return Answer("", "", "numeric", be.prompted_cost, "USD",
                  text=(f"Input {be.prompt_input_tokens:,} tokens × ${float(input_price)}/1K = "
                        f"{fmt(be.prompted_cost - out, 'USD')}; output {response_tokens} × "
                        f"${float(output_price)}/1K = {fmt(out, 'USD')}; total {fmt(be.prompted_cost, 'USD')} per query."),
                  formula=r"c = \frac{T_\text{in}\,p_\text{in} + T_\text{out}\,p_\text{out}}{1000}",
                  substitution=(f"({system_tokens} + {few_shot}×{few_shot_tokens} + {query_tokens}) × {input_price}"
                                f"/1000 + {response_tokens} × {output_price}/1000"),
                  assumptions=_24_2_ASSUME,
                  accepted=(Accepted("input + output", be.prompted_cost, "all 1,550 input and 100 output tokens"),),
                  mistakes=(Mistake("input tokens only", be.prompted_cost - out,
                                    "the 100 response tokens cost $0.03/1K too", Fraction(1, 2)),
                            Mistake("all tokens at the input price",
                                    (be.prompt_input_tokens + response_tokens) * input_price / 1000,
                                    "output tokens are priced at $0.03/1K, not $0.01/1K", Fraction(1, 2))),
                  tolerance=Tolerance(Fraction(1, 100)))


@part(PARTS, "24.2b", "Per-query cost after fine-tuning removes the system prompt and few-shot examples.", SRC)
def ex24_2b(query_tokens: int = 50, response_tokens: int = 100, input_price: Fraction = Fraction(1, 100),
            output_price: Fraction = Fraction(3, 100)) -> Answer:
    be = _cost_config(0, 0, 0, query_tokens, response_tokens, input_price, output_price, 0, 0)
    return Answer("", "", "numeric", be.finetuned_cost, "USD",
                  text=(f"{query_tokens} × ${float(input_price)}/1K + {response_tokens} × ${float(output_price)}/1K = "
                        f"{fmt(be.finetuned_cost, 'USD')} per query."),
                  substitution=f"{query_tokens} × {input_price}/1000 + {response_tokens} × {output_price}/1000",
                  assumptions=_24_2_ASSUME + ("the fine-tuned model is priced like the base model",),
                  accepted=(Accepted("query + response", be.finetuned_cost, "only the query remains as input"),),
                  tolerance=Tolerance(Fraction(1, 100)))


@part(PARTS, "24.2c", "If fine-tuning costs $500, how many queries are needed to break even?", SRC)
def ex24_2c(finetune_cost: int = 500) -> Answer:
    cfg = {**_24_2, "finetune_cost": finetune_cost}
    be = _cost_config(**cfg)  # type: ignore[arg-type]
    assert be.break_even_queries is not None
    exact = Fraction(cfg["finetune_cost"]) / be.saving_per_query  # type: ignore[arg-type]
    return Answer("", "", "numeric", be.break_even_queries, "queries",
                  text=(f"Saving per query {fmt(be.prompted_cost, 'USD')} − {fmt(be.finetuned_cost, 'USD')} = "
                        f"{fmt(be.saving_per_query, 'USD')}; ${cfg['finetune_cost']} / {fmt(be.saving_per_query, 'USD')} "
                        f"= {float(exact):,.2f}, so {be.break_even_queries:,} queries (rounded up: the "
                        f"{be.break_even_queries:,}th query completes the payback)."),
                  formula=r"n = \left\lceil \frac{C_\text{ft}}{c_\text{prompt} - c_\text{ft}} \right\rceil",
                  substitution=f"{finetune_cost} / {float(be.saving_per_query)}",
                  accepted=(Accepted("rounded up", be.break_even_queries, "whole queries, payback complete"),
                            Accepted("unrounded", exact, "the exact quotient 33,333.3…"),
                            Accepted("rounded down", math.floor(exact), "nearest whole query")),
                  tolerance=Tolerance(Fraction(1, 1000)))


@part(PARTS, "24.2d", "At 10,000 queries per day, how many days until break-even?", SRC)
def ex24_2d(queries_per_day: int = 10_000, finetune_cost: int = 500) -> Answer:
    be = _cost_config(**{**_24_2, "queries_per_day": queries_per_day,  # type: ignore[arg-type]
                         "finetune_cost": finetune_cost})
    assert be.break_even_days is not None
    return Answer("", "", "numeric", be.break_even_days, "days",
                  text=(f"{float(Fraction(finetune_cost) / be.saving_per_query):,.1f} queries / "
                        f"{queries_per_day:,} per day = {fmt(be.break_even_days, 'days')} — within the 4th day."),
                  substitution=f"({finetune_cost} / {float(be.saving_per_query)}) / {queries_per_day}",
                  accepted=(Accepted("exact", be.break_even_days, "3⅓ days"),
                            Accepted("whole days", math.ceil(be.break_even_days), "break-even is reached on day 4")),
                  tolerance=Tolerance(Fraction(2, 100)))


def _thirteen_b(params_count: int, model: str, batch: int, seq: int) -> dict[str, int]:
    """Static bytes (from the count) and activations (from a 13B-shaped model) for 24.3."""
    arch = load_preset(model)
    out = {"static_fp32": params_only_memory(params_count, make_memory_config(precision="fp32", batch=0)).total_bytes,
           "static_mixed": params_only_memory(params_count, make_memory_config(precision="mixed", batch=0)).total_bytes,
           "static_pure16": params_only_memory(params_count, make_memory_config(precision="bf16", batch=0)).total_bytes}
    # the exercise asks for a textbook estimate: Korthikanti et al.'s layer count (Megatron's implementation);
    # `peftcalc memory` without it gives what transformers' own layers save (more: fp32 norms and softmax)
    for precision in ("fp32", "mixed"):
        cfg = make_memory_config(precision=precision, batch=batch, seq=seq, attention="eager", implementation="megatron")
        out[f"act_{precision}"] = training_memory(arch, cfg).static["activations"]  # additive: all saved + loss
    cfg = make_memory_config(precision="mixed", batch=batch, seq=seq, attention="eager", checkpointing="full",
                             implementation="megatron")
    out["act_ckpt_model"] = training_memory(arch, cfg).static["activations"]
    return out


_24_3_ASSUME = ("13B parameters counted as 13·10⁹ for the static part",
                "activations: Llama-2-13B shape (40 layers, d=5120), batch 1 × 2,048 tokens, eager attention "
                "(peftcalc's Korthikanti-based model) — the question leaves batch and length open",
                "Adam/AdamW: two fp32 states per parameter")
_24_3_TOL = Tolerance(Fraction(1, 5))  # the activation estimate depends on the model of activations
EXACT_FIGURE = Tolerance(Fraction(3, 100))  # a static total is exact: 20 % around it would reach far-off values


@part(PARTS, "24.3a", "13B model, full fine-tuning in full fp32: parameters + gradients + Adam states + "
      "estimated activations.", SRC)
def ex24_3a(params_count: int = 13 * 10**9, model: str = "llama-2-13b", batch: int = 1, seq: int = 2048) -> Answer:
    m = _thirteen_b(params_count, model, batch, seq)
    total = m["static_fp32"] + m["act_fp32"]
    return Answer("", "", "numeric", total, "bytes",
                  text=(f"Parameters 4 B + gradients 4 B + Adam m, v 8 B = 16 B/param × 13B = "
                        f"{fmt(m['static_fp32'], 'bytes')}; activations ≈ {fmt(m['act_fp32'], 'bytes')} "
                        f"(batch {batch}, {seq} tokens, fp32); total ≈ {fmt(total, 'bytes')}."),
                  formula=r"M = 16\,\Psi + M_\text{act}",
                  substitution=f"16 × 13·10⁹ + {m['act_fp32']:,} B",
                  assumptions=_24_3_ASSUME,
                  accepted=(Accepted("static + activation estimate", total, "16Ψ + modelled activations",
                                     (("parameters", 4 * params_count), ("gradients", 4 * params_count),
                                      ("optimizer", 8 * params_count), ("activations", m["act_fp32"]))),
                            Accepted("static only (activations stated separately)", m["static_fp32"],
                                     "16 B/param is exact; activations depend on batch/length",
                                     tolerance=EXACT_FIGURE)),
                  mistakes=(Mistake("forgot the optimizer states", 8 * params_count,
                                    "Adam keeps m and v: 8 more bytes per parameter", Fraction(1, 3)),),
                  tolerance=_24_3_TOL)


@part(PARTS, "24.3b", "Mixed precision (bf16 compute, fp32 optimizer).", SRC)
def ex24_3b(params_count: int = 13 * 10**9, model: str = "llama-2-13b", batch: int = 1, seq: int = 2048) -> Answer:
    m = _thirteen_b(params_count, model, batch, seq)
    total = m["static_mixed"] + m["act_mixed"]
    return Answer("", "", "numeric", total, "bytes",
                  text=(f"bf16 weights 2 B + bf16 gradients 2 B + fp32 master weights 4 B + Adam 8 B = 16 B/param = "
                        f"{fmt(m['static_mixed'], 'bytes')} — no less than fp32! Mixed precision halves the "
                        f"activations ({fmt(m['act_mixed'], 'bytes')}) and speeds up compute; total ≈ "
                        f"{fmt(total, 'bytes')}. Without the fp32 master copy (pure bf16 + fp32 Adam, 12 B/param) "
                        f"the static part is {fmt(m['static_pure16'], 'bytes')}."),
                  formula=r"M = (2 + 2 + 4 + 8)\,\Psi + M_\text{act}^{\text{bf16}}",
                  substitution=f"16 × 13·10⁹ + {m['act_mixed']:,} B",
                  assumptions=_24_3_ASSUME,
                  accepted=(Accepted("fp32 master copy (standard AMP)", total, "16Ψ + bf16 activations",
                                     (("weights", 2 * params_count), ("gradients", 2 * params_count),
                                      ("master_weights", 4 * params_count), ("optimizer", 8 * params_count),
                                      ("activations", m["act_mixed"]))),
                            Accepted("no master copy (12 B/param)", m["static_pure16"] + m["act_mixed"],
                                     "bf16 weights/grads + fp32 Adam, as seed 004 counts"),
                            Accepted("static only, with master copy", m["static_mixed"], "activations stated apart",
                                     tolerance=EXACT_FIGURE),
                            Accepted("static only, no master copy", m["static_pure16"], "activations stated apart")),
                  mistakes=(Mistake("everything in bf16", 8 * params_count,
                                    "the optimizer states (and master weights) stay fp32", Fraction(1, 3)),),
                  tolerance=_24_3_TOL)


@part(PARTS, "24.3c", "With gradient checkpointing (activation memory reduced by a factor of 4).", SRC)
def ex24_3c(params_count: int = 13 * 10**9, model: str = "llama-2-13b", batch: int = 1, seq: int = 2048,
            factor: int = 4) -> Answer:
    m = _thirteen_b(params_count, model, batch, seq)
    total = m["static_mixed"] + Fraction(m["act_mixed"], factor)
    return Answer("", "", "numeric", total, "bytes",
                  text=(f"Mixed precision (b) with activations / {factor}: {fmt(m['static_mixed'], 'bytes')} + "
                        f"{fmt(Fraction(m['act_mixed'], factor), 'bytes')} ≈ {fmt(total, 'bytes')}. Checkpointing "
                        "only shrinks activations — the 208 GB of weights, gradients and optimizer states remain."),
                  formula=r"M = 16\,\Psi + M_\text{act}/4",
                  assumptions=_24_3_ASSUME + ("builds on (b): mixed precision",),
                  accepted=(Accepted("from (b), with master copy", total, "16Ψ + act/4"),
                            Accepted("from (a), fp32", m["static_fp32"] + Fraction(m["act_fp32"], factor),
                                     "16Ψ + fp32 act/4"),
                            Accepted("from (b), no master copy", m["static_pure16"] + Fraction(m["act_mixed"], factor),
                                     "12Ψ + act/4"),
                            Accepted("static only", m["static_mixed"], "activations negligible next to 208 GB")),
                  notes=(f"Full per-block checkpointing saves more than 4× here: peftcalc's model gives "
                         f"{fmt(m['act_ckpt_model'], 'bytes')} of activations (block inputs + one recomputed block) "
                         f"vs {fmt(m['act_mixed'], 'bytes')} without — but the static 16Ψ dominates either way.",),
                  tolerance=_24_3_TOL)


@part(PARTS, "24.3d", "Explain why even option (c) typically requires multiple GPUs.", SRC, "conceptual")
def ex24_3d(params_count: int = 13 * 10**9, gpu_bytes: int = 80 * 10**9) -> Answer:
    static = params_only_memory(params_count, make_memory_config(precision="mixed", batch=0)).total_bytes
    gpus = math.ceil(Fraction(static, gpu_bytes))
    return Answer("", "", "conceptual", gpus, "GPUs", text=(
        f"Checkpointing reduces only activations; weights + gradients + master copy + Adam states are still "
        f"16 B/param = {fmt(static, 'bytes')}, more than the largest single GPU ({fmt(gpu_bytes, 'bytes')}, "
        f"A100/H100). At least {gpus} such GPUs are needed just to hold them, sharded with ZeRO-3/FSDP (or "
        "tensor/pipeline parallelism) — or switch to LoRA/QLoRA, which removes most of the 16Ψ."),
        rubric=(R("static memory (weights+grads+optimizer ≈ 208 GB) is untouched by checkpointing",
                  ("208", "optimizer", "16 b", "16 bytes", "weights", "static")),
                R("exceeds a single 80 GB GPU", ("80", "single gpu", "one gpu", "a100", "h100", "exceeds")),
                R("so states must be sharded across GPUs (ZeRO/FSDP/model parallel)",
                  ("zero", "fsdp", "shard", "model parallel", "tensor parallel", "pipeline", "deepspeed"))))


@part(PARTS, "24.4a", "W₀ ∈ ℝ^{4096×4096}, LoRA r=16, α=32: number of trainable parameters in the LoRA adaptation.", SRC)
def ex24_4a(d: int = 4096, k: int = 4096, r: int = 16) -> Answer:
    res = params("lora", d=d, k=k, r=r)
    return Answer("", "", "numeric", res.trainable_params, "params",
                  text=f"B is {d}×{r}, A is {r}×{k}: {r}·({d} + {k}) = {res.trainable_params:,}.",
                  formula=r"r\,(d + k)", substitution=f"{r}·({d} + {k}) = {res.trainable_params:,}",
                  accepted=(Accepted("A + B", res.trainable_params, "both factors"),),
                  mistakes=(Mistake("counted only one factor", r * d, "LoRA trains both A and B", Fraction(1, 2)),),
                  tolerance=Tolerance(Fraction(0)))


@part(PARTS, "24.4b", "What is the compression ratio compared to full fine-tuning of this matrix?", SRC)
def ex24_4b(d: int = 4096, k: int = 4096, r: int = 16) -> Answer:
    res = params("lora", d=d, k=k, r=r)
    ratio = res.reduction_factor
    assert ratio is not None
    return Answer("", "", "numeric", ratio, "ratio",
                  text=(f"{d * k:,} / {res.trainable_params:,} = {fmt(ratio, 'ratio')} (LoRA trains "
                        f"{fmt(pct(res.trainable_fraction), 'percent')} of the matrix)."),
                  formula=r"\frac{dk}{r(d + k)}", substitution=f"{d * k:,} / {res.trainable_params:,}",
                  accepted=(Accepted("ratio", ratio, "full / LoRA"),
                            Accepted("as the LoRA share", pct(res.trainable_fraction), "LoRA / full in percent",
                                     unit="percent")),
                  tolerance=Tolerance(Fraction(1, 100)))


@part(PARTS, "24.4c", "Compute the effective scaling factor α/r.", SRC)
def ex24_4c(alpha: int = 32, r: int = 16) -> Answer:
    scale = Fraction(alpha, r)
    return Answer("", "", "numeric", scale, "scalar", text=f"α/r = {alpha}/{r} = {fmt(scale, 'scalar')}.",
                  formula=r"\frac{\alpha}{r}", substitution=f"{alpha}/{r}",
                  accepted=(Accepted("α/r", scale, "LoRA's scaling"),),
                  mistakes=(Mistake("α (scaling omitted)", Fraction(alpha), "the update is scaled by α/r, "
                                    "not α", Fraction(0)),
                            *((Mistake("α/√r (rsLoRA)", Fraction(alpha, math.isqrt(r)), "that is rank-stabilized "
                                       "LoRA's scaling, not the standard α/r", Fraction(1, 2)),)
                              if math.isqrt(r) ** 2 == r and r > 1 else ())),
                  tolerance=Tolerance(Fraction(0)))


@part(PARTS, "24.4d", "32 layers, LoRA on Q, K, V, O (each 4096×4096): total trainable LoRA parameters, and the "
      "percentage of the full model (13B).", SRC, "group")
def ex24_4d(d: int = 4096, r: int = 16, layers: int = 32, matrices: int = 4,
            model_params: int = 13 * 10**9) -> Answer:
    res = params("lora", d=d, k=d, r=r, layers=layers, matrices=matrices)
    total = res.trainable_params
    share = pct(Fraction(total, model_params))
    seven = params("lora", model="llama-2-7b", r=r, targets=QKVO)
    thirteen = params("lora", model="llama-2-13b", r=r, targets=QKVO)
    items = (
        Answer("24.4d.params", "total trainable LoRA parameters", "numeric", total, "params",
               text=f"{layers} layers × {matrices} matrices × {r}·({d} + {d}) = {total:,}",
               formula=r"L \cdot n \cdot r\,(d + k)", substitution=f"{layers}·{matrices}·{r}·({d} + {d})",
               accepted=(Accepted("as asked", total, "32 × 4 × 131,072"),),
               mistakes=(Mistake("one matrix per layer", total // matrices, "Q, K, V and O: four per layer",
                                 Fraction(1, 4)),),
               tolerance=Tolerance(Fraction(0))),
        Answer("24.4d.percent", "percentage of the full model (13B)", "numeric", share, "percent",
               text=f"{total:,} / 13·10⁹ = {fmt(share, 'percent')}",
               substitution=f"{total:,} / {model_params:,} × 100 %",
               accepted=(Accepted("of 13B, as asked", share, "the question's 13B"),
                         Accepted("of a real 32-layer d=4096 model (Llama-2-7B)",
                                  pct(Fraction(total, seven.base_params)), "the 32×4096 shape is a 7B model")),
               mistakes=(Mistake("fraction instead of percent", Fraction(total, model_params),
                                 "right ratio, but not ×100", Fraction(3, 4), unit="scalar"),),
               tolerance=Tolerance(Fraction(1, 100))),
    )
    return Answer("", "", "group", None, text=(
        f"{total:,} trainable parameters, {fmt(share, 'percent')} of 13B."),
        items=items,
        notes=(f"The question is inconsistent: 32 layers with d=4096 is a ~7B model (Llama-2-7B has "
               f"{seven.base_params:,} parameters, so QKVO r={r} is {fmt(pct(seven.trainable_fraction), 'percent')}). "
               f"The real Llama-2-13B has 40 layers and d=5120: QKVO r={r} gives {thirteen.trainable_params:,} "
               f"({fmt(pct(thirteen.trainable_fraction), 'percent')} of {thirteen.base_params:,}) — "
               f"{thirteen.trainable_params - total:,} more than the figure asked for.",))


concept(PARTS, "24.5a", "Why is B initialized to zero and A random Gaussian? What if both were random?", SRC, text=(
        "B = 0 makes ΔW = BA = 0 at the start, so the adapted model is exactly the pre-trained one and training "
        "starts from its behaviour. A must be random so that the gradient of B (∝ (A x)·δᵀ) is non-zero and the "
        "two factors break symmetry. If both were random, ΔW would be a random matrix scaled by α/r: the "
        "model's outputs are perturbed at step 0 (noise injected into every adapted layer), the initial loss "
        "rises and training must first undo the damage — worse or unstable fine-tuning."),
        rubric=(R("B = 0 ⇒ ΔW = 0: starts exactly at the pre-trained model", ("bw = 0", "ba = 0", "delta w = 0",
                  "δw = 0", "zero update", "pre-trained", "pretrained", "unchanged", "identical")),
                R("A random so gradients flow / symmetry is broken", ("gradient", "symmetr", "non-zero",
                  "nonzero", "learn")),
                R("both random: random perturbation of the pre-trained weights, noise, worse start",
                  ("noise", "random perturbation", "perturb", "destroy", "disrupt", "damage", "higher loss",
                   "unstable"))))


concept(PARTS, "24.5b", "What would happen if both were initialized to zero?", SRC, text=(
        "Then ∂L/∂B = δ (A x)ᵀ = 0 because A = 0, and ∂L/∂A = Bᵀ δ xᵀ = 0 because B = 0: both gradients are "
        "zero, so neither factor ever changes — training is stuck at ΔW = 0 (a saddle point). The adapter "
        "learns nothing."),
        rubric=(R("both gradients are zero", ("gradient", "zero grad", "no gradient", "grad")),
                R("so the parameters never update / nothing is learned", ("never", "stuck", "no learning",
                  "not learn", "won't learn", "doesn't learn", "saddle", "no update"))))


@part(PARTS, "24.5c", "Prove that ΔW = BA = 0 at initialization with the standard scheme.", SRC, "proof")
def ex24_5c(d: int = 4096, k: int = 4096, r: int = 16) -> Answer:
    import sympy

    rs, ds, ks = sympy.symbols("r d k", positive=True, integer=True)
    B = sympy.ZeroMatrix(ds, rs)
    A = sympy.MatrixSymbol("A", rs, ks)
    product = (B * A).doit()
    assert product == sympy.ZeroMatrix(ds, ks)
    small = (sympy.zeros(2, 2) * sympy.Matrix(2, 3, sympy.symbols("a0:6"))).applyfunc(sympy.simplify)
    assert small == sympy.zeros(2, 3)
    return Answer("", "", "proof", None, text=(
        "With B = 0 ∈ ℝ^{d×r} and any A ∈ ℝ^{r×k}: (BA)_{ij} = Σ_{l=1}^{r} B_{il} A_{lj} = Σ_l 0·A_{lj} = 0 for "
        "every i, j, so ΔW = BA = 0_{d×k} whatever A is. Hence h = W₀x + (α/r)·BAx = W₀x: the adapted layer "
        "computes exactly the pre-trained function at step 0. (sympy: ZeroMatrix(d, r) · MatrixSymbol(A, r, k) "
        f"simplifies to {sympy.sstr(product)}.)"),
        formula=r"(BA)_{ij} = \sum_{l=1}^{r} B_{il} A_{lj} = \sum_{l=1}^{r} 0 \cdot A_{lj} = 0",
        rubric=(R("entry-wise: every entry of BA is a sum of products with a zero factor",
                  ("sum", "Σ", "entry", "element", "each", "every")),
                R("holds for any A (A's values do not matter)", ("any a", "regardless", "whatever", "for all a",
                                                                  "independent of a")),
                R("so h = W0 x: the layer equals the pre-trained one", ("w0x", "w_0 x", "w₀x", "h = w", "pre-trained",
                                                                      "pretrained", "unchanged"))))


concept(PARTS, "24.5d", "How does this initialization relate to \"starting from the pre-trained model\"?", SRC, text=(
        "Because ΔW = 0 at step 0, the LoRA model is functionally identical to the pre-trained model: fine-tuning "
        "starts from its outputs and loss, like full fine-tuning initialised at W₀, and moves away only as far "
        "as the gradients push B. Nothing the pre-training learned is disturbed at the start."),
        rubric=(R("at step 0 the model computes the same function as the pre-trained model",
                  ("identical", "same output", "same function", "unchanged", "exactly the pre-trained",
                   "equivalent")),
                R("training departs from W0 gradually / preserves pre-trained knowledge",
                  ("gradual", "preserv", "knowledge", "departs", "moves away", "small update"))))


@part(PARTS, "24.6a", "7B model: memory of the base model in NF4 (4.5 bits per parameter).", SRC)
def ex24_6a(params_count: int = 7 * 10**9, bits: Fraction = Fraction(9, 2), model: str = "llama-2-7b") -> Answer:
    nf4 = seed_nf4_bytes(params_count, bits=Fraction(bits))
    real = model_storage(load_preset(model), "nf4", double_quant=False)
    real_dq = model_storage(load_preset(model), "nf4", double_quant=True)
    return Answer("", "", "numeric", nf4, "bytes",
                  text=f"{fmt(params_count, 'params')} × {fmt(Fraction(bits), 'scalar')} bits / 8 = {fmt(nf4, 'bytes')}.",
                  formula=r"M = \Psi \cdot \frac{4.5}{8}\ \text{B}",
                  substitution=f"{params_count:,} × {bits} / 8",
                  assumptions=("4.5 bits = 4-bit NF4 codes + one fp32 absmax per 64-weight block (no double quant.)",),
                  accepted=(Accepted("4.5 bits/param as given", nf4, "the question's convention"),
                            Accepted("4 bits/param (codes only)", seed_nf4_bytes(params_count, bits=Fraction(4)),
                                     "ignoring the block constants, as seed 004 does")),
                  mistakes=(Mistake("bits not converted to bytes", params_count * Fraction(bits),
                                    "divide bits by 8 for bytes", Fraction(1, 4)),),
                  notes=(f"Exact for {model}: the embeddings, norms and LM head stay bf16 in bitsandbytes, so "
                         f"storage is {fmt(real.total_bytes, 'bytes')} without and {fmt(real_dq.total_bytes, 'bytes')} "
                         "with double quantization.",),
                  tolerance=Tolerance(Fraction(1, 100)))


def _qlora_lora_params(d: int, r: int, layers: int, matrices: int) -> int:
    return params("lora", d=d, k=d, r=r, layers=layers, matrices=matrices).trainable_params


@part(PARTS, "24.6b", "LoRA r=16 on Q, K, V, O across 32 layers, d=4096: LoRA parameter memory in fp16.", SRC)
def ex24_6b(d: int = 4096, r: int = 16, layers: int = 32, matrices: int = 4) -> Answer:
    n = _qlora_lora_params(d, r, layers, matrices)
    mem = n * 2
    return Answer("", "", "numeric", mem, "bytes",
                  text=f"{layers}·{matrices}·{r}·({d}+{d}) = {n:,} parameters × 2 B = {fmt(mem, 'bytes')}.",
                  formula=r"2\,\text{B} \cdot L \cdot n \cdot r(d + k)",
                  substitution=f"2 × {n:,}",
                  accepted=(Accepted("fp16", mem, "2 bytes per LoRA parameter"),),
                  mistakes=(Mistake("gave the parameter count", n, "the question asks for bytes: × 2 B (fp16)",
                                    Fraction(1, 2)),
                            Mistake("fp32 adapters", 4 * n, "the question says fp16 (2 B)", Fraction(1, 2))),
                  tolerance=Tolerance(Fraction(1, 100)))


@part(PARTS, "24.6c", "Optimizer state memory for the LoRA parameters (Adam with fp32 states).", SRC)
def ex24_6c(d: int = 4096, r: int = 16, layers: int = 32, matrices: int = 4) -> Answer:
    n = _qlora_lora_params(d, r, layers, matrices)
    mem = 8 * n
    return Answer("", "", "numeric", mem, "bytes",
                  text=f"Adam keeps m and v in fp32: 2 × 4 B × {n:,} = {fmt(mem, 'bytes')}.",
                  formula=r"8\,\text{B} \cdot N_\text{LoRA}", substitution=f"8 × {n:,}",
                  accepted=(Accepted("m + v in fp32", mem, "8 B per parameter"),
                            Accepted("with an fp32 master copy", 12 * n,
                                     "m, v and an fp32 copy of the fp16 LoRA weights (12 B/param)")),
                  mistakes=(Mistake("one state only", 4 * n, "Adam keeps two states (m and v)", Fraction(1, 2)),),
                  tolerance=Tolerance(Fraction(1, 100)))


@part(PARTS, "24.6d", "Sum up the total memory and verify it fits on a 24GB GPU.", SRC)
def ex24_6d(params_count: int = 7 * 10**9, d: int = 4096, r: int = 16, layers: int = 32, matrices: int = 4,
            gpu_bytes: int = 24 * 10**9) -> Answer:
    n = _qlora_lora_params(d, r, layers, matrices)
    base = seed_nf4_bytes(params_count, bits=Fraction(9, 2))
    total = base + 2 * n + 8 * n
    with_grads = total + 2 * n
    fits = total <= gpu_bytes
    return Answer("", "", "numeric", total, "bytes",
                  text=(f"{fmt(base, 'bytes')} (NF4 base) + {fmt(2 * n, 'bytes')} (LoRA fp16) + "
                        f"{fmt(8 * n, 'bytes')} (Adam) = {fmt(total, 'bytes')} — "
                        f"{'fits' if fits else 'does not fit'} in {fmt(gpu_bytes, 'bytes')}, leaving "
                        f"{fmt(gpu_bytes - total, 'bytes')} for activations, LoRA gradients "
                        f"({fmt(2 * n, 'bytes')}) and the CUDA context."),
                  formula=r"M = M_\text{NF4} + M_\text{LoRA} + M_\text{Adam}",
                  substitution=f"{int(base):,} + {2 * n:,} + {8 * n:,}",
                  assumptions=("activations and framework overhead excluded, as in (a)–(c)",),
                  accepted=(Accepted("(a) + (b) + (c)", total, "the three parts asked for",
                                     (("weights", base), ("adapters", 2 * n), ("optimizer", 8 * n))),
                            Accepted("plus LoRA gradients (fp16)", with_grads, "gradients of the trainable params")),
                  notes=(f"Verdict: {'fits' if fits else 'does not fit'} on a 24 GB GPU.",),
                  tolerance=Tolerance(Fraction(1, 100)))


_RANK_RUBRIC = (R("simple task → low rank (≈4–8)", ("r=4", "r = 4", "r=8", "r = 8", "rank 4", "rank 8", "low rank",
                                                    "small rank", "r=2", "r=1")),
                R("complex / large shift → high rank (≈32–128) or more modules", ("r=64", "r = 64", "r=32",
                  "r=128", "rank 64", "high rank", "higher rank", "large rank", "all-linear", "all linear")),
                R("justification by task complexity, data size and distribution shift",
                  ("complex", "shift", "data", "domain", "capacity", "overfit")))


@part(PARTS, "24.7a", "Recommend a LoRA rank for tasks A (sentiment), B (medical summarization), C (code in a new "
      "language), with justification.", SRC, "conceptual")
def ex24_7a() -> Answer:
    return Answer("", "", "conceptual", "A: r=4–8; B: r=16–32; C: r=64–128", text=(
        "A (binary sentiment): r = 4–8 — the base model already knows sentiment; the update is small and "
        "low-rank, and a low rank resists over-fitting. B (medical summarization): r = 16–32 — domain "
        "vocabulary and style on top of a skill the model has; moderate capacity. C (code in a new language): "
        "r = 64–128, on all linear layers (attention + MLP) — a large distribution shift needs much more "
        "capacity; consider full fine-tuning if data is plentiful."),
        rubric=_RANK_RUBRIC)


concept(PARTS, "24.7b", "For Task B, design an experiment to find the optimal rank.", SRC, text=(
        "Sweep r ∈ {4, 8, 16, 32, 64} (α = 2r, or rsLoRA), everything else fixed (targets, learning rate tuned "
        "once, steps, data, seeds); train each on the same split with ≥ 3 seeds; evaluate on a held-out set with "
        "a summarization metric (ROUGE/BERTScore) plus a small expert/LLM-judge review for factuality; plot "
        "score vs r with error bars and pick the smallest r within noise of the best; check cost (params, "
        "memory, time) and forgetting on a general benchmark."),
        rubric=(R("sweep several ranks with other hyperparameters fixed", ("sweep", "grid", "4, 8", "range of",
                                                                          "several ranks", "fixed")),
                R("held-out validation with a task metric", ("validation", "held-out", "held out", "rouge",
                                                            "bertscore", "metric", "test set")),
                R("repeat over seeds / report variance", ("seed", "variance", "error bar", "repeat")),
                R("choose the smallest rank near the best / account for cost", ("smallest", "diminishing",
                                                                             "cost", "knee", "plateau"))))


@part(PARTS, "24.7c", "Fixed budget of 10M trainable parameters: how would you allocate rank across layers for Task C?",
      SRC, "conceptual")
def ex24_7c(budget: int = 10_000_000, d: int = 4096, layers: int = 32, matrices: int = 4) -> Answer:
    per_rank = params("lora", d=d, k=d, r=1, layers=layers, matrices=matrices).trainable_params
    uniform = budget // per_rank
    return Answer("", "", "conceptual", uniform, "rank", text=(
        f"One unit of rank on Q, K, V, O of all {layers} layers costs {per_rank:,} parameters, so a uniform "
        f"allocation affords r = {uniform} ({uniform * per_rank:,}). Better: spend the budget where the shift "
        "is — include the MLP projections (code semantics live there), give more rank to the upper/middle "
        "layers and less to the lowest ones, or let AdaLoRA allocate rank adaptively by importance (SVD-based "
        "pruning) under the 10M budget; verify with an ablation."),
        rubric=(R("budget arithmetic: params per unit rank across layers/modules", ("per layer", "8192",
                  "8,192", "r(d+k)", "r·(d+k)", "r*(d+k)", "budget"), value_shows=True),
                R("non-uniform: more rank to the layers/modules that matter", ("more rank", "higher rank",
                  "upper layers", "later layers", "middle layers", "non-uniform", "nonuniform", "importance")),
                R("adaptive allocation (AdaLoRA) or ablation", ("adalora", "adaptive", "ablation", "svd",
                                                                "prune", "pruning"))))


@part(PARTS, "24.8a", "Adapter with bottleneck m=64, hidden d=4096: parameters per adapter module (including biases).",
      SRC)
def ex24_8a(d: int = 4096, m: int = 64) -> Answer:
    res = params("adapter", d=d, layers=1, variant="pfeiffer", bottleneck=m)
    n = res.trainable_params
    return Answer("", "", "numeric", n, "params",
                  text=(f"Down {d}×{m} + bias {m}, up {m}×{d} + bias {d}: 2·{d}·{m} + {m} + {d} = {n:,}."),
                  formula=r"2dm + m + d", substitution=f"2·{d}·{m} + {m} + {d} = {n:,}",
                  accepted=(Accepted("with biases", n, "W_down, b_down, W_up, b_up"),),
                  mistakes=(Mistake("without biases", 2 * d * m, "the question asks to include the bias terms "
                                    f"(+{m} + {d})", Fraction(1, 2)),
                            Mistake("one projection", d * m + m, "an adapter has a down and an up projection",
                                    Fraction(1, 4))),
                  tolerance=Tolerance(Fraction(0)))


@part(PARTS, "24.8b", "LoRA with rank r=16 on the same layer: number of parameters.", SRC)
def ex24_8b(d: int = 4096, r: int = 16) -> Answer:
    return ex24_4a(d=d, k=d, r=r)


concept(PARTS, "24.8c", "Why does LoRA have zero inference overhead after merging while adapters always add latency?",
      SRC, text=(
        "LoRA's update is linear and parallel to W on the same input: Wx + (α/r)BAx = (W + (α/r)BA)x, so it "
        "folds into one matrix of the original shape — the merged network is the original architecture. An "
        "adapter is a sequential bottleneck with a nonlinearity: x + W_up·f(W_down·x) cannot be written as one "
        "matrix, so its two extra matmuls (and a kernel launch each, on the critical path, poorly parallel at "
        "batch 1) run on every token."),
        rubric=(R("LoRA: linear, same input ⇒ W + BA merges into one matrix", ("linear", "merge", "w + ba",
                  "w+ba", "fold", "single matrix", "one matrix")),
                R("adapter: nonlinearity between projections cannot be merged", ("nonlinear", "non-linear",
                  "activation", "relu", "gelu")),
                R("adapters are sequential extra layers on the critical path", ("sequential", "extra layer",
                  "additional layer", "extra computation", "latency", "depth"))))


concept(PARTS, "24.8d", "In what scenario might adapters be preferred over LoRA?", SRC, text=(
        "When the model is served unmerged for many tasks anyway (multi-task/multi-tenant serving, where "
        "adapters stack and compose modularly, e.g. AdapterFusion), when the extra latency is irrelevant "
        "(offline/batch inference) and a nonlinear adapter fits the task better at the same budget, when "
        "tasks must be composed or continual learning adds modules without touching old ones, or in encoder "
        "models/frameworks with mature adapter hubs."),
        rubric=(R("many tasks / modular composition (AdapterFusion, stacking)", ("multi-task", "multitask",
                  "many tasks", "compos", "fusion", "stack", "modular")),
                R("latency not critical (offline, batch)", ("offline", "batch", "latency is not", "not latency",
                                                            "throughput")),
                R("nonlinear capacity / better fit at the same budget", ("nonlinear", "non-linear", "expressiv",
                                                                         "capacity"))))


@part(PARTS, "24.9a", "L=32, d=4096, prefix length p=20: trainable parameters of prefix tuning, of prompt tuning, "
      "and their ratio.", SRC, "group")
def ex24_9a(layers: int = 32, d: int = 4096, p: int = 20) -> Answer:
    prefix = params("prefix_tuning", d=d, layers=layers, tokens=p).trainable_params
    prompt = params("prompt_tuning", d=d, layers=layers, tokens=p).trainable_params
    ratio = Fraction(prefix, prompt)
    items = (
        Answer("24.9a.prefix", "prefix tuning parameters", "numeric", prefix, "params",
               text=f"A key and a value prefix per layer: 2·L·p·d = 2·{layers}·{p}·{d} = {prefix:,}",
               formula=r"2 L p d", substitution=f"2·{layers}·{p}·{d}",
               accepted=(Accepted("keys and values per layer", prefix, "peft: num_virtual_tokens × 2 × layers × d"),),
               mistakes=(Mistake("forgot K and V", prefix // 2, "prefixes are prepended to both keys and values "
                                 "(factor 2)", Fraction(1, 2)),
                         Mistake("one layer only", prefix // layers, "every layer gets its own prefix",
                                 Fraction(1, 4))),
               tolerance=Tolerance(Fraction(0))),
        Answer("24.9a.prompt", "prompt tuning parameters", "numeric", prompt, "params",
               text=f"One embedding per virtual token at the input only: p·d = {p}·{d} = {prompt:,}",
               formula=r"p d", substitution=f"{p}·{d}",
               accepted=(Accepted("input embeddings only", prompt, "p × d"),), tolerance=Tolerance(Fraction(0))),
        Answer("24.9a.ratio", "ratio prefix / prompt", "numeric", ratio, "ratio",
               text=f"{prefix:,} / {prompt:,} = {fmt(ratio, 'ratio')} = 2L",
               formula=r"\frac{2Lpd}{pd} = 2L", substitution=f"2·{layers}",
               accepted=(Accepted("prefix / prompt", ratio, "2L"),
                         Accepted("prompt / prefix", Fraction(1) / ratio, "the inverse ratio, 1/(2L)")),
               tolerance=Tolerance(Fraction(1, 100))),
    )
    return Answer("", "", "group", None,
                  text=f"Prefix {prefix:,}; prompt {prompt:,}; ratio {fmt(ratio, 'ratio')} (= 2L).",
                  items=items,
                  assumptions=("prefix tuning without the reparameterization MLP (the trained prefix itself)",),
                  notes=("With prefix_projection (an MLP from p×d embeddings to 2·L·d), training adds the MLP's "
                         "weights; after training only the 2Lpd prefix is kept.",))


concept(PARTS, "24.9b", "Explain why prefix tuning is more expressive than prompt tuning.", SRC, text=(
        "Prompt tuning only prepends vectors at the input embedding layer; their influence on deeper layers is "
        "whatever the frozen network computes from them. Prefix tuning inserts free key/value vectors directly "
        "into the attention of every layer, so it can steer each layer's attention independently (2L·p·d "
        "parameters vs p·d) — a strictly larger family of modifications, which matters most for smaller models."),
        rubric=(R("prefix acts at every layer vs prompt only at the input", ("every layer", "each layer",
                  "all layers", "input layer", "only at the input", "embedding layer")),
                R("prefix sets keys/values in attention directly", ("key", "value", "attention", "k/v", "kv")),
                R("more parameters / larger family of functions", ("more parameters", "2l", "expressiv",
                                                                  "larger", "capacity"))))


@part(PARTS, "24.9c", "At what model size does prompt tuning approach full fine-tuning performance? Why?",
      SRC, "conceptual")
def ex24_9c() -> Answer:
    return Answer("", "", "conceptual", "≈10B parameters", text=(
        "Around 10 billion parameters: Lester et al. (2021) found prompt tuning matches model tuning on "
        "SuperGLUE at T5-XXL (11B), while it lags far behind on small models. Large models already contain the "
        "needed skills and have richer representations, so a short learned input can select and steer them; "
        "small models need their weights changed."),
        rubric=(R("about 10B parameters (T5-XXL, 11B)", ("10b", "10 b", "11b", "11 b", "10 billion", "11 billion",
                                                          "xxl")),
                R("large models already contain the capabilities; the prompt only steers",
                  ("capabilit", "knowledge", "already", "steer", "condition", "richer", "representation")),
                R("Lester et al. 2021 scaling result", ("lester", "power of scale", "scale"))))


_24_10 = "customer-support instruction-tuning dataset: "


concept(PARTS, "24.10a", "Customer-support instruction dataset: list 10 distinct task types with 2 examples each.",
      SRC, text=(
        "E.g. (1) order status lookup, (2) returns and refunds, (3) billing disputes, (4) account/password "
        "help, (5) product troubleshooting, (6) product comparison/recommendation, (7) shipping/delivery "
        "changes, (8) complaint de-escalation, (9) policy FAQ, (10) escalation hand-off / summarising a "
        "ticket for a human agent — each with two concrete customer messages and ideal responses."),
        rubric=(R("ten distinct task types", ("refund", "return", "billing", "order", "password", "troubleshoot",
                                               "shipping", "complaint", "faq", "escalat")),
                R("two examples for each", ("example", "e.g.", "for example")),
                R("covers escalation/safety/out-of-scope handling", ("escalat", "human agent", "out of scope",
                                                                    "out-of-scope", "refus"))))


concept(PARTS, "24.10b", "For each task type, write one instruction in the Alpaca format.", SRC, text=(
        "Alpaca records have the fields instruction, input (optional context) and output, e.g. "
        '{"instruction": "Explain the refund policy for an item returned after 30 days.", "input": '
        '"Order #1234, delivered 2024-05-01, unopened.", "output": "…"} — one per task type.'),
        rubric=(R("uses the instruction / input / output fields", ("instruction", "input", "output")),
                R("one instruction per task type", ("each", "per task", "refund", "order"))))


concept(PARTS, "24.10c", "Describe a quality filtering pipeline with at least 5 filtering criteria.", SRC, text=(
        "(1) exact and near-duplicate removal (hashing / MinHash / embedding similarity); (2) length and format "
        "checks (empty, truncated, over-long responses); (3) PII scrubbing/removal; (4) toxicity and policy "
        "filters; (5) factual/policy correctness against the knowledge base; (6) language identification; "
        "(7) LLM-as-judge or reward-model quality scores with a threshold; (8) human spot checks of a sample."),
        rubric=(R("deduplication", ("dedup", "duplicate", "minhash")),
                R("length/format validity", ("length", "format", "truncat", "empty")),
                R("PII / privacy", ("pii", "personal", "privacy", "anonymi")),
                R("toxicity / safety", ("toxic", "safety", "harm", "profan")),
                R("quality score: LLM judge, reward model, human review", ("judge", "reward model", "human",
                                                                          "review", "score", "rating"))))


concept(PARTS, "24.10d", "How would you handle class imbalance across task types?", SRC, text=(
        "Measure the task-type distribution, then rebalance: up-sample rare types (or generate synthetic "
        "examples for them), down-sample or cap dominant types, or sample with temperature/weights per type; "
        "keep a per-type validation set and report per-type metrics so rare types are not hidden by the average."),
        rubric=(R("up-sample rare types / synthesize more", ("upsampl", "up-sampl", "oversampl", "over-sampl",
                                                              "synthetic", "augment", "generate")),
                R("down-sample / cap frequent types", ("downsampl", "down-sampl", "undersampl", "cap")),
                R("weighting / temperature sampling / per-type evaluation", ("weight", "temperature", "per-type",
                                                                            "per type", "stratif"))))

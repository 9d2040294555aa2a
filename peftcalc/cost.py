"""Prompting vs. fine-tuning cost, training compute and adapter storage — exact until rendered.

Money is kept as exact ``Fraction`` dollars: a price of $0.01 per 1K tokens is 1/100000 $ per token.
Break-even (Exercise 24.2): fine-tuning pays off once the per-query saving has paid its fixed cost;
queries are whole, so the break-even count is rounded up.
Training compute: C ≈ 6·N·D FLOPs (Kaplan et al. 2020; EleutherAI, Transformer Math 101).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from peftcalc.errors import InputError
from peftcalc.validation import to_input_error

# Tokens per English word (OpenAI's rule of thumb "100 tokens ≈ 75 words"), for word-count questions.
TOKENS_PER_WORD = Fraction(4, 3)


class CostConfig(BaseModel):
    """The numbers of a prompting-vs-fine-tuning question (Exercise 24.2's shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    system_tokens: int = Field(0, ge=0, le=10**9, description="system-prompt tokens per query")
    few_shot: int = Field(0, ge=0, le=10**6, description="few-shot examples per query")
    few_shot_tokens: int = Field(0, ge=0, le=10**9, description="tokens per few-shot example")
    query_tokens: int = Field(0, ge=0, le=10**9, description="user-query tokens")
    response_tokens: int = Field(0, ge=0, le=10**9, description="response tokens")
    input_price: float = Field(gt=0, le=1e6, description="$ per 1K input tokens")
    output_price: float = Field(gt=0, le=1e6, description="$ per 1K output tokens")
    finetune_cost: float = Field(0, ge=0, le=1e12, description="one-off fine-tuning cost in $")
    queries_per_day: int = Field(0, ge=0, le=10**15, description="queries per day (for days to break even)")


def make_cost_config(**options: object) -> CostConfig:
    try:
        return CostConfig(**options)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise to_input_error(exc, CostConfig) from None


def _price(x: float) -> Fraction:
    """A decimal price as typed ($0.01 stays exactly 1/100)."""
    return Fraction(repr(x)) if math.isfinite(x) else Fraction(0)


@dataclass(frozen=True)
class BreakEven:
    prompt_input_tokens: int
    finetuned_input_tokens: int
    prompted_cost: Fraction        # $ per query
    finetuned_cost: Fraction       # $ per query
    saving_per_query: Fraction
    break_even_queries: int | None  # None: fine-tuning never pays off
    break_even_days: Fraction | None

    def to_json(self) -> dict[str, object]:
        return {
            "prompt_input_tokens": self.prompt_input_tokens, "finetuned_input_tokens": self.finetuned_input_tokens,
            "prompted_cost_usd": float(self.prompted_cost), "finetuned_cost_usd": float(self.finetuned_cost),
            "saving_per_query_usd": float(self.saving_per_query), "break_even_queries": self.break_even_queries,
            "break_even_days": float(self.break_even_days) if self.break_even_days is not None else None,
            "exact": {"prompted_cost_usd": str(self.prompted_cost), "finetuned_cost_usd": str(self.finetuned_cost),
                      "break_even_days": str(self.break_even_days) if self.break_even_days is not None else None},
        }


def break_even(cfg: CostConfig) -> BreakEven:
    """Per-query cost with and without the prompt overhead, and when fine-tuning pays for itself.

    Examples (Exercise 24.2):
        >>> be = break_even(make_cost_config(system_tokens=500, few_shot=5, few_shot_tokens=200, query_tokens=50,
        ...                 response_tokens=100, input_price=0.01, output_price=0.03, finetune_cost=500,
        ...                 queries_per_day=10000))
        >>> be.prompted_cost, be.finetuned_cost, be.break_even_queries, be.break_even_days
        (Fraction(37, 2000), Fraction(7, 2000), 33334, Fraction(10, 3))
    """
    per_in, per_out = _price(cfg.input_price) / 1000, _price(cfg.output_price) / 1000
    prompt_in = cfg.system_tokens + cfg.few_shot * cfg.few_shot_tokens + cfg.query_tokens
    tuned_in = cfg.query_tokens
    out_cost = cfg.response_tokens * per_out
    prompted = prompt_in * per_in + out_cost
    tuned = tuned_in * per_in + out_cost
    saving = prompted - tuned
    if saving <= 0:
        return BreakEven(prompt_in, tuned_in, prompted, tuned, saving, None, None)
    fixed = _price(cfg.finetune_cost)
    queries = math.ceil(fixed / saving)
    days = fixed / saving / cfg.queries_per_day if cfg.queries_per_day else None
    return BreakEven(prompt_in, tuned_in, prompted, tuned, saving, queries, days)


def prompt_overhead_per_day(*, queries_per_day: int, overhead_words: int, input_price_per_1k: float,
                            tokens_per_word: Fraction = TOKENS_PER_WORD) -> tuple[Fraction, Fraction]:
    """(tokens/day, $/day) spent re-sending a fixed prompt overhead (Exercise 24.1(e))."""
    tokens = queries_per_day * overhead_words * tokens_per_word
    return tokens, tokens * _price(input_price_per_1k) / 1000


def training_flops(params: int, tokens: int) -> int:
    """C ≈ 6·N·D (forward 2ND + backward 4ND): :func:`training_compute` of full fine-tuning."""
    return training_compute(params, tokens).flops


@dataclass(frozen=True)
class TrainingCompute:
    """FLOPs of training on ``tokens`` tokens, split the way the step spends them."""

    params: int          # N: parameters in matrix multiplications (the embeddings do none)
    trainable: int       # parameters whose weight gradients are computed
    tokens: int
    forward: int         # 2·N·D (+ 2·N_t·D for adapters)
    input_gradients: int  # 2·N·D: the backward to the inputs runs through every layer, frozen or not
    weight_gradients: int  # 2·N_t·D: only trained weights get a gradient (full fine-tuning: N_t = N)
    recompute: int       # full activation checkpointing runs the forward again

    @property
    def flops(self) -> int:
        return self.forward + self.input_gradients + self.weight_gradients + self.recompute

    @property
    def flops_per_token(self) -> Fraction:
        return Fraction(self.flops, self.tokens)


def training_compute(params: int, tokens: int, *, trainable: int | None = None, adapter_params: int = 0,
                     recompute: bool = False) -> TrainingCompute:
    """Training FLOPs: 6·N·D for full fine-tuning, 8·N·D with full recomputation; PEFT computes no gradients
    of frozen weights, so ≈ 4·N·D (+ 6·N_t·D for its adapters), 6·N·D with recomputation.

    Examples:
        >>> training_compute(7 * 10**9, 10**9).flops == 6 * 7 * 10**18
        True
        >>> training_compute(7 * 10**9, 10**9, recompute=True).flops == 8 * 7 * 10**18
        True
        >>> training_compute(7 * 10**9, 10**9, trainable=0).flops == 4 * 7 * 10**18   # frozen: no weight grads
        True
    """
    if params <= 0 or tokens <= 0:
        raise InputError("--train-tokens" if tokens <= 0 else "--train-params", tokens if tokens <= 0 else params,
                         "positive")
    t = params if trainable is None else trainable
    matmul = params + adapter_params
    fwd = 2 * matmul * tokens
    return TrainingCompute(matmul, t, tokens, fwd, 2 * matmul * tokens, 2 * t * tokens, fwd if recompute else 0)


def gpu_hours(flops: int, *, peak_flops: float, utilization: float) -> Fraction:
    """Hours on one GPU delivering ``utilization`` × ``peak_flops`` FLOP/s."""
    if not 0 < utilization <= 1:
        raise InputError("--mfu", utilization, "a fraction in (0, 1]")
    if not (math.isfinite(peak_flops) and peak_flops > 0):
        raise InputError("--peak-flops", peak_flops, "a positive number of FLOP/s")
    return Fraction(flops) / (_price(peak_flops) * _price(utilization)) / 3600


def adapter_storage(*, tasks: int, adapter_bytes: int, full_bytes: int) -> tuple[int, int]:
    """(bytes for N adapters + one shared base, bytes for N full checkpoints)."""
    return full_bytes + tasks * adapter_bytes, tasks * full_bytes

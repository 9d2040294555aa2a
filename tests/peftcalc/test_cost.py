"""Cost models: Exercise 24.2 by hand, overhead, compute."""

from __future__ import annotations

from fractions import Fraction

import pytest

from peftcalc import InputError
from peftcalc.cost import break_even, gpu_hours, make_cost_config, prompt_overhead_per_day, training_flops

EX_24_2 = {"system_tokens": 500, "few_shot": 5, "few_shot_tokens": 200, "query_tokens": 50, "response_tokens": 100,
           "input_price": 0.01, "output_price": 0.03, "finetune_cost": 500, "queries_per_day": 10_000}


def test_exercise_24_2():
    be = break_even(make_cost_config(**EX_24_2))
    # (a) input 500 + 5·200 + 50 = 1550 tokens × $0.01/1K = $0.0155; output 100 × $0.03/1K = $0.003 → $0.0185
    assert be.prompt_input_tokens == 1550
    assert be.prompted_cost == Fraction(185, 10_000)
    # (b) 50 × $0.01/1K + $0.003 = $0.0035
    assert be.finetuned_cost == Fraction(35, 10_000)
    # (c) $500 / $0.015 = 33,333.3… → 33,334 whole queries; (d) 33,333.3 / 10,000 = 3.33 days
    assert be.break_even_queries == 33_334
    assert be.break_even_days == Fraction(10, 3)


def test_never_pays_off():
    be = break_even(make_cost_config(**{**EX_24_2, "system_tokens": 0, "few_shot": 0}))
    assert be.break_even_queries is None and be.saving_per_query == 0


def test_prompt_overhead_24_1e():
    tokens, dollars = prompt_overhead_per_day(queries_per_day=1_000_000, overhead_words=10, input_price_per_1k=0.01)
    assert tokens == Fraction(40_000_000, 3)           # 10 words × 4/3 tokens/word × 1M
    assert dollars == Fraction(400, 3)                 # $133.33/day at $0.01/1K


def test_compute():
    assert training_flops(7 * 10**9, 10**9) == 42 * 10**18
    assert gpu_hours(42 * 10**18, peak_flops=1e15, utilization=0.5) == Fraction(42 * 10**18, 5 * 10**14 * 3600)


@pytest.mark.parametrize(("bad", "message"), [
    ({"input_price": float("nan")}, "`--input-price` must be a finite number"),
    ({"input_price": -1.0}, "`--input-price` must be a number"),
    ({"queries_per_day": -5}, "`--queries-per-day` must be an integer in [0, 1,000,000,000,000,000], got -5"),
])
def test_bad_prices(bad, message):
    with pytest.raises(InputError) as info:
        make_cost_config(**{**EX_24_2, **bad})
    assert message in str(info.value)


def test_storage_of_n_adapters(capsys):
    import json

    from peftcalc.cli import main

    assert main(["cost", "--tasks", "10", "--model", "llama-2-7b", "--r", "8", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)["storage"]
    # LoRA r=8 q,v: 4,194,304 params × 2 B; the base in bf16: 6,738,415,616 × 2 B
    assert st["adapter_bytes"] == 4_194_304 * 2
    assert st["base_plus_adapters_bytes"] == 6_738_415_616 * 2 + 10 * 4_194_304 * 2
    assert st["full_checkpoints_bytes"] == 10 * 6_738_415_616 * 2

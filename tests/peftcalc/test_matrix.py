"""The seeds' matrix-level calculator and seed 003's comparison convention."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from peftcalc import InputError, params, seed_compare
from peftcalc.cli import main

# Seed 003 ("Section 9.6: Implementation"), demo output "4. PEFT Method Comparison (7B model scale)":
SEED003_PRINTED = {
    "full": (2_147_483_648, "100.0000%"),
    "lora": (4_194_304, "0.1953%"),
    "adapters": (33_554_432, "1.5625%"),
    "prefix": (2_621_440, "0.1221%"),
    "prompt": (81_920, "0.0038%"),
}


def test_seed003_demo_table():
    table = seed_compare()
    for name, (count, printed_ratio) in SEED003_PRINTED.items():
        assert table[name][0] == count
        assert f"{float(table[name][1]) * 100:.4f}%" == printed_ratio


def test_seed003_matches_peftcalc_methods_where_conventions_coincide():
    # LoRA r=8 on 2 of the 32 layers' matrices: 32·2·8·(4096 + 4096)
    assert params("lora", d=4096, layers=32, matrices=2, r=8).trainable_params == seed_compare()["lora"][0]
    # Prefix: 32 layers · 2 (K, V) · 10 tokens · 32 heads · 128 = peft's V·L·2·t with t = 4096
    assert params("prefix_tuning", d=4096, layers=32, heads=32, tokens=10).trainable_params == seed_compare()["prefix"][0]
    assert params("prompt_tuning", d=4096, layers=32, tokens=20).trainable_params == seed_compare()["prompt"][0]
    # The seed's adapters have no biases: 2 per layer · 2·d·m
    assert params("adapter", d=4096, layers=32, bottleneck=64, adapter_bias=False).trainable_params == \
        seed_compare()["adapters"][0]


def test_seed003_lora_demo_block():
    # "Original weight shape: (256, 256) ... LoRA parameters: 4,096 Full parameters: 65,536 Compression: 6.25%"
    res = params("lora", d=256, r=8)
    assert (res.trainable_params, res.base_params) == (4096, 65536)
    assert res.trainable_fraction == Fraction(625, 10000)


def test_cli_seed_convention(capsys):
    assert main(["compare", "--convention", "seed003", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["methods"]["adapters"] == {"params": 33_554_432, "ratio": 0.015625}
    assert "attention weights only" in data["note"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"d": 4096, "heads": 3}, "`--heads` must be a divisor of d = 4096, got 3"),
    ({"d": 4096, "layers": 0}, "`--layers` must be an integer in [1, 100,000], got 0"),
    ({"d": 10**30}, "`--d` must be an integer in [1, 10,000,000]"),
])
def test_matrix_bounds(kwargs, message):
    with pytest.raises(InputError) as info:
        params("lora", r=1, **kwargs)
    assert message in str(info.value)

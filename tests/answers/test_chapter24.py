"""Chapter 24 keys pinned to hand calculations (arithmetic written out in each test)."""

import math
from fractions import Fraction

import pytest

from answers import answer

GB, MB = 10**9, 10**6


def test_24_1e_overhead():
    # 1e6 queries × 10 words × 4/3 tokens/word = 13,333,333⅓ tokens/day; × $0.01/1000 = $133.33/day
    assert "$133.333/day" in answer("24.1e").text


def test_24_2_break_even():
    # (a) input 500 + 5×200 + 50 = 1550 tokens × $0.01/1K = $0.0155; output 100 × $0.03/1K = $0.003 → $0.0185
    assert answer("24.2a").value == Fraction(155, 10000) + Fraction(3, 1000) == Fraction(185, 10000)
    # (b) 50 × 0.01/1000 + 100 × 0.03/1000 = 0.0005 + 0.003 = $0.0035
    assert answer("24.2b").value == Fraction(35, 10000)
    # (c) saving 0.0185 − 0.0035 = 0.015/query; 500 / 0.015 = 33,333.33 → 33,334 queries (rounded up)
    c = answer("24.2c")
    assert c.value == 33_334
    assert Fraction(100000, 3) in [a.value for a in c.accepted]
    # (d) 33,333.33 / 10,000 per day = 3.333 days = 10/3
    assert answer("24.2d").value == Fraction(10, 3)
    assert 4 in [a.value for a in answer("24.2d").accepted]


def test_24_3_static_parts():
    # (a) fp32: 4 (weights) + 4 (grads) + 8 (Adam) = 16 B × 13e9 = 208 GB, plus activations
    a = answer("24.3a")
    assert 208 * GB in [x.value for x in a.accepted]
    assert a.value > 208 * GB
    # (b) mixed: 2 + 2 + 4 (master) + 8 = 16 B → also 208 GB; without master copy 12 B → 156 GB
    b = answer("24.3b")
    assert {208 * GB, 156 * GB} <= {x.value for x in b.accepted}
    # mixed precision halves the block activations (Korthikanti's Megatron layers, the key's convention); the
    # loss's fp32 log-probs and gradients at the peak (12·s·b·V bytes) are the same in both:
    # 2·((b) − 208 GB − 12sbV) = (a) − 208 GB − 12sbV, s=2048, b=1, V=32,000
    head = 12 * 2048 * 1 * 32_000
    assert 2 * (b.value - 208 * GB - head) == a.value - 208 * GB - head
    # (c) activations / 4: 208 GB + (b's activations) / 4
    assert answer("24.3c").value == 208 * GB + Fraction(b.value - 208 * GB, 4)
    # (d) 208 GB / 80 GB = 2.6 → 3 GPUs at least
    assert answer("24.3d").value == 3


def test_24_4_lora_maths():
    # (a) 16 × (4096 + 4096) = 131,072; (b) 4096² / 131,072 = 16,777,216 / 131,072 = 128
    assert answer("24.4a").value == 131_072
    assert answer("24.4b").value == 128
    # (c) 32 / 16 = 2
    assert answer("24.4c").value == 2
    # (d) 32 layers × 4 matrices × 131,072 = 16,777,216; / 13e9 = 0.12905551 %
    d = answer("24.4d")
    params, percent = d.items
    assert params.value == 32 * 4 * 131_072 == 16_777_216
    assert percent.value == Fraction(16_777_216 * 100, 13 * 10**9)
    # the note gives the real Llama-2-13B: 40 layers × 4 × 16 × (5120 + 5120) = 26,214,400
    assert "26,214,400" in d.notes[0]


def test_24_5c_proof_mentions_the_zero_product():
    ans = answer("24.5c")
    assert ans.kind == "proof" and "ZeroMatrix" not in ans.formula and "sum" in ans.formula


def test_24_6_qlora_memory():
    # (a) 7e9 × 4.5 bits / 8 = 3.9375e9 B
    assert answer("24.6a").value == 7 * 10**9 * 9 // 16 == 3_937_500_000
    # (b) 32 layers × 4 × 16 × 8192 = 16,777,216 params × 2 B = 33,554,432 B
    assert answer("24.6b").value == 33_554_432
    # (c) 8 B × 16,777,216 = 134,217,728 B
    assert answer("24.6c").value == 134_217_728
    # (d) 3,937,500,000 + 33,554,432 + 134,217,728 = 4,105,272,160 B < 24e9 → fits
    d = answer("24.6d")
    assert d.value == 4_105_272_160 and "fits" in d.text


def test_24_7c_uniform_rank_under_budget():
    # one unit of rank on Q,K,V,O of 32 layers: 32 × 4 × (4096 + 4096) = 1,048,576; 10M // that = 9
    assert answer("24.7c").value == 9


def test_24_8_adapter_vs_lora():
    # (a) 4096×64 + 64 + 64×4096 + 4096 = 262,144 + 64 + 262,144 + 4096 = 528,448
    a = answer("24.8a")
    assert a.value == 528_448
    assert 524_288 in [m.value for m in a.mistakes]  # forgot the biases
    # (b) 16 × (4096 + 4096) = 131,072
    assert answer("24.8b").value == 131_072


def test_24_9a_prefix_vs_prompt():
    # prefix: 2 (K and V) × 32 layers × 20 tokens × 4096 = 5,242,880; prompt: 20 × 4096 = 81,920; ratio 64 = 2L
    prefix, prompt, ratio = answer("24.9a").items
    assert (prefix.value, prompt.value, ratio.value) == (5_242_880, 81_920, 64)
    # variant: L = 12, d = 768, p = 10 → 2×12×10×768 = 184,320 and 7,680: ratio 24
    items = answer("24.9a", layers=12, d=768, p=10).items
    assert [i.value for i in items] == [184_320, 7_680, 24]


@pytest.mark.parametrize("pid", ["24.1a", "24.1b", "24.1c", "24.1d", "24.1e"])
def test_24_1_scenarios_are_choices_with_rubrics(pid):
    ans = answer(pid)
    assert ans.value in {"prompting", "fine-tuning", "hybrid"} and ans.rubric
    assert math.isfinite(len(ans.text))

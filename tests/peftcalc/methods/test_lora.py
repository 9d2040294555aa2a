"""LoRA and DoRA: hand-worked counts, bias options, modules_to_save, rank bounds."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from peftcalc import InputError, lora, params
from peftcalc.symbols import d, k, r


def test_seed_9_2_one_square_matrix():
    # Exercise 9.2: r = 8 on 4096×4096 → r(d + k) = 8·(4096 + 4096) = 65,536; 65,536 / 4096² = 1/256.
    res = lora(d=4096, r=8)
    assert res.trainable_params == 65_536
    assert res.base_params == 16_777_216
    assert res.trainable_fraction == Fraction(1, 256)
    assert res.reduction_factor == 256
    assert res.formula == r * (d + k)
    assert res.rows[0].substitution == "8*(4096 + 4096)"


def test_rectangular_matrix_and_layers():
    # 16·(4096 + 11008) = 241,664 per matrix; × 32 layers × 3 matrices
    res = lora(d=4096, k=11008, r=16, layers=32, matrices=3)
    assert res.trainable_params == 16 * (4096 + 11008) * 96
    assert res.base_params == 4096 * 11008 * 96


def test_llama2_all_linear_by_hand():
    # r = 64 on q,k,v,o (4096→4096) and gate,up (4096→11008), down (11008→4096), 32 layers
    per_layer = 4 * 64 * (4096 + 4096) + 3 * 64 * (4096 + 11008)
    res = params("lora", model="llama-2-7b", r=64, targets=["all-linear"])
    assert res.trainable_params == 32 * per_layer == 159_907_840
    assert "lm_head" not in " ".join(res.breakdown)


def test_lora_bias_adds_out_features():
    res = lora(d=100, k=50, r=4, lora_bias=True)
    assert res.trainable_params == 4 * 150 + 100
    assert res.formula == r * (d + k) + d


def test_dora_adds_magnitude_per_row():
    assert params("dora", d=100, k=50, r=4).trainable_params == 4 * 150 + 100


def test_bias_all_counts_every_bias_but_adds_nothing():
    res = params("lora", model="gpt2", r=8, targets=["c_attn"], bias="all")
    assert res.trainable_params == 8 * (768 + 2304) * 12 + 102_144  # golden gpt2 biases
    assert res.total_params == res.base_params + 8 * (768 + 2304) * 12


def test_modules_to_save_adds_a_trainable_copy():
    res = params("lora", model="llama-2-7b", r=8, targets=["q_proj", "v_proj"], modules_to_save=["lm_head"])
    assert res.trainable_params == 4_194_304 + 32000 * 4096
    assert res.total_params == res.base_params + res.trainable_params


def test_embedding_target():
    # nn.Embedding(32000, 4096): lora_embedding_A (r × 32000), B (4096 × r)
    res = params("lora", model="llama-2-7b", r=8, targets=["embed_tokens"])
    assert res.trainable_params == 8 * (32000 + 4096)


def test_default_targets_per_model_type():
    assert params("lora", model="t5-base").trainable_params == 8 * (768 + 768) * 72  # q, v incl. cross-attention
    assert params("lora", model="gpt2").trainable_params == 8 * (768 + 2304) * 12


@pytest.mark.parametrize("rank", [4097, 10_000])
def test_rank_above_min_dim_is_refused(rank):
    with pytest.raises(InputError, match=r"`--r` must be a positive integer ≤ min\(d, k\) = 4096"):
        lora(d=4096, r=rank)


def test_rank_bound_uses_smallest_targeted_matrix():
    # bare matrices: an input error; a real model: peft builds it (deberta's 2-way qa_outputs under all-linear),
    # so it is counted, with a note naming the smallest targeted matrix
    with pytest.raises(InputError, match=r"≤ min\(d, k\) = 1024"):
        params("lora", d=4096, k=1024, r=2048)
    res = params("lora", model="llama-3-8b", r=2048, targets=["k_proj"])
    assert res.trainable_params == 32 * 2048 * (4096 + 1024)
    assert any("exceeds min(in, out)" in n and "self_attn.k_proj (4096→1024)" in n for n in res.notes)


@pytest.mark.parametrize(("options", "message"), [
    ({"r": 0}, "`--r` must be an integer in [1, 1,000,000]"),
    ({"r": -3}, "`--r` must be an integer in [1, 1,000,000]"),
    ({"r": 10**30}, "`--r` must be an integer in [1, 1,000,000], got 1000000000000000000000000000000"),
    ({"alpha": float("nan")}, "`--alpha` must be a finite number"),
    ({"bias": "some"}, "`--bias` must be one of 'none', 'all' or 'lora_only', got some"),
    ({"targets": ["qq_proj"]}, "`--targets` must be module names in llama-2-7b (none matched): down_proj, embed_tokens, gate_proj, k_proj, lm_head, o_proj, q_proj, up_proj, v_proj, got qq_proj"),
])
def test_bad_options(options, message):
    with pytest.raises(InputError) as info:
        params("lora", model="llama-2-7b", **options)
    assert message in str(info.value)


def test_targeting_a_norm_is_refused():
    with pytest.raises(InputError, match="input_layernorm is a norm module"):
        params("lora", model="llama-2-7b", targets=["input_layernorm"])


def test_formula_is_sympy_and_latex():
    res = lora(d=4096, r=8)
    assert isinstance(res.formula, sympy.Expr)
    assert sympy.latex(res.formula) == r"r \left(d + k\right)"


def test_modules_to_save_must_match():
    with pytest.raises(InputError, match="`--modules-to-save` must be a module name in llama-2-7b: .*lm_head.*, got nothere"):
        params("lora", model="llama-2-7b", modules_to_save=["nothere"])

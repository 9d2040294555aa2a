"""Hand-worked counts for every non-LoRA method (independent arithmetic in each test)."""

from __future__ import annotations

import pytest

from peftcalc import InputError, params
from peftcalc.methods.lokr import factorization


@pytest.mark.parametrize(("dim", "factor", "expected"), [
    # peft's own docstring examples (tuners/lokr/layer.py) and the shapes behind the golden rows
    (256, -1, (16, 16)), (128, -1, (8, 16)), (127, -1, (1, 127)), (128, 4, (4, 32)),
    (4096, -1, (64, 64)), (768, -1, (24, 32)), (1024, -1, (32, 32)), (11008, -1, (86, 128)),
])
def test_lokr_factorization(dim, factor, expected):
    assert factorization(dim, factor) == expected
    assert expected[0] * expected[1] == dim


def test_lokr_square_4096():
    # W1 64×64 = 4096 (full); W2 64×64 with r = 8 < 64/2 → low rank 8·(64 + 64) = 1024
    assert params("lokr", d=4096, r=8).trainable_params == 4096 + 1024


def test_lokr_full_w2_when_rank_is_large():
    # 256 = 16·16: r = 8 is not < 16/2, so W2 is a full 16×16
    assert params("lokr", d=256, r=8).trainable_params == 16 * 16 + 16 * 16


def test_lokr_refuses_gpt2_conv1d():
    with pytest.raises(InputError, match="c_attn is a conv1d module"):
        params("lokr", model="gpt2")


def test_loha_twice_lora():
    assert params("loha", d=4096, r=8).trainable_params == 2 * 8 * (4096 + 4096)


def test_vera_vectors_and_saved_projections():
    res = params("vera", model="llama-2-7b", r=256, targets=["q_proj", "v_proj"])
    assert res.trainable_params == 64 * (256 + 4096)
    # shared A (256 × 4096) and B (4096 × 256) are buffers: saved by default, never trainable
    assert res.saved_params == res.trainable_params + 2 * 256 * 4096
    no_proj = params("vera", model="llama-2-7b", r=256, targets=["q_proj", "v_proj"], save_projection=False)
    assert no_proj.saved_params == no_proj.trainable_params


def test_adalora_init_rank_and_ranknum():
    res = params("adalora", model="llama-2-7b")  # defaults: q_proj, v_proj; init_r 12, target_r 8
    assert res.trainable_params == 64 * (12 * (4096 + 4096) + 12)
    assert res.total_params - res.base_params == res.trainable_params + 64  # frozen ranknum per module
    assert res.saved_params == 64 * 8 * (4096 + 4096 + 1)


def test_adalora_needs_targets_for_mistral():
    with pytest.raises(InputError, match="AdaLoRA has no default targets for model_type 'mistral'"):
        params("adalora", model="mistral-7b")


def test_adalora_target_rank_cannot_exceed_init():
    with pytest.raises(InputError, match="`--r` must be ≤ --init-r = 12"):
        params("adalora", model="llama-2-7b", r=16)


def test_ia3_feedforward_scales_input():
    # llama-2-7b: k, v scale outputs (4096 each), down_proj scales its input (11008); 32 layers
    assert params("ia3", model="llama-2-7b").trainable_params == 32 * (4096 + 4096 + 11008)


def test_ia3_feedforward_must_be_targeted():
    with pytest.raises(InputError, match="`--feedforward` must be one of the targets"):
        params("ia3", model="llama-2-7b", targets=["k_proj"], feedforward=["down_proj"])


def test_prefix_gqa_and_projection():
    # llama-3-8b: t = 128 · 8 = 1024; V·L·2·t = 20·32·2·1024
    assert params("prefix_tuning", model="llama-3-8b").trainable_params == 20 * 32 * 2 * 1024
    proj = params("prefix_tuning", model="gpt2", projection=True)
    t, L, V = 768, 12, 20
    assert proj.trainable_params == V * t + t * t + t + t * 2 * L * t + 2 * L * t
    assert proj.saved_params == V * 2 * L * t


def test_prompt_tuning_seq2seq_doubles_tokens():
    assert params("prompt_tuning", model="t5-base", tokens=20).trainable_params == 2 * 20 * 768
    assert params("prompt_tuning", model="gpt2", tokens=20).trainable_params == 20 * 768


def test_p_tuning_lstm_by_hand():
    d = h = 64
    lstm = 2 * (4 * h * (d + h) + 8 * h) + 2 * (4 * h * (2 * h + h) + 8 * h)
    head = (2 * h * 2 * h + 2 * h) + (2 * h * d + d)
    res = params("p_tuning", d=64, encoder="lstm", tokens=10)
    assert res.trainable_params == 10 * d + lstm + head
    assert res.saved_params == 10 * d


def test_ln_tuning_gpt2():
    # ln_1, ln_2 per layer and ln_f, each weight + bias of 768
    assert params("ln_tuning", model="gpt2").trainable_params == (12 * 2 + 1) * 2 * 768


def test_bitfit_counts_true_biases():
    assert params("bitfit", model="roberta-base").trainable_params == 102_912
    res = params("bitfit", model="llama-2-7b")
    assert res.trainable_params == 0 and "no bias vectors" in res.notes[0]


def test_adapters_houlsby_and_pfeiffer():
    # Houlsby 2019: 2md + d + m per adapter, two per layer
    assert params("adapter", model="roberta-base", bottleneck=64).trainable_params == 12 * 2 * (2 * 64 * 768 + 64 + 768)
    assert params("adapter", model="roberta-base", bottleneck=64, variant="pfeiffer",
                  adapter_bias=False).trainable_params == 12 * 2 * 64 * 768
    # encoder-decoder: both stacks' blocks
    assert params("adapter", model="t5-base", bottleneck=32).trainable_params == 24 * 2 * (2 * 32 * 768 + 32 + 768)


def test_adapter_bottleneck_bound():
    with pytest.raises(InputError, match="`--bottleneck` must be a positive integer ≤ d = 768"):
        params("adapter", model="gpt2", bottleneck=1000)


def test_full_is_the_whole_model():
    res = params("full", model="gpt2")
    assert res.trainable_params == res.base_params == res.total_params == 124_439_808


def test_full_on_a_classifier_has_no_head_copy():
    # peft copies a sequence classifier's head for its tuners (modules_to_save); full fine-tuning has no copy
    from peftcalc.arch.hf_config import arch_from_config

    arch = arch_from_config({"model_type": "llama", "architectures": ["LlamaForSequenceClassification"],
                             "num_labels": 5, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                             "num_key_value_heads": 4, "intermediate_size": 128, "vocab_size": 8})
    res = params("full", arch=arch)
    assert res.trainable_params == res.base_params == res.total_params == arch.total_params == 83_072
    assert params("lora", arch=arch, r=4).trainable_params == 2 * 2 * 4 * (64 + 64) + 5 * 64  # + the head copy


def test_matrix_mode_refuses_whole_model_methods():
    with pytest.raises(InputError, match="a real model"):
        params("ln_tuning", d=4096)

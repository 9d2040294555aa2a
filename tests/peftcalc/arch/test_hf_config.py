"""Architectures from config.json: exact totals, module shapes, and clear errors."""

from __future__ import annotations

import json

import pytest

from peftcalc import InputError, PeftcalcError, arch_from_config, list_presets, load_config_file, load_preset
from peftcalc.arch.presets import preset_config

# Published parameter counts (Hugging Face model cards / safetensors metadata "total" of each hub ID
# named in the preset's _name_or_path; GPT-2 sizes also in Radford et al. 2019 as 117M/345M/762M/1542M,
# which counted differently — the exact figures are the transformers ones).
PUBLISHED_TOTALS = {
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "mistral-7b": 7_241_732_096,
    "qwen2-7b": 7_615_616_512,
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "roberta-base": 124_645_632,
    "roberta-large": 355_359_744,
    "bert-base-uncased": 109_482_240,
    "t5-base": 222_903_552,
}


def test_issue_presets_exist():
    required = {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "mistral-7b", "qwen2-7b", "gpt2",
                "gpt2-medium", "gpt2-large", "gpt2-xl", "roberta-base", "roberta-large", "t5-base"}
    assert required <= set(list_presets())


@pytest.mark.parametrize("name", sorted(PUBLISHED_TOTALS))
def test_preset_totals(name):
    assert load_preset(name).total_params == PUBLISHED_TOTALS[name]


def test_llama_hand_count():
    # Llama-2-7B by hand: embed 32000·4096, per layer 4·4096² (attention) + 3·4096·11008 (SwiGLU)
    # + 2·4096 (RMSNorm), final norm 4096, untied head 32000·4096.
    per_layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096
    assert load_preset("llama-2-7b").total_params == 2 * 32000 * 4096 + 32 * per_layer + 4096


def test_gqa_shapes():
    arch = load_preset("llama-3-8b")
    k = arch.module("model.layers.0.self_attn.k_proj")
    assert (k.in_features, k.out_features) == (4096, 1024)  # 8 kv heads × 128
    assert arch.kv_dim == 1024


def test_qwen2_has_qkv_bias_only():
    arch = load_preset("qwen2-7b")
    assert arch.module("model.layers.0.self_attn.q_proj").bias_numel == 3584
    assert arch.module("model.layers.0.self_attn.k_proj").bias_numel == 512
    assert arch.module("model.layers.0.self_attn.o_proj").bias_numel == 0
    assert arch.bias_params == 28 * (3584 + 512 + 512)


def test_gpt2_fused_c_attn_is_conv1d_and_head_is_tied():
    arch = load_preset("gpt2")
    c_attn = arch.module("transformer.h.0.attn.c_attn")
    assert (c_attn.kind, c_attn.in_features, c_attn.out_features) == ("conv1d", 768, 2304)
    assert arch.module("lm_head").tied_to == "transformer.wte"


def test_untied_llama_config_counts_head_once_more():
    cfg = dict(preset_config("llama-2-7b"), tie_word_embeddings=True)
    assert arch_from_config(cfg).total_params == PUBLISHED_TOTALS["llama-2-7b"] - 32000 * 4096


def test_t5_gated_variant():
    # flan-t5 style: gated-gelu has wi_0 and wi_1 instead of wi: one more d_model×d_ff per block.
    cfg = dict(preset_config("t5-base"), feed_forward_proj="gated-gelu", is_gated_act=True)
    gated = arch_from_config(cfg)
    assert gated.total_params - PUBLISHED_TOTALS["t5-base"] == 24 * 768 * 3072
    assert any(m.name.endswith("wi_1") for m in gated.modules)


def test_t5_cross_attention_and_relative_bias():
    arch = load_preset("t5-base")
    assert sum(1 for m in arch.modules if m.name.endswith("EncDecAttention.q")) == 12
    assert [m.name for m in arch.modules if "relative_attention_bias" in m.name] == [
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias",
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias",
    ]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"model_type": "no-such-model"}, "or --via transformers"),
        ({"hidden_size": 8}, "`config.json: model_type` must be one of"),
        ({"model_type": "llama", "hidden_size": 4096}, "`config.json: num_attention_heads` must be present"),
        ({"model_type": "gpt2", "n_embd": -1, "n_layer": 1, "n_head": 1, "vocab_size": 5, "n_positions": 4},
         "`config.json: n_embd` must be an integer in [1, 10,000,000], got -1"),
        ({"model_type": "gpt2", "n_embd": "768", "n_layer": 1, "n_head": 1, "vocab_size": 5, "n_positions": 4},
         "`config.json: n_embd` must be an integer"),
        ({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 8, "num_key_value_heads": 3,
          "intermediate_size": 8, "num_hidden_layers": 1, "vocab_size": 10}, "a divisor of num_attention_heads = 8"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_configs(cfg, message):
    with pytest.raises(InputError, match=None) as info:
        arch_from_config(cfg)
    assert message in str(info.value)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(PeftcalcError, match=r"config.json is not valid JSON \(line 1"):
        load_config_file(bad)
    with pytest.raises(InputError, match="an existing config.json file"):
        load_config_file(tmp_path / "missing.json")
    good = tmp_path / "ok.json"
    good.write_text(json.dumps(preset_config("gpt2")))
    assert load_config_file(good).total_params == PUBLISHED_TOTALS["gpt2"]


def test_unknown_preset_lists_known_ones():
    with pytest.raises(InputError) as info:
        load_preset("llama-9")
    assert "llama-2-7b" in str(info.value) and "got llama-9" in str(info.value)

"""Every family on real published configs, exact against what the real transformers + peft built.

tests/data/configs/*.json are published config.json files (SOURCES.md: where each was read);
peft_counts.json holds, for each, transformers' parameter total and peft 0.21.2's (trainable, all) — or its
refusal — for every case of ``peftcalc.verify.hf_peft._cases`` (taken with scripts/crosscheck_peft.py on
the meta device). These tests need neither torch nor peft: they check peftcalc against the record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peftcalc import load_config_file, params
from peftcalc.arch.families import FAMILIES
from peftcalc.errors import PeftcalcError

DATA = Path(__file__).resolve().parents[2] / "data" / "configs"
RECORD = json.loads((DATA / "peft_counts.json").read_text())
# the models with a family file (the others are checked --via transformers, in test_via_transformers.py)
MODELS = {name: m for name, m in RECORD["models"].items()
          if json.loads((DATA / m["file"]).read_text())["model_type"] in FAMILIES}
CASES = [(name, case) for name, model in MODELS.items() for case in model["cases"]]


def test_the_record_covers_the_families_of_the_issue():
    types = {json.loads((DATA / m["file"]).read_text())["model_type"] for m in MODELS.values()}
    assert len(MODELS) >= 25
    assert {"qwen3", "gemma2", "gemma3_text", "phi3", "mixtral", "qwen3_moe", "gpt_oss", "falcon", "gpt_neox",
            "bloom", "opt", "modernbert", "llama", "mistral", "qwen2", "gpt2", "bert", "roberta", "t5", "deepseek_v2",
            "deberta-v2"} <= types
    assert types <= set(FAMILIES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_base_parameters(name):
    model = MODELS[name]
    assert load_config_file(DATA / model["file"]).total_params == model["base"]


@pytest.mark.parametrize("name, case", CASES, ids=[f"{n}-{c['method']}-{c['options']}" for n, c in CASES])
def test_every_method_as_peft_counts_it(name, case):
    path = DATA / MODELS[name]["file"]
    if "refused" in case:
        with pytest.raises(PeftcalcError):
            params(case["method"], config=path, **case["options"])
        return
    res = params(case["method"], config=path, **case["options"])
    assert [res.trainable_params, res.total_params] == case["peft"]


def test_partial_targets_note_what_matched_nothing():
    res = params("lora", config=DATA / "llama-3.1-8b.json", r=8, targets=["q_proj", "w1"])
    assert res.trainable_params == 32 * 8 * (4096 + 4096)
    assert any("w1 matched no module" in n for n in res.notes)


def test_moe_experts_are_adapted_as_peft_converts_them():
    # Mixtral: w1+w3 fused into gate_up_proj at rank 2r; A is (2r·E, hidden), B is (2·inter, 2r·E)
    path = DATA / "mixtral-8x7b-instruct-v0.1.json"
    res = params("lora", config=path, r=8, targets=["w1", "w3"])
    assert res.trainable_params == 32 * 16 * 8 * (4096 + 2 * 14336)
    with pytest.raises(PeftcalcError, match="fuses them into gate_up_proj"):
        params("lora", config=path, r=8, targets=["w1"])
    with pytest.raises(PeftcalcError, match="empties the default targets"):
        params("lora", config=path, r=8)
    with pytest.raises(PeftcalcError, match="ParamWrapper"):
        params("dora", config=path, r=8, targets=["all-linear"])


def test_t5_head_is_tied_whatever_the_flag_says():
    cfg = json.loads((DATA / "t5-base.json").read_text())
    from peftcalc import arch_from_config

    assert arch_from_config({**cfg, "tie_word_embeddings": False}).total_params == \
        arch_from_config(cfg).total_params == RECORD["models"]["t5-base"]["base"]


def test_an_architectures_class_that_is_not_modelled_is_refused():
    cfg = json.loads((DATA / "llama-3.1-8b.json").read_text())
    from peftcalc import arch_from_config

    with pytest.raises(PeftcalcError, match="--via transformers.*got LlamaForTokenClassification"):
        arch_from_config({**cfg, "architectures": ["LlamaForTokenClassification"]})
    base = arch_from_config({**cfg, "architectures": ["LlamaModel"]})
    assert arch_from_config(cfg).total_params - base.total_params == 128256 * 4096  # the untied lm_head


def test_activations_read_roles_not_names():
    # Phi-3's fused gate_up_proj is a gated MLP (its activation saves the gate, the activation and the up
    # outputs): the same bytes per block as llama's separate gate_proj/up_proj of the same widths
    from peftcalc.activations import block_items, trained_roles

    phi3 = load_config_file(DATA / "phi-3-mini-4k-instruct.json")
    assert phi3.gated_mlp and trained_roles(phi3, [m.name for m in phi3.linear_modules()]) == \
        {"qkv", "o", "up", "down", "head"}
    unfused = {**json.loads((DATA / "phi-3-mini-4k-instruct.json").read_text()), "model_type": "llama",
               "architectures": ["LlamaForCausalLM"]}
    from peftcalc import arch_from_config

    llama_like = arch_from_config(unfused)
    kw = {"roles": frozenset({"qkv", "o", "up", "down"})}
    assert sum(i.bytes(1, 128) for i in block_items(phi3, **kw)) == \
        sum(i.bytes(1, 128) for i in block_items(llama_like, **kw))

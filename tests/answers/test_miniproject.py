"""The mini-project's Params column (answers/miniproject.py): graded against the exact counts for the model the
student describes in the answer itself."""

from __future__ import annotations

import pytest

import answers
from grader.analytic import grade_answers
from peftcalc.errors import InputError

TINY_LLAMA = {"model_type": "llama", "hidden_size": "64", "num_hidden_layers": "2", "num_attention_heads": "4",
              "intermediate_size": "128", "vocab_size": "320", "tie_word_embeddings": "false"}


def _by_hand_tiny_llama() -> dict[str, int]:
    d, ff, v, layers = 64, 128, 320, 2
    per_layer = 4 * d * d + 3 * d * ff + 2 * d  # q k v o, gate up down, two RMSNorms
    full = v * d + layers * per_layer + d + v * d  # embeddings, layers, final norm, untied head
    return {"full": full, "lora_r4": layers * 2 * 4 * (d + d), "lora_r16": layers * 2 * 16 * (d + d)}


def _grade(stated: dict) -> dict:
    res = grade_answers("stage9", {"9.mini": stated})
    return {p.id: p for p in res.parts if p.id.startswith("9.mini.")}


def test_gpt2_default_matches_the_published_count():
    # GPT-2 small: 124,439,808 parameters with the head tied to the embeddings (Hugging Face `gpt2`,
    # GPT2LMHeadModel: sum of numel over unique parameters); LoRA on c_attn (768 → 2304) in 12 blocks
    ans = answers.answer("9.mini")
    values = {item.id: item.value for item in ans.items}
    assert values == {"9.mini.full": 124_439_808, "9.mini.lora_r4": 12 * 4 * (768 + 2304),
                      "9.mini.lora_r16": 12 * 16 * (768 + 2304)}


def test_a_described_config_is_graded_against_its_own_counts():
    want = _by_hand_tiny_llama()
    parts = _grade({"model": TINY_LLAMA, "targets": "q_proj, v_proj", "full": f"{want['full']:,}",
                    "lora_r4": str(want["lora_r4"]), "lora_r16": f"{want['lora_r16']} (A and B of q, v in 2 layers)"})
    assert all(p.score == p.max_score for p in parts.values()), {k: p.feedback for k, p in parts.items()}
    # the same numbers with a description they do not fit lose the points
    wrong = _grade({"model": TINY_LLAMA, "targets": "q_proj,k_proj,v_proj,o_proj", "full": str(want["full"]),
                    "lora_r4": str(want["lora_r4"]), "lora_r16": str(want["lora_r16"])})
    assert wrong["9.mini.full"].score == wrong["9.mini.full"].max_score
    assert wrong["9.mini.lora_r4"].score == 0 and wrong["9.mini.lora_r16"].score == 0


def test_known_mistakes_earn_their_message():
    want = _by_hand_tiny_llama()
    parts = _grade({"model": TINY_LLAMA, "targets": "q_proj,v_proj", "full": str(want["full"]),
                    "lora_r4": str(want["lora_r4"] // 2), "lora_r16": str(want["full"] + want["lora_r16"])})
    assert "A only" in parts["9.mini.lora_r4"].feedback
    assert "base + LoRA" in parts["9.mini.lora_r16"].feedback


def test_named_models_and_lists_of_targets_work():
    parts = _grade({"model": "gpt2", "targets": ["c_attn"], "full": "124,439,808", "lora_r4": "147,456",
                    "lora_r16": "589,824"})
    assert all(p.score == p.max_score for p in parts.values())


@pytest.mark.parametrize("stated, why", [
    ({"full": "100", "lora_r4": "8", "lora_r16": "32"}, "state 9.mini.model and 9.mini.targets"),
    ({"model": "not-a-model-anyone-has", "targets": "q_proj"}, "could not be counted"),
    ({"model": {**TINY_LLAMA, "num_hidden_layers": "100000000"}, "targets": "q_proj"}, "at most 1024 layers"),
    ({"model": TINY_LLAMA, "targets": "no_such_module"}, "could not be counted"),
])
def test_no_or_bad_description_scores_zero_with_the_reason(stated, why):
    parts = _grade(stated)
    assert set(parts) == {"9.mini.full", "9.mini.lora_r4", "9.mini.lora_r16"}
    for p in parts.values():
        assert p.score == 0 and p.needs_review and why in p.feedback, p.feedback


def test_config_values_are_read_as_config_json_means_them():
    from answers.miniproject import config_value

    assert config_value({"a": "64", "b": "1e-5", "c": "true", "d": ["x", "2"], "e": "null"}) == \
        {"a": 64, "b": 1e-5, "c": True, "d": ["x", 2], "e": None}
    with pytest.raises(InputError):
        config_value({"a": {"b": {"c": {"d": {"e": {"f": "1"}}}}}})


def test_an_unanswered_mini_project_is_missing_not_for_review():
    parts = {p.id: p for p in grade_answers("stage9", {}).parts if p.id.startswith("9.mini.")}
    assert len(parts) == 3 and all(p.score == 0 and not p.needs_review and p.status == "missing"
                                   for p in parts.values())

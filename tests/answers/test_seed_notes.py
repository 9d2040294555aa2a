"""The seed inconsistencies the key flags: each note's figures are the calculator's own counts."""

from __future__ import annotations

import answers
from answers.seed_notes import NOTES
from peftcalc import params

ALL7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def test_every_note_reaches_its_part():
    for part_id, notes in NOTES.items():
        assert set(notes) <= set(answers.answer(part_id).notes), part_id


def test_qlora_note_counts_setup_qlora():
    # seed 004's setup_qlora(rank=64) targets all seven projections; §6.1 says "~30M"
    note = NOTES["seed004.table.lora_r64"][0]
    assert params("lora", model="llama-2-7b", r=64, targets=ALL7).trainable_params == 159_907_840
    assert params("lora", model="llama-2-7b", r=64, targets=["q_proj", "v_proj"]).trainable_params == 33_554_432
    assert "159,907,840" in note and "33,554,432" in note


def test_ia3_note_counts():
    # IA3Layer(dim): l_k, l_v, l_ff of size dim → 3 · 4096 · 32 = 393,216; peft on Llama-2-7B: (4096 + 4096 + 11008) · 32
    assert params("ia3", model="llama-2-7b").trainable_params == 614_400 == (4096 + 4096 + 11008) * 32
    assert "393,216" in NOTES["seed004.table.ia3"][0] and 3 * 4096 * 32 == 393_216


def test_lora_r8_note_counts():
    assert params("lora", model="llama-2-7b", r=8, targets=["q_proj", "v_proj"]).trainable_params == 4_194_304
    assert "4,194,304" in NOTES["seed004.table.lora_r8"][0]

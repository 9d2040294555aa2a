"""Lesson 19 (seed 004) keys pinned to hand calculations."""

from fractions import Fraction

from answers import answer

GB, MB = 10**9, 10**6


def test_exercise_1():
    # 2 × 4096 × 4096 × 32 = 1,073,741,824
    assert answer("19.1.full_ft_params").value == 1_073_741_824
    # 2 × (4096·8 + 8·4096) × 32 = 2 × 65,536 × 32 = 4,194,304
    assert answer("19.1.lora_r8_params").value == 4_194_304
    # 2 × (4096·64 + 64·4096) × 32 = 33,554,432
    assert answer("19.1.lora_r64_params").value == 33_554_432
    # 1,073,741,824 / 4,194,304 = 256; / 33,554,432 = 32
    assert answer("19.1.reduction_ratio").value == 256
    assert answer("19.1.reduction_ratio_r64").value == 32
    # 4,194,304 / 7e9 = 0.0599186 % ("0.06%"); 33,554,432 / 7e9 = 0.479349 % ("0.48%")
    assert answer("19.1.lora_r8_percent_of_model").value == Fraction(4_194_304 * 100, 7 * 10**9)
    assert round(float(answer("19.1.lora_r64_percent_of_model").value), 2) == 0.48
    assert "1,073,741,824" in answer("19.1.lora_r8_percent_of_model").notes[0]  # "≈ 2B" corrected


def test_exercise_2_table():
    cells = {  # the seed's table, in bytes (13B × 2 B, × 8 B, …; 8M LoRA × 2 B + × 8 B)
        "full_ft.weights": 26 * GB, "full_ft.optimizer": 104 * GB, "full_ft.gradients": 26 * GB,
        "full_ft.total": 156 * GB, "lora.weights": 26 * GB, "lora.optimizer": 0, "lora.gradients": 0,
        "lora.adapters": 16 * MB + 64 * MB, "lora.total": 26 * GB + 80 * MB,
        "qlora.weights": 6_500_000_000, "qlora.optimizer": 0, "qlora.gradients": 0,
        "qlora.adapters": 80 * MB, "qlora.total": 6_500_000_000 + 80 * MB,
    }
    for cell, expected in cells.items():
        assert answer(f"19.2.{cell}").value == expected, cell
    # the "≈ 8M" is not Llama-2-13B's: 40 layers × 2 × 8 × (5120 + 5120) = 6,553,600
    assert "6,553,600" in answer("19.2.lora.adapters").notes[0]


def test_exercise_3_and_4():
    assert [a.value for a in answer("19.3.A.rank").accepted] == [4, 8]
    assert [a.value for a in answer("19.3.B.rank").accepted] == [16, 32]
    assert [a.value for a in answer("19.3.C.rank").accepted] == [64, 128]
    assert answer("19.4.merge_formula").value == "W + (alpha/r)*B*A"

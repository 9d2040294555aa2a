"""The seeds' printed figures as parts of the key (hand calculations)."""

from fractions import Fraction

from answers import answer


def test_seed003_demo():
    # 256×256, r=8: 8 × (256 + 256) = 4,096 of 65,536 = 6.25 %
    assert answer("seed003.lora_params").value == 4096
    assert answer("seed003.compression").value == Fraction(625, 100)
    # adapter without biases: 2 × 256 × 64 = 32,768; 20 prompts × 256 = 5,120; 16 + 20 = 36 positions
    assert answer("seed003.adapter_params").value == 32_768
    assert answer("seed003.prompt_params").value == 5120
    assert answer("seed003.prompt_seq_len").value == 36
    # comparison (full = 32 layers × 4 × 4096² = 2,147,483,648): LoRA 4,194,304 → 0.1953 %
    assert answer("seed003.compare.lora.ratio").value == Fraction(4_194_304 * 100, 2_147_483_648)


def test_seed004_table_discrepancies_give_the_exact_value():
    # prefix at 20 tokens: 20 × 32 × 2 × 4096 = 5,242,880 (the table's "~1M" is accepted only as printed)
    ans = answer("seed004.table.prefix")
    assert ans.value == 5_242_880
    assert [a.value for a in ans.accepted] == [5_242_880, 1_000_000]

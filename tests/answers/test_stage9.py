"""Stage 9 keys pinned to hand calculations (the arithmetic is written out; nothing comes from the code)."""

from fractions import Fraction

from answers import answer

GB = 10**9


def test_9_1a_full_finetune_7b_fp16():
    # seed 004 §1.1: fp16 weights 7e9×2 = 14 GB, fp16 grads 14 GB, Adam m+v fp32 7e9×8 = 56 GB → 84 GB
    ans = answer("9.1a")
    assert ans.value == 14 * GB + 14 * GB + 56 * GB == 84 * GB
    by_label = {a.label: a for a in ans.accepted}
    mixed = next(a for a in ans.accepted if "master" in a.label)
    # + fp32 master copy 7e9×4 = 28 GB → 112 GB (16 B/param)
    assert mixed.value == 84 * GB + 28 * GB
    assert dict(mixed.breakdown)["master_weights"] == 28 * GB
    # everything in fp16, Adam's m and v too (accelerate's estimate-memory convention): 7e9 × 8 B = 56 GB
    all_fp16 = next(a for a in ans.accepted if "accelerate" in a.label)
    assert all_fp16.value == 14 * GB + 14 * GB + 14 * GB + 14 * GB == 56 * GB
    assert len(by_label) == 3
    # GiB shown too: 84e9 / 2^30 = 78.23 GiB
    assert "78.23 GiB" in ans.text


def test_9_2a_and_b():
    # r(d+k) = 8 × (4096 + 4096) = 65,536
    assert answer("9.2a").value == 8 * 8192 == 65_536
    # 65,536 / 4096² = 65,536 / 16,777,216 = 1/256 = 0.390625 %
    assert answer("9.2b").value == Fraction(390625, 10**6)
    # variant: r=16 → 131,072 / 16,777,216 = 0.78125 %
    assert answer("9.2b", r=16).value == Fraction(78125, 10**5)


def test_9_3_choices():
    assert answer("9.3a").value == "adapters"
    assert answer("9.3c").value == "adapters"
    assert {a.value for a in answer("9.3b").accepted} == {"prompt tuning", "lora"}

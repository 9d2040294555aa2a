"""Quantized storage, exact to the byte (hand arithmetic in each test)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from peftcalc import InputError, load_preset
from peftcalc.quant import bits_per_param, model_storage, seed_nf4_bytes, tensor_storage


def test_nf4_tensor_without_double_quant():
    n = 4096 * 4096
    s = tensor_storage(n, "nf4")
    assert s.data_bytes == n // 2 == 8_388_608
    assert s.constant_bytes == 4 * (n // 64) == 1_048_576
    assert s.bits_per_param == Fraction(9, 2)


def test_nf4_tensor_with_double_quant():
    n = 4096 * 4096
    blocks = n // 64                          # 262,144 8-bit absmaxes
    second = blocks // 256                    # 1,024 fp32 second-level constants
    s = tensor_storage(n, "nf4", double_quant=True)
    assert s.constant_bytes == blocks + 4 * second + 4 == 266_244
    assert bits_per_param("nf4", double_quant=True) == 4 + Fraction(8, 64) + Fraction(32, 64 * 256)


def test_odd_sizes_round_up():
    s = tensor_storage(65, "nf4")             # 65 values: 33 bytes, 2 blocks
    assert (s.data_bytes, s.constant_bytes) == (33, 8)


def test_int8_and_fp8_constants():
    assert tensor_storage(4096 * 11008, "int8", rows=11008).constant_bytes == 4 * 11008
    assert tensor_storage(100, "fp8").total_bytes == 104


def test_model_storage_llama2_7b():
    arch = load_preset("llama-2-7b")
    kept = 2 * 32000 * 4096 + (2 * 32 + 1) * 4096  # embed + untied head + 65 RMSNorms stay 16-bit
    s = model_storage(arch, "nf4")
    assert s.kept_params == kept
    assert s.quantized_params == arch.total_params - kept
    assert s.kept_bytes == 2 * kept
    assert s.data_bytes == s.quantized_params // 2
    assert model_storage(arch, "bf16").total_bytes == 2 * arch.total_params


def test_seed_convention():
    assert seed_nf4_bytes(7 * 10**9) == Fraction(7 * 10**9 * 9, 16)  # 24.6a: 4.5 bits/param
    assert seed_nf4_bytes(13 * 10**9, bits=Fraction(4)) == 6_500_000_000  # seed 004: 0.5 B/param


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dtype": "int3"}, "`--dtype` must be one of fp32, fp16, bf16, int8, fp8, nf4, fp4, got int3"),
    ({"dtype": "int8", "double_quant": True}, "`--double-quant` must be used with --dtype nf4 or fp4"),
])
def test_bad_dtype(kwargs, message):
    with pytest.raises(InputError) as info:
        model_storage(load_preset("gpt2"), **kwargs)
    assert message in str(info.value)

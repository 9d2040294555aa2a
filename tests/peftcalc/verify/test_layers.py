"""The reference layers behave as the papers say (they are also the grader's model answers for 24.11/24.12)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install 'peftcalc[torch]')")
nn = torch.nn

from peftcalc.verify.layers import (LoRALinear, PrefixEncoder, QLoRALinear, apply_lora,  # noqa: E402
                                    lora_modules, trainable_numel)


def test_lora_scaling_and_rslora():
    base = nn.Linear(32, 16)
    assert LoRALinear(base, 8, alpha=16).scaling == 2.0
    assert LoRALinear(nn.Linear(32, 16), 4, alpha=16, rslora=True).scaling == 8.0  # α/√r
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), 5)


def test_apply_lora_replaces_every_linear_and_keeps_the_output():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    x = torch.randn(3, 8)
    before = model(x)
    names = apply_lora(model, r=2)
    assert names == ["0", "2"] and len(lora_modules(model)) == 2
    assert torch.equal(model(x), before)
    assert trainable_numel(model) == 2 * (8 + 16) + 2 * (16 + 4)


def test_dropout_only_in_training():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 16), 4, dropout=0.5)
    nn.init.normal_(layer.lora_B)
    x = torch.randn(2, 16)
    layer.eval()
    assert torch.equal(layer(x), layer(x))
    layer.train()
    assert not torch.equal(layer(x), layer(x))


def test_qlora_layer_is_close_to_the_float_layer():
    torch.manual_seed(0)
    base = nn.Linear(256, 64)
    nn.init.normal_(base.weight, std=0.02)
    q = QLoRALinear(base, 8)
    x = torch.randn(4, 256)
    with torch.no_grad():
        rel = float((q(x) - base(x)).norm() / base(x).norm())
    assert rel < 0.15  # 4-bit weights: ~10 % relative error, B = 0 adds nothing
    assert {n for n, p in q.named_parameters() if p.requires_grad} == {"lora_A", "lora_B"}


def test_prefix_shapes_and_reparameterisation():
    enc = PrefixEncoder(10, 3, 32)
    assert enc().shape == (3, 2, 10, 32)
    mlp = PrefixEncoder(10, 3, 32, projection=True, hidden=16)
    assert mlp().shape == (3, 2, 10, 32)
    assert sum(p.numel() for p in mlp.parameters()) == 10 * 32 + (32 * 16 + 16) + (16 * 6 * 32 + 6 * 32)

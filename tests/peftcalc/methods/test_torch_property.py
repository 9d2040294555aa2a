"""Property tests: for random shapes and ranks, the symbolic count equals Σ numel of real torch modules
built the same way (on the meta device: shapes only, no memory). Skipped cleanly without torch."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peftcalc import params

torch = pytest.importorskip("torch", reason="torch not installed (pip install 'peftcalc[torch]')")
nn = torch.nn

dims = st.integers(min_value=2, max_value=512)
SETTINGS = settings(max_examples=40, deadline=None)


def numel(*modules) -> int:
    return sum(p.numel() for m in modules for p in (m.parameters() if isinstance(m, nn.Module) else [m]))


@SETTINGS
@given(d=dims, k=dims, data=st.data(), lora_bias=st.booleans(), layers=st.integers(1, 4))
def test_lora_and_dora(d, k, data, lora_bias, layers):
    r = data.draw(st.integers(1, min(d, k)))
    with torch.device("meta"):
        A, B = nn.Linear(k, r, bias=False), nn.Linear(r, d, bias=lora_bias)
        magnitude = nn.Parameter(torch.empty(d))
    assert params("lora", d=d, k=k, r=r, lora_bias=lora_bias, layers=layers).trainable_params == layers * numel(A, B)
    assert params("dora", d=d, k=k, r=r, layers=layers).trainable_params == layers * (numel(A) + r * d + d)
    assert numel(magnitude) == d


@SETTINGS
@given(d=dims, k=dims, data=st.data())
def test_adalora(d, k, data):
    init_r = data.draw(st.integers(1, min(d, k)))
    with torch.device("meta"):
        lora_A, lora_E, lora_B = (nn.Parameter(torch.empty(init_r, k)), nn.Parameter(torch.empty(init_r, 1)),
                                  nn.Parameter(torch.empty(d, init_r)))
    res = params("adalora", d=d, k=k, init_r=init_r, r=min(init_r, 1))
    assert res.trainable_params == numel(lora_A, lora_E, lora_B)


@SETTINGS
@given(d=dims, k=dims, r=st.integers(1, 64))
def test_loha_and_vera(d, k, r):
    with torch.device("meta"):
        hada = [nn.Parameter(torch.empty(*s)) for s in ((d, r), (r, k), (d, r), (r, k))]
        lambdas = [nn.Parameter(torch.empty(r)), nn.Parameter(torch.empty(d))]
    assert params("loha", d=d, k=k, r=r).trainable_params == numel(*hada)
    assert params("vera", d=d, k=k, r=r).trainable_params == numel(*lambdas)


@SETTINGS
@given(d=st.integers(2, 2048), k=st.integers(2, 2048), r=st.integers(1, 32), both=st.booleans())
def test_lokr_kronecker_shapes_rebuild_the_matrix(d, k, r, both):
    from peftcalc.methods.lokr import factorization

    (a, b), (c, e) = factorization(d), factorization(k)
    with torch.device("meta"):
        w1 = (nn.Parameter(torch.empty(a, r)), nn.Parameter(torch.empty(r, c))) if both and r < max(a, c) / 2 \
            else (nn.Parameter(torch.empty(a, c)),)
        w2 = (nn.Parameter(torch.empty(b, r)), nn.Parameter(torch.empty(r, e))) if r < max(b, e) / 2 \
            else (nn.Parameter(torch.empty(b, e)),)
        full1 = torch.empty(a, c)
        full2 = torch.empty(b, e)
    assert torch.kron(full1, full2).shape == (d, k)  # the factors really rebuild a d×k update
    assert params("lokr", d=d, k=k, r=r, decompose_both=both).trainable_params == numel(*w1, *w2)


@SETTINGS
@given(d=st.integers(8, 1024), m_frac=st.floats(0.01, 1.0), layers=st.integers(1, 6), bias=st.booleans())
def test_houlsby_adapter(d, m_frac, layers, bias):
    m = max(1, int(d * m_frac))
    with torch.device("meta"):
        down, up = nn.Linear(d, m, bias=bias), nn.Linear(m, d, bias=bias)
    res = params("adapter", d=d, layers=layers, bottleneck=m, adapter_bias=bias)
    assert res.trainable_params == 2 * layers * numel(down, up)


@SETTINGS
@given(d=st.integers(2, 512), tokens=st.integers(1, 64), layers=st.integers(1, 8), hidden=st.integers(1, 256))
def test_prompt_prefix_and_ptuning(d, tokens, layers, hidden):
    with torch.device("meta"):
        prompt = nn.Embedding(tokens, d)
        prefix = nn.Embedding(tokens, 2 * layers * d)
        prefix_proj = [nn.Embedding(tokens, d), nn.Linear(d, hidden), nn.Linear(hidden, 2 * layers * d)]
        mlp = [nn.Embedding(tokens, d), nn.Linear(d, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, d)]
        lstm = [nn.Embedding(tokens, d), nn.LSTM(d, hidden, num_layers=2, bidirectional=True),
                nn.Linear(2 * hidden, 2 * hidden), nn.Linear(2 * hidden, d)]
    mx = {"d": d, "layers": layers, "tokens": tokens}
    assert params("prompt_tuning", **mx).trainable_params == numel(prompt)
    assert params("prefix_tuning", **mx).trainable_params == numel(prefix)
    assert params("prefix_tuning", **mx, projection=True, encoder_hidden=hidden).trainable_params == numel(*prefix_proj)
    assert params("p_tuning", **mx, encoder_hidden=hidden).trainable_params == numel(*mlp)
    assert params("p_tuning", **mx, encoder="lstm", encoder_hidden=hidden).trainable_params == numel(*lstm)


@SETTINGS
@given(layers=st.integers(1, 3), n=st.integers(1, 3))
def test_lstm_layers_option(layers, n):
    with torch.device("meta"):
        lstm = nn.LSTM(16, 8, num_layers=n, bidirectional=True)
    res = params("p_tuning", d=16, layers=layers, tokens=1, encoder="lstm", encoder_hidden=8, encoder_layers=n)
    assert res.trainable_params == 16 + numel(lstm) + (16 * 16 + 16) + (16 * 16 + 16)

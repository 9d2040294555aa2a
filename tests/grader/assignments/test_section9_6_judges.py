"""Section 9.6's judges on their own, in-process (no sandbox): the 4-bit round-trip judge on every scheme it
accepts and the mistakes it must catch, the dropout judges' statistics (how often a right dropout fails, how
often a wrong one passes), the prefix count against peftcalc's, the shape-search helper, and every judge on
malformed data."""

from __future__ import annotations

import types
from fractions import Fraction

import numpy as np
import pytest

from grader import assignments
from grader.assignments.section9_6.four_bit import NF4, NF4_HALF_GAP, judge_round_trip
from grader.assignments.section9_6.lora_dropout import P, SAMPLES, judge_expectation, judge_mask
from grader.assignments.section9_6.prefix_mlp import trainable_count
from grader.code.checks import arr
from grader.sandbox import ops

BLOCK = 32


def _weights(seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).normal(size=(4, 48))
    w.reshape(-1)[64:96] *= 20          # one loud block, as the exercise's hidden weight
    return w


def _per_block(w: np.ndarray, block: int, fn) -> tuple[np.ndarray, np.ndarray]:
    """Apply fn(block values) -> (codes, dequantized) block by block over w.flatten()."""
    flat = w.reshape(-1)
    parts = [fn(flat[i:i + block]) for i in range(0, flat.size, block)]
    return np.concatenate([c for c, _ in parts]), np.concatenate([d for _, d in parts]).reshape(w.shape)


def uniform(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, step = b.min(), (b.max() - b.min()) / 15
    q = np.round((b - lo) / step)
    return q, q * step + lo


def absmax_int4(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(b).max() / 7
    q = np.clip(np.round(b / scale), -7, 7)
    return q + 8, q * scale


def nf4(b: np.ndarray, rounding=np.argmin) -> tuple[np.ndarray, np.ndarray]:
    absmax = np.abs(b).max()
    q = rounding(np.abs(b[:, None] / absmax - np.asarray(NF4)[None, :]), axis=1)
    return q.astype(float), np.asarray(NF4)[q] * absmax


def nf4_paper_rounded(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NF4 with the code book printed to 4 decimals (as the paper's appendix)."""
    book = np.round(np.asarray(NF4), 4)
    absmax = np.abs(b).max()
    q = np.argmin(np.abs(b[:, None] / absmax - book[None, :]), axis=1)
    return q.astype(float), book[q] * absmax


@pytest.mark.parametrize("scheme", [uniform, absmax_int4, nf4, nf4_paper_rounded])
def test_every_accepted_4bit_scheme_passes(scheme):
    for seed in range(5):
        w = _weights(seed)
        share, notes = judge_round_trip(w, *_per_block(w, BLOCK, scheme), BLOCK)
        assert share == 1, notes


def test_4bit_mistakes_lose_their_quarter():
    w = _weights()

    def truncate(b):  # floor instead of round, min–max grid
        lo, step = b.min(), (b.max() - b.min()) / 15
        q = np.floor((b - lo) / step)
        return q, q * step + lo

    def five_bits(b):
        lo, step = b.min(), (b.max() - b.min()) / 31
        q = np.round((b - lo) / step)
        return q, q * step + lo

    def clipped(b):  # symmetric, scale absmax/8, codes -8..7: the block's largest positive weight is clipped
        scale = np.abs(b).max() / 8
        q = np.clip(np.round(b / scale), -8, 7)
        return q + 8, q * scale

    per_tensor_codes, per_tensor = uniform(w.reshape(-1))
    cases = {
        "not dequantized to their block's nearest level": _per_block(w, BLOCK, truncate),
        "at most 16 per block": _per_block(w, BLOCK, five_bits),
        "with its own scale": (per_tensor_codes, per_tensor.reshape(w.shape)),
    }
    for note, (codes, deq) in cases.items():
        share, notes = judge_round_trip(w, codes, deq, BLOCK)
        assert share < 1 and any(note in n for n in notes), (note, notes)
    pos = np.abs(w).max(axis=None)
    w_pos = w.copy()
    w_pos.reshape(-1)[0] = 3 * pos       # block 0's absmax is positive: clipping at 7/8 of it exceeds absmax/14
    share, notes = judge_round_trip(w_pos, *_per_block(w_pos, BLOCK, clipped), BLOCK)
    assert share == Fraction(3, 4) and "exceeds its bound" in notes[0]
    codes, deq = _per_block(w, BLOCK, uniform)
    share, notes = judge_round_trip(w, codes + 1, deq, BLOCK)    # codes 1..16: not 4 bits
    assert share == Fraction(3, 4) and "integers in [0, 15]" in notes[0]


def test_4bit_judge_on_malformed_data():
    w = _weights()
    for codes, deq in ((None, None), (np.zeros(3), np.zeros(3)), (np.full(w.size, np.nan), np.full(w.shape, np.nan)),
                       (np.zeros(w.size), np.zeros((2, 2)))):
        share, notes = judge_round_trip(w, codes, deq, BLOCK)
        assert share < 1 and notes


def test_nf4_code_book_is_qloras():
    torch = pytest.importorskip("torch")
    from peftcalc.verify.checks import PUBLISHED_NF4
    from peftcalc.verify.nf4 import nf4_code_book

    assert NF4 == PUBLISHED_NF4
    assert float((nf4_code_book().double() - torch.tensor(NF4, dtype=torch.float64)).abs().max()) < 1e-6
    assert NF4_HALF_GAP == pytest.approx((1 - 0.6961928009986877) / 2)   # −1 → −0.6962 is the widest gap


# ---- dropout -------------------------------------------------------------------------------------------------------

def _layer(seed: int):
    rng = np.random.default_rng(seed)
    A = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    B = np.linalg.qr(rng.normal(size=(6, 4)))[0]
    W = rng.normal(size=(6, 4))
    x = rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.5, 1.5, size=(3, 4))
    return x, W, A, B, 2.0


def _samples(variant: str, seed: int, n: int = SAMPLES, p: float = P) -> np.ndarray:
    """n training-mode outputs of a LoRA layer whose dropout is right, or wrong in one way."""
    x, W, A, B, s = _layer(seed)
    rng = np.random.default_rng(seed + 1000)
    keep = (rng.random((n, *x.shape)) >= p) / (1 - p)            # inverted dropout's multipliers
    base, lora = x @ W.T, s * x @ A.T @ B.T
    if variant == "right":
        return base + s * (x * keep) @ A.T @ B.T
    if variant == "not rescaled":
        return base + s * (x * keep * (1 - p)) @ A.T @ B.T
    if variant == "base path":
        return (x * keep) @ W.T + s * (x * keep) @ A.T @ B.T
    if variant == "after A":
        return base + s * ((x @ A.T) * keep) @ B.T                 # rank = in_features: same mask shape
    assert variant == "output"
    return base + lora * (rng.random((n, *lora.shape)) >= p) / (1 - p)


def test_right_dropout_passes_and_unscaled_fails_across_seeds():
    """Over 100 hidden inputs: a right dropout never fails (the bound's false-failure rate is ~10⁻⁶), and
    forgetting 1/(1-p) is always caught by the expectation check (≈10 standard errors at n = 1000)."""
    worst = []
    for seed in range(100):
        layer = _layer(seed)
        share, msg = judge_expectation(_samples("right", seed), *layer, P)
        assert share == 1, (seed, msg)
        worst.append(float(msg.split("max |z| = ")[1].split(" ")[0]))
        assert judge_mask(_samples("right", seed), *layer, P)[0] == 1
        assert judge_expectation(_samples("not rescaled", seed), *layer, P)[0] == 0
    assert max(worst) < 5.5 and np.median(worst) > 1     # z is a real statistic, not ≈ 0


@pytest.mark.parametrize("variant, share, note", [
    ("not rescaled", Fraction(2, 3), "not rescaled"),
    ("base path", Fraction(0), "base path"),
    ("after A", Fraction(2, 3), "after A"),
    ("output", Fraction(2, 3), "LoRA path's output"),
])
def test_mask_judge_names_where_the_dropout_is(variant, share, note):
    layer = _layer(3)
    got, msg = judge_mask(_samples(variant, 3), *layer, P)
    assert got == share and note in msg, msg


def test_mask_judge_on_degenerate_samples():
    x, W, A, B, s = _layer(0)
    eval_out = x @ W.T + s * x @ A.T @ B.T
    assert "no dropout in training mode" in judge_mask(np.stack([eval_out] * 10), x, W, A, B, s, P)[1]
    frozen = _samples("right", 0, n=1)
    assert "same output on every call" in judge_mask(np.concatenate([frozen] * 10), x, W, A, B, s, P)[1]
    for junk in (None, np.zeros((10, 2, 2)), np.full((10, 3, 6), np.nan), np.zeros((1, 3, 6))):
        assert judge_mask(junk, x, W, A, B, s, P)[0] == 0
        assert judge_expectation(junk, x, W, A, B, s, P)[0] == 0


# ---- the prefix count, the shape search, malformed data ------------------------------------------------------------

@pytest.mark.parametrize("layers, heads, d_head, prefix_length, hidden", [(2, 2, 4, 3, 12), (32, 32, 128, 10, 512),
                                                                        (1, 1, 1, 1, 1)])
def test_prefix_mlp_count_is_peftcalcs(layers, heads, d_head, prefix_length, hidden):
    from peftcalc.calc import params

    counted = params("prefix_tuning", d=heads * d_head, heads=heads, layers=layers, tokens=prefix_length,
                     projection=True, encoder_hidden=hidden)
    assert trainable_count(layers, heads * d_head, prefix_length, hidden) == counted.trainable_params


def _submission_class(name: str):
    return type(name, (), {"__module__": "submission"})


def test_shape_search_sets_the_students_arrays_and_nothing_else():
    Layer, Inner = _submission_class("Layer"), _submission_class("Inner")
    layer, inner, foreign = Layer(), Inner(), types.SimpleNamespace(A=np.zeros((2, 3)))
    inner.A = np.zeros((2, 3))
    layer.inner, layer.table, layer.items, layer.foreign = inner, {"A": np.zeros((2, 3))}, [np.zeros((3, 2))], foreign
    layer.np = np                             # a module: never entered
    env = {"obj": layer}
    value = np.arange(6.0).reshape(2, 3)
    ops.HELPERS["set_nested_of_shape"](env, "obj", [2, 3], arr(value), "n")
    assert env["n"] == 2
    assert np.array_equal(inner.A, value) and np.array_equal(layer.table["A"], value)
    assert not foreign.A.any() and not layer.items[0].any()
    ops.HELPERS["set_nested_of_shape"](env, "obj", [2, 3], {"array": value.tolist(), "shape": [2, 3]}, "n", True)
    assert env["n"] == 3 and np.array_equal(layer.items[0], value.T)   # (3, 2) kept transposed


def test_call_repeatedly_gives_each_call_its_own_copy_of_the_input():
    Spoiler = _submission_class("Spoiler")

    def forward(self, x):
        x *= 2                                 # writes into its input
        return x.sum()

    Spoiler.forward = forward
    env = {"s": Spoiler()}
    ops.HELPERS["call_repeatedly"](env, "s", "forward", [{"array": [1.0, 2.0], "shape": [2]}], 3, "ys")
    assert env["ys"].tolist() == [6.0, 6.0, 6.0]


JUNK = [None, "x", 3, {"dict": {"a": 1}}, {"seq": [1, 2]}, {"b64": "AAAA", "shape": [7]},
        {"b64": "AAAAAAAAAAA=", "shape": [1]}, {"unencodable": "?"}]


def test_no_judge_raises_on_malformed_data():
    for check in assignments.get("section9.6").checks(seed=3):
        for junk in JUNK:
            for vals in ([junk] * 8, [junk], []):
                share, msg = check.judge(vals, None)
                assert 0 <= share < 1 and isinstance(msg, str), (check.id, junk)
        share, msg = check.judge(None, "ZeroDivisionError: boom")
        assert share == 0 and "ZeroDivisionError" in msg

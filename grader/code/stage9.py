"""Hidden checks for the numpy exercises 9.5–9.12, with inputs drawn per grading run.

The student-facing conventions are in SPEC (``peftcalc grade --spec stage9``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.code.checks import FULL, NONE, CodeCheck, arr, as_array, close, failed, shape_text, value

F = Fraction

SPEC = """\
stage9 — implementation exercises 9.5–9.12 (numpy). Submit one file, submission.py (or any .py).
Signatures are exactly those of the exercises. Where the exercises leave a detail open, the grader uses:

9.5  LoRALayer(in_features, out_features, rank=8, alpha=16): attributes A (rank × in_features, Gaussian),
     B (out_features × rank, zeros), scaling = alpha / rank. Rows are tokens: forward(x, W) returns
     x @ W.T + scaling * (x @ A.T @ B.T) for x of shape [..., in_features] (2-D or 3-D) and W of shape
     [out_features, in_features]; merge(W) returns W + scaling * B @ A. The grader sets A and B.
9.6  lora_backward(grad_output, x, A, B, scaling) -> (grad_A, grad_B, grad_x) for h = scaling·x Aᵀ Bᵀ:
     grad_A has A's shape, grad_B has B's shape; grad_x is the LoRA path's gradient (W is not passed).
     x and grad_output may be 2-D or 3-D; gradients are summed over all tokens.
9.7  Adapter(d_model, bottleneck=64): attributes W_down and W_up, stored as (d_model × bottleneck) and
     (bottleneck × d_model) — or transposed, the grader adapts; optional biases b_down, b_up (set to 0).
     forward(x) = x + relu(x W_down) W_up.
9.8  PromptTuning(d_model, prompt_length=20): the soft prompt is the one array attribute of shape
     (prompt_length × d_model); forward prepends it to every sequence of the batch.
9.9  LoRAMultiHeadAttention(d_model, n_heads, rank=8, target_modules=['q','v']): forward(x) returns
     [batch, seq, d_model]; merge_lora() must not change the output; count_trainable_params() counts
     LoRA's A and B only: len(target_modules) · rank · 2 · d_model. LoRA B matrices are the zero
     arrays of shape (d_model × rank) that the grader perturbs before merging.
9.10 analyze_peft_efficiency(model_config, method, method_config): model_config has d_model, n_layers,
     n_heads; method_config has rank (lora), bottleneck (adapter), length (prefix, prompt) — aliases
     r, prefix_length, prompt_length, num_tokens are passed too. Accepted counts: LoRA on 2 (q, v) or
     4 (q, k, v, o) d×d matrices per layer; 1 or 2 adapters per layer, with or without biases; a prefix
     for keys only or keys and values per layer; prompt tuning length × d_model. efficiency_ratio must
     equal trainable_params / total_params.
9.11 LoRAManager(base_model): base_model is a dict layer name → W (out × in); lora_weights is a dict
     layer name → {"A": A, "B": B} with ΔW = B @ A. merge_adapter(name) adds ΔW to base_model in place;
     add_adapter and switch_adapter must not change base_model; combine_adapters must run (combining ΔW
     or combining A and B are both accepted readings).
9.12 quantize_to_4bit(w) -> (q, scale, zero_point) with q integers in [0, 15] (16 levels);
     dequantize_4bit(q, scale, zero_point) -> float array; QLoRALayer(q, scale, zero_point, rank).forward(x)
     returns x @ dequantize(q).T + the LoRA path (B = 0 at init).
"""

def _ret(*names: str) -> list[dict[str, Any]]:
    return [{"op": "return", "ref": n} for n in names]


def _new_lora(d_in: int, d_out: int, r: int, alpha: float) -> dict[str, Any]:
    return {"op": "new", "cls": "LoRALayer", "args": [d_in, d_out], "kwargs": {"rank": r, "alpha": alpha},
            "store": "layer"}


def checks(rng: np.random.Generator) -> list[CodeCheck]:
    out: list[CodeCheck] = []
    out += _lora_layer(rng)
    out += _backward(rng)
    out += _adapter(rng)
    out += _prompt(rng)
    out += _mha(rng)
    out += _analyze()
    out += _manager(rng)
    out += _qlora(rng)
    return out


# ---- 9.5 ---------------------------------------------------------------------------------------------------------


def _lora_layer(rng: np.random.Generator) -> list[CodeCheck]:
    d_in, d_out, r, alpha = 24, 16, 4, 8.0
    s = alpha / r

    def init(vals, err):
        if vals is None:
            return failed(err)
        A, B, scaling = as_array(vals[0]), as_array(vals[1]), value(vals[2])
        notes, share = [], F(0)
        if A is not None and A.shape == (r, d_in):
            share += F(1, 4)
        else:
            notes.append(f"A has {shape_text(A)}, expected ({r}, {d_in}) = (rank, in_features)")
        if B is not None and B.shape == (d_out, r) and not B.any():
            share += F(1, 4)
        elif B is not None and B.shape == (d_out, r):
            notes.append("B must start at zero (so that ΔW = BA = 0 and the layer starts as the pre-trained one)")
        else:
            notes.append(f"B has {shape_text(B)}, expected ({d_out}, {r}) = (out_features, rank)")
        if A is not None and A.size > 1 and A.std() > 0 and abs(A.mean()) < 3 * A.std() / np.sqrt(A.size) + 0.5:
            share += F(1, 4)
        else:
            notes.append("A must be random (Gaussian): a constant or zero A gives B no gradient")
        if isinstance(scaling, (int, float)) and abs(scaling - s) < 1e-9:
            share += F(1, 4)
        else:
            notes.append(f"scaling is {scaling!r}, expected alpha / rank = {alpha:g}/{r} = {s:g}")
        return share, "; ".join(notes) or "A, B and scaling initialised as specified"

    out = [CodeCheck("9.5.init", "9.5", "init: shapes, B = 0, A Gaussian, scaling = alpha/rank", F(4),
                     [{"op": "exec", "helper": "seed", "args": [int(rng.integers(1 << 30))]},
                      _new_lora(d_in, d_out, r, alpha), {"op": "get", "obj": "layer", "attr": "A", "store": "A"},
                      {"op": "get", "obj": "layer", "attr": "B", "store": "B"},
                      {"op": "get", "obj": "layer", "attr": "scaling", "store": "s"}, *_ret("A", "B", "s")],
                     init)]
    W = rng.normal(size=(d_out, d_out))
    A, B = rng.normal(size=(r, d_out)), rng.normal(size=(d_out, r))
    for name, x in (("3-D", rng.normal(size=(2, 5, d_out))), ("2-D", rng.normal(size=(7, d_out)))):
        base, lora = x @ W.T, x @ A.T @ B.T
        candidates = {
            "output is exactly alpha× the LoRA path: scaling should be alpha/rank, not alpha": base + alpha * lora,
            "the LoRA path is not scaled: multiply it by scaling = alpha/rank": base + lora,
            "the LoRA path is missing: add scaling · x Aᵀ Bᵀ": base,
            "the base path is missing: the output must include x Wᵀ": s * lora,
            "W is not transposed: rows are tokens, so use x @ W.T": x @ W + s * lora,
        }

        def forward(vals, err, expected=base + s * lora, candidates=candidates):
            if vals is None:
                return failed(err)
            y = as_array(vals[0])
            if close(y, expected):
                return FULL, "matches the reference"
            for why, cand in candidates.items():
                if close(y, cand):
                    return NONE, why
            return NONE, f"got {shape_text(y)}, expected {tuple(expected.shape)}" if y is None or \
                y.shape != expected.shape else "values differ from Wx + scaling·BAx"

        out.append(CodeCheck(f"9.5.forward.{name}", "9.5", f"forward, {name} input", F(2) if name == "3-D" else F(1),
                             [_new_lora(d_out, d_out, r, alpha), {"op": "set", "obj": "layer", "attr": "A",
                                                                  "value": arr(A)},
                              {"op": "set", "obj": "layer", "attr": "B", "value": arr(B)},
                              {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x), arr(W)],
                               "store": "y"}, *_ret("y")], forward))
    x = rng.normal(size=(3, 4, d_out))

    def identity(vals, err, expected=x @ W.T):
        if vals is None:
            return failed(err)
        return (FULL, "unchanged at init") if close(as_array(vals[0]), expected) else (
            NONE, "at init (B = 0) forward must equal x Wᵀ exactly")

    out.append(CodeCheck("9.5.identity", "9.5", "identity at init", F(1),
                         [_new_lora(d_out, d_out, r, alpha),
                          {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x), arr(W)], "store": "y"},
                          *_ret("y")], identity))

    def merge(vals, err, W=W, A=A, B=B, x=x):
        if vals is None:
            return failed(err)
        merged = as_array(vals[0])
        expected = W + s * B @ A
        if close(merged, expected):
            unmerged = as_array(vals[1])
            if close(unmerged, x @ merged.T):
                return FULL, "W + scaling·BA; merged forward equals the LoRA forward"
            return F(1, 2), "merge is right but forward with the same A, B disagrees with the merged weight"
        if close(merged, W + B @ A):
            return NONE, "merge forgets the scaling: W + (alpha/rank)·B @ A"
        if close(merged, W + alpha * B @ A):
            return NONE, "merge uses alpha instead of alpha/rank"
        return NONE, f"merge(W) gave {shape_text(merged)}; expected W + scaling·B @ A of shape {W.shape}"

    out.append(CodeCheck("9.5.merge", "9.5", "merge(W) and merged == unmerged", F(3),
                         [_new_lora(d_out, d_out, r, alpha), {"op": "set", "obj": "layer", "attr": "A", "value": arr(A)},
                          {"op": "set", "obj": "layer", "attr": "B", "value": arr(B)},
                          {"op": "call", "obj": "layer", "func": "merge", "args": [arr(W)], "store": "m"},
                          {"op": "call", "obj": "layer", "func": "forward", "args": [arr(x), arr(W)], "store": "y"},
                          *_ret("m", "y")], merge))
    return out


# ---- 9.6 ---------------------------------------------------------------------------------------------------------


def _backward(rng: np.random.Generator) -> list[CodeCheck]:
    d_in, d_out, r, s = 12, 10, 3, 2.5
    x, g = rng.normal(size=(2, 4, d_in)), rng.normal(size=(2, 4, d_out))
    A, B = rng.normal(size=(r, d_in)), rng.normal(size=(d_out, r))
    gf, xf = g.reshape(-1, d_out), x.reshape(-1, d_in)
    want = {"grad_A": s * (gf @ B).T @ xf, "grad_B": s * gf.T @ (xf @ A.T), "grad_x": s * g @ B @ A}

    def loss(A_: np.ndarray, B_: np.ndarray) -> float:
        return float(np.sum(g * (s * x @ A_.T @ B_.T)))

    def numeric(M: np.ndarray, which: str, eps: float = 1e-6) -> np.ndarray:
        grad = np.zeros_like(M)
        for idx in np.ndindex(M.shape):
            plus, minus = M.copy(), M.copy()
            plus[idx] += eps
            minus[idx] -= eps
            grad[idx] = ((loss(plus, B) - loss(minus, B)) if which == "A" else (loss(A, plus) - loss(A, minus))) / (2 * eps)
        return grad

    fd = {"grad_A": numeric(A, "A"), "grad_B": numeric(B, "B")}
    ops = [{"op": "call", "func": "lora_backward", "args": [arr(g), arr(x), arr(A), arr(B), s], "store": "out"},
           {"op": "index", "obj": "out", "key": 0, "store": "gA"}, {"op": "index", "obj": "out", "key": 1, "store": "gB"},
           {"op": "index", "obj": "out", "key": 2, "store": "gx"}, *_ret("gA", "gB", "gx")]

    def judge_one(key: str, i: int):
        def judge(vals, err):
            if vals is None:
                return failed(err)
            got = as_array(vals[i])
            exp = want[key]
            if close(got, exp, rtol=1e-5):
                extra = " and agrees with finite differences" if key in fd and close(got, fd[key], rtol=1e-4, atol=1e-5) else ""
                return FULL, f"{key} correct{extra}"
            if got is not None and got.shape == exp.T.shape and got.shape != exp.shape:
                return NONE, f"{key} has shape {got.shape}, expected {exp.shape}: transposed"
            if got is not None and close(got * s, exp, rtol=1e-5):
                return NONE, f"{key} is exactly 1/scaling too small: the LoRA path is multiplied by scaling"
            if got is not None and got.shape != exp.shape:
                return NONE, f"{key} has shape {got.shape}, expected {exp.shape}"
            return NONE, f"{key} values are wrong (finite differences disagree)"
        return judge

    return [CodeCheck(f"9.6.{k}", "9.6", f"lora_backward: {k}", F(2) if k != "grad_x" else F(1), ops, judge_one(k, i)) for i, k in enumerate(("grad_A", "grad_B", "grad_x"))]


# ---- 9.7 ---------------------------------------------------------------------------------------------------------


def _adapter(rng: np.random.Generator) -> list[CodeCheck]:
    d, m = 16, 4
    Wd, Wu = rng.normal(size=(d, m)), rng.normal(size=(m, d))
    x = rng.normal(size=(2, 3, d))
    expected = x + np.maximum(x @ Wd, 0) @ Wu
    ops = [{"op": "new", "cls": "Adapter", "args": [d], "kwargs": {"bottleneck": m}, "store": "ad"},
           {"op": "exec", "helper": "set_fit", "args": ["ad", "W_down", arr(Wd)]},
           {"op": "exec", "helper": "set_fit", "args": ["ad", "W_up", arr(Wu)]},
           {"op": "exec", "helper": "zero_if_present", "args": ["ad", ["b_down", "b_up"]]},
           {"op": "call", "obj": "ad", "func": "forward", "args": [arr(x)], "store": "y"}, *_ret("y")]

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if close(y, expected):
            return FULL, "x + relu(x W_down) W_up"
        if close(y, np.maximum(x @ Wd, 0) @ Wu):
            return NONE, "the residual is missing: return x + up(relu(down(x)))"
        if close(y, x + (x @ Wd) @ Wu):
            return NONE, "the ReLU is missing between the down and up projections"
        return NONE, f"got {shape_text(y)}; expected x + relu(x W_down) W_up of shape {expected.shape}"

    zero_up = [op if op.get("args", [None, None])[1:2] != ["W_up"] else
               {"op": "exec", "helper": "set_fit", "args": ["ad", "W_up", arr(np.zeros((m, d)))]} for op in ops]

    def identity(vals, err):
        if vals is None:
            return failed(err)
        return (FULL, "identity when W_up = 0") if close(as_array(vals[0]), x) else (
            NONE, "with W_up = 0 the adapter must return its input (the residual path)")

    return [CodeCheck("9.7.forward", "9.7", "forward", F(2), ops, judge),
            CodeCheck("9.7.identity", "9.7", "identity when W_up = 0", F(1), zero_up, identity)]


# ---- 9.8 ---------------------------------------------------------------------------------------------------------


def _prompt(rng: np.random.Generator) -> list[CodeCheck]:
    d, p = 8, 3
    P = rng.normal(size=(p, d))
    x = rng.normal(size=(2, 5, d))
    ops = [{"op": "new", "cls": "PromptTuning", "args": [d], "kwargs": {"prompt_length": p}, "store": "pt"},
           {"op": "exec", "helper": "set_array_of_shape", "args": ["pt", [p, d], arr(P)]},
           {"op": "call", "obj": "pt", "func": "forward", "args": [arr(x)], "store": "y"}, *_ret("y")]

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if y is None or y.shape != (2, p + 5, d):
            return NONE, f"output has {shape_text(y)}, expected (batch, prompt_length + seq, d) = (2, {p + 5}, {d})"
        expected = np.concatenate([np.broadcast_to(P, (2, p, d)), x], axis=1)
        if close(y, expected):
            return FULL, "soft prompt prepended to every sequence"
        if close(y, np.concatenate([x, np.broadcast_to(P, (2, p, d))], axis=1)):
            return F(1, 3), "the prompt is appended; it must be prepended (before the input tokens)"
        return F(1, 3), "right shape, but the first prompt_length positions are not the soft prompt"

    return [CodeCheck("9.8.forward", "9.8", "prepend the soft prompt", F(3), ops, judge)]


# ---- 9.9 ---------------------------------------------------------------------------------------------------------


def _mha(rng: np.random.Generator) -> list[CodeCheck]:
    d, h, r = 16, 4, 2
    x = rng.normal(size=(2, 5, d))
    out = []
    for targets in (["q", "v"], ["q", "k", "v", "o"]):
        expected = len(targets) * r * 2 * d

        def count(vals, err, expected=expected, targets=targets):
            if vals is None:
                return failed(err)
            got = value(vals[0])
            if isinstance(got, (int, float)) and got == expected:
                return FULL, f"{expected} = {len(targets)} targets × rank {r} × 2·d_model"
            return NONE, f"count_trainable_params() = {got!r}, expected {expected} (LoRA A and B only)"

        out.append(CodeCheck(f"9.9.count.{''.join(targets)}", "9.9", f"count_trainable_params, targets {targets}", F(1),
                             [{"op": "new", "cls": "LoRAMultiHeadAttention", "args": [d, h],
                               "kwargs": {"rank": r, "target_modules": targets}, "store": "m"},
                              {"op": "call", "obj": "m", "func": "count_trainable_params", "store": "n"}, *_ret("n")],
                             count))

    def merge(vals, err):
        if vals is None:
            return failed(err)
        before, after = as_array(vals[0]), as_array(vals[1])
        if before is None or before.shape != x.shape:
            return NONE, f"forward returned {shape_text(before)}, expected {x.shape}"
        if value(vals[2]) == 0:
            return F(1, 2), "no zero-initialised LoRA B of shape (d_model, rank) found to perturb: cannot check merging"
        if close(after, before, rtol=1e-5, atol=1e-7):
            return FULL, "output unchanged by merge_lora()"
        return F(1, 3), "merge_lora() changes the output: the merged weights must equal W + scaling·BA"

    out.append(CodeCheck("9.9.merge", "9.9", "forward shape; merge_lora keeps the output", F(2),
                         [{"op": "exec", "helper": "seed", "args": [3]},
                          {"op": "new", "cls": "LoRAMultiHeadAttention", "args": [d, h], "kwargs": {"rank": r},
                           "store": "m"},
                          {"op": "exec", "helper": "perturb_zero_arrays", "args": ["m", [d, r], 7, "perturbed"]},
                          {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y0"},
                          {"op": "call", "obj": "m", "func": "merge_lora"},
                          {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y1"},
                          *_ret("y0", "y1", "perturbed")], merge))
    return out


# ---- 9.10 --------------------------------------------------------------------------------------------------------


def _analyze() -> list[CodeCheck]:
    d, L, h = 64, 4, 4
    cfgs = {"lora": {"rank": 8, "r": 8}, "adapter": {"bottleneck": 16, "bottleneck_dim": 16},
            "prefix": {"length": 10, "prefix_length": 10, "num_tokens": 10},
            "prompt": {"length": 20, "prompt_length": 20, "num_tokens": 20}}
    readings = {
        "lora": {L * n * 8 * 2 * d for n in (2, 4)},
        "adapter": {L * n * (2 * d * 16 + b) for n in (1, 2) for b in (0, d + 16)},
        "prefix": {L * n * 10 * d for n in (1, 2)},
        "prompt": {20 * d},
    }
    out = []
    for method, cfg in cfgs.items():
        def judge(vals, err, method=method):
            if vals is None:
                return failed(err)
            res = value(vals[0])
            if not isinstance(res, dict) or "trainable_params" not in res:
                return NONE, "return a dict with trainable_params, total_params, efficiency_ratio, memory_estimate"
            t, total, ratio = res.get("trainable_params"), res.get("total_params"), res.get("efficiency_ratio")
            if t not in readings[method]:
                return NONE, f"{method}: trainable_params = {t!r}; accepted readings: {sorted(readings[method])}"
            if not (isinstance(total, (int, float)) and total >= t and isinstance(ratio, (int, float))
                    and abs(ratio - t / total) <= 1e-9 * max(1.0, t / total)):
                return F(1, 2), "trainable_params is right; efficiency_ratio must equal trainable_params / total_params"
            return FULL, f"{method}: {t:,} trainable"
        out.append(CodeCheck(f"9.10.{method}", "9.10", f"analyze_peft_efficiency: {method}", F(1),
                             [{"op": "call", "func": "analyze_peft_efficiency",
                               "args": [{"d_model": d, "n_layers": L, "n_heads": h}, method, cfg], "store": "res"},
                              *_ret("res")], judge))
    return out


# ---- 9.11 --------------------------------------------------------------------------------------------------------


def _manager(rng: np.random.Generator) -> list[CodeCheck]:
    W = rng.normal(size=(6, 5))
    A1, B1 = rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    A2, B2 = rng.normal(size=(2, 5)), rng.normal(size=(6, 2))
    setup = [{"op": "new", "cls": "LoRAManager", "args": [{"layer": arr(W)}], "store": "mgr"},
             {"op": "call", "obj": "mgr", "func": "add_adapter", "args": ["t1", {"layer": {"A": arr(A1), "B": arr(B1)}}]},
             {"op": "call", "obj": "mgr", "func": "add_adapter", "args": ["t2", {"layer": {"A": arr(A2), "B": arr(B2)}}]}]

    def switch(vals, err):
        if vals is None:
            return failed(err)
        return (FULL, "switching leaves the base weights alone") if close(as_array(vals[0]), W) else (
            NONE, "add_adapter/switch_adapter changed base_model; only merge_adapter may")

    def merge(vals, err):
        if vals is None:
            return failed(err)
        got = as_array(vals[0])
        if close(got, W + B1 @ A1):
            return FULL, "base_model['layer'] = W + B @ A"
        if close(got, W):
            return NONE, "merge_adapter did not change base_model"
        return NONE, "merged weight is not W + B @ A"

    def combine(vals, err):
        return (FULL, "combine_adapters ran") if vals is not None else failed(err)

    base = {"op": "get", "obj": "mgr", "attr": "base_model.layer", "store": "w"}
    return [
        CodeCheck("9.11.switch", "9.11", "add/switch keep the base", F(1),
                  [*setup, {"op": "call", "obj": "mgr", "func": "switch_adapter", "args": ["t2"]}, base, *_ret("w")],
                  switch),
        CodeCheck("9.11.merge", "9.11", "merge_adapter adds B @ A", F(2),
                  [*setup, {"op": "call", "obj": "mgr", "func": "merge_adapter", "args": ["t1"]}, base, *_ret("w")],
                  merge),
        CodeCheck("9.11.combine", "9.11", "combine_adapters runs", F(1),
                  [*setup, {"op": "call", "obj": "mgr", "func": "combine_adapters", "args": [["t1", "t2"], [0.5, 0.5]]},
                   base, *_ret("w")], combine),
    ]


# ---- 9.12 --------------------------------------------------------------------------------------------------------


def _qlora(rng: np.random.Generator) -> list[CodeCheck]:
    w = rng.normal(size=(12, 10))
    x = rng.normal(size=(3, 10))
    step = (w.max() - w.min()) / 15

    def quant(vals, err):
        if vals is None:
            return failed(err)
        q, deq = as_array(vals[0]), as_array(vals[1])
        notes, share = [], F(0)
        if q is not None and q.shape == w.shape and np.all(q == np.round(q)) and q.min() >= 0 and q.max() <= 15:
            levels = len(np.unique(q))
            share += F(1, 2) if levels <= 16 else 0
        else:
            levels = len(np.unique(q)) if q is not None else 0
            notes.append(f"q must hold integers in [0, 15] (4 bits: 16 levels); got {levels} levels"
                         + (f", from {q.min():g} to {q.max():g}" if q is not None and q.size else ""))
        if deq is not None and deq.shape == w.shape and np.max(np.abs(deq - w)) <= step / 2 * 1.001 + 1e-12:
            share += F(1, 2)
        else:
            err_ = float(np.max(np.abs(deq - w))) if deq is not None and deq.shape == w.shape else float("nan")
            notes.append(f"round-trip error {err_:.3g} exceeds half a step ({step / 2:.3g}): check scale and zero_point")
        return share, "; ".join(notes) or "16 levels, round trip within half a step"

    ops = [{"op": "call", "func": "quantize_to_4bit", "args": [arr(w)], "store": "qs"},
           {"op": "index", "obj": "qs", "key": 0, "store": "q"}, {"op": "index", "obj": "qs", "key": 1, "store": "s"},
           {"op": "index", "obj": "qs", "key": 2, "store": "z"},
           {"op": "call", "func": "dequantize_4bit", "args": [{"ref": "q"}, {"ref": "s"}, {"ref": "z"}], "store": "d"}]

    def layer(vals, err):
        if vals is None:
            return failed(err)
        deq, y = as_array(vals[0]), as_array(vals[1])
        if deq is None:
            return NONE, "dequantize_4bit returned no array"
        if close(y, x @ deq.T, rtol=1e-6, atol=1e-8):
            return FULL, "forward = x · dequantize(W)ᵀ at init"
        return NONE, f"QLoRALayer.forward gave {shape_text(y)}; expected x @ dequantize(q).T (B = 0 at init)"

    return [CodeCheck("9.12.quantize", "9.12", "4-bit quantize/dequantize", F(2), [*ops, *_ret("q", "d")], quant),
            CodeCheck("9.12.qlora", "9.12", "QLoRALayer forward at init", F(2),
                      [*ops, {"op": "new", "cls": "QLoRALayer", "args": [{"ref": "q"}, {"ref": "s"}, {"ref": "z"}],
                              "kwargs": {"rank": 4}, "store": "L"},
                       {"op": "call", "obj": "L", "func": "forward", "args": [arr(x)], "store": "y"}, *_ret("d", "y")],
                      layer)]

"""Hidden checks for the torch exercises of Chapter 24: 24.11, 24.12, 24.13, 24.21, 24.26."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.code.checks import FULL, NONE, CodeCheck, as_array, close, failed, shape_text, tensor, value

F = Fraction

SPEC = """\
chapter24 — torch exercises 24.11, 24.12, 24.13, 24.21, 24.26. Submit one .py file.

24.11 class LoRALayer(nn.Module): __init__(self, base: nn.Linear, r=8, alpha=16) with parameters lora_A
      (r × in_features, A ~ N(0, σ²)) and lora_B (out_features × r, zeros); forward(x) = base(x) +
      (alpha/r) · x Aᵀ Bᵀ. replace_linear_with_lora(model, r=8, alpha=16) replaces every nn.Linear (nested
      too) by a LoRALayer, freezes everything but lora_A/lora_B, and returns the model.
24.12 merge_lora(model) folds (alpha/r)·B·A into every LoRALayer's base weight (the layer then skips its
      LoRA path); unmerge_lora(model) restores the original weights. Both return the model.
24.13 collate(batch, pad_token_id=0) -> {"input_ids", "attention_mask", "labels"} (tensors or lists).
      An item is {"prompt": ids, "response": ids} or {"turns": [{"role": "user"|"assistant", "ids": ids}, …]}.
      Sequences are right-padded to the longest in the batch; labels are -100 on prompt/user tokens and on
      padding, the token ids on response/assistant tokens; attention_mask is 1 on real tokens.
24.21 ties_merge(task_vectors, density=0.2, lam=1.0): trim each vector to its top density fraction by
      magnitude, elect the sign of the sum of the trimmed vectors, average the entries that agree with it
      (disjoint mean), times lam.
24.26 dare(delta, p, seed=0): drop each entry with probability p, rescale the kept ones by 1/(1 - p);
      the same seed gives the same result.
"""


def _torch_model(seed: int) -> list[dict[str, Any]]:
    return [{"op": "exec", "helper": "torch_model", "args": ["model", seed]}]


def checks(rng: np.random.Generator) -> list[CodeCheck]:
    return _lora(rng) + _merge(rng) + _collate() + _ties(rng) + _dare(rng)


def _lora(rng: np.random.Generator) -> list[CodeCheck]:
    r, alpha = 4, 8.0
    x = rng.normal(size=(3, 16))
    trainable = r * (16 + 32) + r * (32 + 32) + r * (32 + 8)

    def replaced(vals, err):
        if vals is None:
            return failed(err)
        counts, before, after = value(vals[0]), as_array(vals[1]), as_array(vals[2])
        share, notes = F(0), []
        if isinstance(counts, dict) and counts.get("lora_layers") == 3:
            share += F(1, 3)
        else:
            notes.append(f"expected 3 LoRALayer modules (every nn.Linear, nested too), found "
                         f"{counts.get('lora_layers') if isinstance(counts, dict) else counts!r}")
        if isinstance(counts, dict) and counts.get("trainable") == trainable:
            share += F(1, 3)
        else:
            notes.append(f"trainable parameters {counts.get('trainable') if isinstance(counts, dict) else '?'}, "
                         f"expected {trainable} (only lora_A and lora_B; the base frozen)")
        if close(after, before, rtol=1e-5, atol=1e-6):
            share += F(1, 3)
        else:
            notes.append("the output changed at initialisation: B must start at zero")
        return share, "; ".join(notes) or "3 layers replaced, only LoRA trainable, output identical at init"

    A, B = rng.normal(size=(r, 16)) * 0.3, rng.normal(size=(8, r)) * 0.3
    W, b = rng.normal(size=(8, 16)), rng.normal(size=(8,))
    expected = x @ W.T + b + (alpha / r) * x @ A.T @ B.T

    def forward(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if close(y, expected, rtol=1e-4, atol=1e-5):
            return FULL, "base(x) + (alpha/r)·x Aᵀ Bᵀ"
        if close(y, x @ W.T + b + x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, "the LoRA path is not scaled by alpha/r"
        if close(y, x @ W.T + b + alpha * x @ A.T @ B.T, rtol=1e-4, atol=1e-5):
            return NONE, "output is exactly alpha× the LoRA path: scaling should be alpha/r"
        return NONE, f"got {shape_text(y)}; expected base(x) + (alpha/r)·x Aᵀ Bᵀ"

    def init(vals, err):
        if vals is None:
            return failed(err)
        Aa, Bb = as_array(vals[0]), as_array(vals[1])
        if Aa is None or Bb is None or Aa.shape != (r, 16) or Bb.shape != (8, r):
            return NONE, f"lora_A {shape_text(Aa)} (expected ({r}, 16)), lora_B {shape_text(Bb)} (expected (8, {r}))"
        if Bb.any():
            return NONE, "lora_B must be zero at initialisation"
        if not Aa.std() > 0:
            return NONE, "lora_A must be random (Gaussian)"
        return FULL, "lora_A random, lora_B zero"

    layer = [{"op": "exec", "helper": "seed", "args": [5]}, {"op": "exec", "helper": "linear", "args": ["lin", 16, 8]},
             {"op": "new", "cls": "LoRALayer", "args": [{"ref": "lin"}], "kwargs": {"r": r, "alpha": alpha},
              "store": "L"}]
    return [
        CodeCheck("24.11.replace", "24.11", "replace every nn.Linear; identical output at init", F(3),
                  [*_torch_model(1), {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
                   {"op": "exec", "helper": "call_model", "args": ["model", "x", "y0"]},
                   {"op": "call", "func": "replace_linear_with_lora", "args": [{"ref": "model"}],
                    "kwargs": {"r": r, "alpha": alpha}, "store": "model2"},
                   {"op": "exec", "helper": "count_modules", "args": ["model2", "counts"]},
                   {"op": "exec", "helper": "call_model", "args": ["model2", "x", "y1"]},
                   {"op": "return", "ref": "counts"}, {"op": "return", "ref": "y0"}, {"op": "return", "ref": "y1"}],
                  replaced),
        CodeCheck("24.11.init", "24.11", "lora_A Gaussian, lora_B zero", F(1),
                  [*layer, {"op": "get", "obj": "L", "attr": "lora_A", "store": "A"},
                   {"op": "get", "obj": "L", "attr": "lora_B", "store": "B"},
                   {"op": "return", "ref": "A"}, {"op": "return", "ref": "B"}], init),
        CodeCheck("24.11.forward", "24.11", "forward = Wx + (alpha/r)·BAx", F(2),
                  [*layer, {"op": "exec", "helper": "set_param", "args": ["lin", "weight", tensor(W)]},
                   {"op": "exec", "helper": "set_param", "args": ["lin", "bias", tensor(b)]},
                   {"op": "exec", "helper": "set_param", "args": ["L", "lora_A", tensor(A)]},
                   {"op": "exec", "helper": "set_param", "args": ["L", "lora_B", tensor(B)]},
                   {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
                   {"op": "exec", "helper": "call_model", "args": ["L", "x", "y"]}, {"op": "return", "ref": "y"}],
                  forward),
    ]


def _merge(rng: np.random.Generator) -> list[CodeCheck]:
    x = rng.normal(size=(4, 16))

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y_lora, y_merged, w0, w_merged, w_back = (as_array(v) for v in vals)
        share, notes = F(0), []
        if close(y_merged, y_lora, rtol=1e-4, atol=1e-5):
            share += F(2, 3)
        else:
            notes.append("the merged model's output differs from the LoRA model's: merge W + (alpha/r)·B·A and skip "
                         "the LoRA path afterwards")
        if w0 is not None and close(w_back, w0, rtol=1e-5, atol=1e-6) and not close(w_merged, w0, rtol=1e-7, atol=0):
            share += F(1, 3)
        else:
            notes.append("unmerge_lora must restore the original weights exactly (within float rounding)")
        return share, "; ".join(notes) or "merged == LoRA output; unmerge restores W₀"

    ops = [*_torch_model(2), {"op": "exec", "helper": "tensor_input", "args": ["x", tensor(x)]},
           {"op": "call", "func": "replace_linear_with_lora", "args": [{"ref": "model"}], "kwargs": {"r": 4, "alpha": 8},
            "store": "m"},
           {"op": "exec", "helper": "perturb_lora_B", "args": ["m", 11]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w0"]},
           {"op": "exec", "helper": "call_model", "args": ["m", "x", "y_lora"]},
           {"op": "call", "func": "merge_lora", "args": [{"ref": "m"}]},
           {"op": "exec", "helper": "call_model", "args": ["m", "x", "y_merged"]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w_merged"]},
           {"op": "call", "func": "unmerge_lora", "args": [{"ref": "m"}]},
           {"op": "exec", "helper": "first_weight", "args": ["m", "w_back"]},
           *[{"op": "return", "ref": n} for n in ("y_lora", "y_merged", "w0", "w_merged", "w_back")]]
    return [CodeCheck("24.12.merge", "24.12", "merge == unmerged; unmerge restores", F(3), ops, judge)]


def _collate() -> list[CodeCheck]:
    single = [{"prompt": [5, 6, 7], "response": [8, 9]}, {"prompt": [1], "response": [2, 3, 4, 5]},
              {"prompt": [3, 3], "response": [4]}]
    ids = [[5, 6, 7, 8, 9], [1, 2, 3, 4, 5], [3, 3, 4, 0, 0]]
    labels = [[-100, -100, -100, 8, 9], [-100, 2, 3, 4, 5], [-100, -100, 4, -100, -100]]
    mask = [[1] * 5, [1] * 5, [1, 1, 1, 0, 0]]
    multi = [{"turns": [{"role": "user", "ids": [1, 2]}, {"role": "assistant", "ids": [3]},
                        {"role": "user", "ids": [4]}, {"role": "assistant", "ids": [5, 6]}]},
             {"turns": [{"role": "user", "ids": [7]}, {"role": "assistant", "ids": [8]}]}]
    multi_labels = [[-100, -100, 3, -100, 5, 6], [-100, 8, -100, -100, -100, -100]]

    def judge_single(vals, err):
        if vals is None:
            return failed(err)
        out = value(vals[0])
        if not isinstance(out, dict) or not {"input_ids", "attention_mask", "labels"} <= set(out):
            return NONE, "return a dict with input_ids, attention_mask and labels"
        got = {k: (np.asarray(v).tolist() if v is not None else None) for k, v in out.items()}
        share, notes = F(0), []
        if got["input_ids"] == ids:
            share += F(1, 3)
        else:
            notes.append(f"input_ids {got['input_ids']} — expected right-padding with pad_token_id: {ids}")
        if got["labels"] == labels:
            share += F(1, 3)
        elif got["labels"] == [[i if i else -100 for i in row] for row in ids]:
            notes.append("labels include the instruction tokens: set them to -100 (loss on the response only)")
        else:
            notes.append(f"labels {got['labels']} — expected -100 on prompt and padding: {labels}")
        if got["attention_mask"] == mask:
            share += F(1, 3)
        else:
            notes.append(f"attention_mask {got['attention_mask']} — expected {mask}")
        return share, "; ".join(notes) or "padding, labels and mask as specified"

    def judge_multi(vals, err):
        if vals is None:
            return failed(err)
        out = value(vals[0])
        got = np.asarray(out.get("labels")).tolist() if isinstance(out, dict) and out.get("labels") is not None else None
        return (FULL, "only assistant turns are trained on") if got == multi_labels else (
            NONE, f"multi-turn labels {got} — expected {multi_labels}")

    return [CodeCheck("24.13.single", "24.13", "pad, mask the instruction, attention mask", F(3),
                      [{"op": "call", "func": "collate", "args": [single], "kwargs": {"pad_token_id": 0}, "store": "o"},
                       {"op": "return", "ref": "o"}], judge_single),
            CodeCheck("24.13.multi", "24.13", "variable-length multi-turn conversations", F(1),
                      [{"op": "call", "func": "collate", "args": [multi], "kwargs": {"pad_token_id": 0}, "store": "o"},
                       {"op": "return", "ref": "o"}], judge_multi)]


def ties_reference(tvs: np.ndarray, density: float, lam: float) -> np.ndarray:
    k = max(1, int(round(density * tvs.shape[1])))
    trimmed = np.zeros_like(tvs)
    for i, v in enumerate(tvs):
        keep = np.argsort(-np.abs(v), kind="stable")[:k]
        trimmed[i, keep] = v[keep]
    sign = np.sign(trimmed.sum(axis=0))
    agree = (np.sign(trimmed) == sign) & (trimmed != 0)
    return lam * (trimmed * agree).sum(axis=0) / np.maximum(agree.sum(axis=0), 1)


def _ties(rng: np.random.Generator) -> list[CodeCheck]:
    tvs = rng.normal(size=(3, 50))
    expected = ties_reference(tvs, 0.2, 1.0)

    def judge(vals, err):
        if vals is None:
            return failed(err)
        y = as_array(vals[0])
        if close(y, expected, rtol=1e-4, atol=1e-6):
            return FULL, "trim, elect, disjoint merge"
        if close(y, ties_reference(tvs, 1.0, 1.0), rtol=1e-4, atol=1e-6):
            return NONE, "nothing was trimmed: keep only the top density fraction of each vector by magnitude"
        if close(y, tvs.mean(axis=0), rtol=1e-4, atol=1e-6):
            return NONE, "this is a plain average: TIES trims, elects a sign per entry, and averages only agreeing entries"
        return NONE, f"got {shape_text(y)}; the TIES merge of the three vectors differs"

    return [CodeCheck("24.21.ties", "24.21", "TIES merge", F(3),
                      [{"op": "call", "func": "ties_merge", "args": [[tensor(v) for v in tvs]],
                        "kwargs": {"density": 0.2, "lam": 1.0}, "store": "y"}, {"op": "return", "ref": "y"}],
                      judge)]


def _dare(rng: np.random.Generator) -> list[CodeCheck]:
    delta = rng.normal(size=(4000,)) + 0.1
    p = 0.3

    def judge(vals, err):
        if vals is None:
            return failed(err)
        a, b = as_array(vals[0]), as_array(vals[1])
        if a is None or a.shape != delta.shape:
            return NONE, f"got {shape_text(a)}, expected {delta.shape}"
        share, notes = F(0), []
        dropped = float(np.mean(a == 0))
        # binomial: 4000 draws, sd ≈ 0.0072; 5 sd
        if abs(dropped - p) <= 0.04:
            share += F(1, 4)
        else:
            notes.append(f"{dropped:.1%} of entries dropped, expected p = {p:.0%}")
        kept = a != 0
        if kept.any() and np.allclose(a[kept], delta[kept] / (1 - p), rtol=1e-5):
            share += F(1, 2)
        elif kept.any() and np.allclose(a[kept], delta[kept], rtol=1e-5):
            notes.append("kept entries are not rescaled by 1/(1 - p)")
        else:
            notes.append("kept entries must equal delta / (1 - p)")
        if b is not None and np.array_equal(a, b):
            share += F(1, 4)
        else:
            notes.append("the same seed must give the same result")
        return share, "; ".join(notes) or f"drops {dropped:.1%} ≈ p, rescales by 1/(1-p), reproducible"

    call = {"op": "call", "func": "dare", "args": [tensor(delta), p], "kwargs": {"seed": 7}}
    return [CodeCheck("24.26.dare", "24.26", "DARE: drop with p, rescale, seeded", F(3),
                      [{**call, "store": "a"}, {**call, "store": "b"}, {"op": "return", "ref": "a"},
                       {"op": "return", "ref": "b"}], judge)]

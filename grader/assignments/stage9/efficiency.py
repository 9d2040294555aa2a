"""Exercise 9.10: analyze_peft_efficiency: counts by method (seeds 000/001)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, failed, value
from grader.assignments.stage9.plan import returns

F = Fraction

SPEC = """\
analyze_peft_efficiency(model_config, method, method_config): model_config has d_model, n_layers,
n_heads; method_config has rank (lora), bottleneck (adapter), length (prefix, prompt) — aliases
r, prefix_length, prompt_length, num_tokens are passed too. Accepted counts: LoRA on 2 (q, v) or
4 (q, k, v, o) d×d matrices per layer; 1 or 2 adapters per layer, with or without biases; a prefix
for keys only or keys and values per layer; prompt tuning length × d_model. efficiency_ratio must
equal trainable_params / total_params.
"""


def _analyze(rng: np.random.Generator) -> list[CodeCheck]:
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
                              *returns("res")], judge))
    return out


EXERCISE = Exercise("9.10", "analyze_peft_efficiency: counts by method", SPEC, _analyze)

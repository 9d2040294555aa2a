"""Every sympy symbol peftcalc's formulas use, declared once with its assumptions.

Convention for one weight matrix W ∈ R^{d×k}: ``d`` = out_features (rows), ``k`` = in_features
(columns), as in the LoRA paper (ΔW = BA, B ∈ R^{d×r}, A ∈ R^{r×k}).
"""

from __future__ import annotations

import sympy

_pos_int = {"integer": True, "positive": True}

d = sympy.Symbol("d", **_pos_int)  # out_features of a matrix / hidden size of a model
k = sympy.Symbol("k", **_pos_int)  # in_features of a matrix
r = sympy.Symbol("r", **_pos_int)  # rank
L = sympy.Symbol("L", **_pos_int)  # number of layers
V = sympy.Symbol("V", **_pos_int)  # virtual tokens (prefix / prompt / p-tuning)
S = sympy.Symbol("S", **_pos_int)  # transformer submodules that get prompts (2 for seq2seq)
H = sympy.Symbol("H", **_pos_int)  # hidden size of a reparameterization encoder
m = sympy.Symbol("m", **_pos_int)  # adapter bottleneck
t = sympy.Symbol("t", **_pos_int)  # token dim of prefix key/values (head_dim · kv heads)
N = sympy.Symbol("N", **_pos_int)  # a count of modules

"""LoKr (Yeh et al. 2023, LyCORIS, arXiv 2309.14859): ΔW = W₁ ⊗ W₂ with a low-rank W₂.

With d = a·b (out) and k = c·e (in) factored near their square roots, W₁ is a×c and W₂ is b×e.
Formula (per targeted module, peft's defaults): a*c + r*(b + e) — W₂ is low rank when
r < max(b, e)/2, else full (b·e); W₁ is low rank (r·(a + c)) only with ``decompose_both`` and
r < max(a, c)/2. peft adapts ``nn.Linear`` only (not GPT-2's ``Conv1D``).
Source: peft 0.21 ``tuners/lokr/layer.py: LoKrLayer.update_layer, factorization``.
"""

from __future__ import annotations

import sympy
from pydantic import Field

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, grouped_rows, substitute, total
from peftcalc.symbols import r

a, b, c, e = sympy.symbols("a b c e", integer=True, positive=True)


class LoKrConfig(MethodConfig):
    """Options of LoKr."""

    r: int = Field(8, gt=0, le=1_000_000, description="rank of the decomposed Kronecker factor(s)")
    alpha: float = Field(8.0, gt=0, le=1e9, description="alpha (no effect on counts)")
    targets: list[str] | None = Field(None, description="module names to adapt, or all-linear; default: peft's per model type")
    decompose_both: bool = Field(False, description="also decompose the left factor W₁")
    decompose_factor: int = Field(-1, ge=-1, le=1_000_000, description="factorization divider (-1: near √dim)")


def factorization(dimension: int, factor: int = -1) -> tuple[int, int]:
    """Split ``dimension`` into m ≤ n with m·n = dimension, m near √dimension (or near ``factor``).

    Same result as peft's ``lokr.layer.factorization`` (re-derived, not copied).

    Examples:
        >>> factorization(4096), factorization(768), factorization(127), factorization(128, 4)
        ((64, 64), (24, 32), (1, 127), (4, 32))
    """
    if factor > 0 and dimension % factor == 0:
        return factor, dimension // factor
    limit = dimension if factor == -1 else factor
    m, n = 1, dimension
    while m < n:
        cand = m + 1
        while dimension % cand:
            cand += 1
        # peft stops as soon as the pair's sum grows or the divider passes the limit
        if cand + dimension // cand > m + n or cand > limit:
            break
        m, n = cand, dimension // cand
    return (m, n) if m <= n else (n, m)


def lokr_formula(cfg: LoKrConfig, fan_in: int, fan_out: int) -> tuple[sympy.Expr, dict[sympy.Symbol, int]]:
    out_l, out_k = factorization(fan_out, cfg.decompose_factor)
    in_m, in_n = factorization(fan_in, cfg.decompose_factor)
    full_w1 = not (cfg.decompose_both and cfg.r < max(out_l, in_m) / 2)
    full_w2 = not (cfg.r < max(out_k, in_n) / 2)
    expr = (a * c if full_w1 else r * (a + c)) + (b * e if full_w2 else r * (b + e))
    return expr, {a: out_l, b: out_k, c: in_m, e: in_n, r: cfg.r}


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, LoKrConfig)
    _, modules = tg.select(arch, cfg.targets, method_key="lora", method="LoKr",
                           kinds=frozenset({"linear"}))

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        expr, values = lokr_formula(cfg, mod.in_features, mod.out_features)
        return int(expr.subs(values)), substitute(expr, values)

    rows = grouped_rows(modules, per_module)
    trainable = total(rows)
    return Count(trainable=trainable, added=trainable, saved=trainable, rows=rows, formula=METHOD.formula,
                 formula_scope="per targeted matrix, d = a·b (out), k = c·e (in) factored near √",
                 symbols={"r": cfg.r})


METHOD = Method(
    name="lokr",
    title="LoKr",
    config=LoKrConfig,
    count=count,
    formula=a * c + r * (b + e),
    summary="Kronecker product of a small full factor and a low-rank factor",
    paper="Yeh et al. 2023, Navigating Text-To-Image Customization: LyCORIS, arXiv:2309.14859",
    peft_source="peft/tuners/lokr/layer.py: LoKrLayer.update_layer",
)

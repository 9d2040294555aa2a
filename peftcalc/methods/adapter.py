"""Bottleneck adapters (Houlsby et al. 2019, arXiv 1902.00751; Pfeiffer et al. 2021, arXiv 2005.00247).

Formula (per adapter): 2*m*d + m + d (2*m*d without biases).
One adapter is down-projection d→m, non-linearity, up-projection m→d, residual:
2*m*d + m + d parameters with biases (2*m*d without). Houlsby inserts two per transformer block
(after attention and after the feed-forward), Pfeiffer one (after the feed-forward). Blocks of an
encoder-decoder model are counted in both stacks. The paper also trains layer norms; peftcalc counts
adapter weights only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from peftcalc.arch.model import Arch
from peftcalc.errors import InputError
from peftcalc.methods.base import Count, Method, MethodConfig, Row, substitute
from peftcalc.symbols import d, m


class AdapterConfig(MethodConfig):
    """Options of bottleneck adapters."""

    bottleneck: int = Field(64, gt=0, le=10_000_000, description="bottleneck width m")
    variant: Literal["houlsby", "pfeiffer"] = Field("houlsby", description="houlsby: 2 per block; pfeiffer: 1")
    adapter_bias: bool = Field(True, description="down/up projections have biases (2md + m + d)")


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, AdapterConfig)
    if cfg.bottleneck > arch.hidden_size:
        raise InputError("--bottleneck", cfg.bottleneck, f"a positive integer ≤ d = {arch.hidden_size} (a bottleneck)")
    formula = 2 * m * d + (m + d if cfg.adapter_bias else 0)
    values = {m: cfg.bottleneck, d: arch.hidden_size}
    per_block = 2 if cfg.variant == "houlsby" else 1
    each = int(formula.subs(values))
    rows = (Row(f"adapters ({per_block} per block × {arch.blocks} blocks)", per_block * arch.blocks, each,
                substitute(formula, values), f"{arch.hidden_size}→{cfg.bottleneck}→{arch.hidden_size}"),)
    trainable = rows[0].params
    return Count(trainable=trainable, added=trainable, saved=trainable, rows=rows, formula=formula,
                 formula_scope="per adapter (d = hidden size, m = bottleneck)",
                 notes=(f"{cfg.variant}: {per_block} adapter(s) per transformer block",),
                 symbols={"m": cfg.bottleneck, "d": arch.hidden_size})


METHOD = Method(
    name="adapter",
    title="Bottleneck adapters",
    config=AdapterConfig,
    count=count,
    formula=2 * m * d + m + d,
    summary="small bottleneck MLPs with a residual, inserted in every block (adds inference latency)",
    paper="Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP, arXiv:1902.00751",
    peft_source="not a peft tuner (the adapters library's bottleneck adapters)",
)

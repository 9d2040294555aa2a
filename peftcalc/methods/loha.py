"""LoHa (Hyeon-Woo et al. 2022, FedPara, arXiv 2108.06098): ΔW = (B₁A₁) ⊙ (B₂A₂).

Formula (per targeted module): 2*r*(d + k). peft adapts ``nn.Linear`` (and convolutions) only, not
transformers' ``Conv1D`` (GPT-2). Source: peft 0.21 ``tuners/loha/layer.py: create_adapter_parameters``.
"""

from __future__ import annotations

from pydantic import Field

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, grouped_rows, substitute, total
from peftcalc.symbols import d, k, r


class LoHaConfig(MethodConfig):
    """Options of LoHa."""

    r: int = Field(8, gt=0, le=1_000_000, description="rank of each of the two Hadamard factors")
    alpha: float = Field(8.0, gt=0, le=1e9, description="alpha (no effect on counts)")
    targets: list[str] | None = Field(None, description="module names to adapt, or all-linear; default: peft's per model type")


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, LoHaConfig)
    formula = 2 * r * (d + k)
    _, modules = tg.select(arch, cfg.targets, method_key="lora", method="LoHa",
                           kinds=frozenset({"linear"}))

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        values = {r: cfg.r, d: mod.out_features, k: mod.in_features}
        return int(formula.subs(values)), substitute(formula, values)

    rows = grouped_rows(modules, per_module)
    trainable = total(rows)
    return Count(trainable=trainable, added=trainable, saved=trainable, rows=rows, formula=formula,
                 formula_scope="per targeted matrix (d = out_features, k = in_features)", symbols={"r": cfg.r})


METHOD = Method(
    name="loha",
    title="LoHa",
    config=LoHaConfig,
    count=count,
    formula=2 * r * (d + k),
    summary="Hadamard product of two low-rank products: rank up to r² for twice LoRA's parameters",
    paper="Hyeon-Woo et al. 2022, FedPara: Low-Rank Hadamard Product, arXiv:2108.06098",
    peft_source="peft/tuners/loha/layer.py: LoHaLayer.create_adapter_parameters",
)

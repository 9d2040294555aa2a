"""AdaLoRA (Zhang et al. 2023, arXiv 2303.10512): SVD-shaped P·Λ·Q whose rank budget is pruned in training.

Formula (per targeted module, at initialisation): init_r*(d + k) + init_r (the singular values E).
Each adapted module also holds one frozen ``ranknum`` scalar (in peft's "all", not trainable).
The saved adapter is pruned to the final budget: on average target_r per module.
Source: peft 0.21 ``tuners/adalora/layer.py: AdaLoraLayer.update_layer`` (lora_A, lora_E, lora_B, ranknum).
"""

from __future__ import annotations

import sympy
from pydantic import Field, model_validator

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, grouped_rows, substitute, total
from peftcalc.methods.lora import check_rank
from peftcalc.symbols import d, k, r

init_r = sympy.Symbol("init_r", integer=True, positive=True)


class AdaLoraConfig(MethodConfig):
    """Options of AdaLoRA (``r`` is peft's ``target_r``, the average final rank)."""

    r: int = Field(8, gt=0, le=1_000_000, description="target_r: average rank left after pruning")
    init_r: int = Field(12, gt=0, le=1_000_000, description="initial rank of every module")
    alpha: float = Field(8.0, gt=0, le=1e9, description="lora_alpha (no effect on counts)")
    targets: list[str] | None = Field(None, description="module names to adapt, or all-linear; default: peft's per model type")

    @model_validator(mode="after")
    def _budget_shrinks(self) -> AdaLoraConfig:
        if self.r > self.init_r:
            raise InputError("--r", self.r, f"≤ --init-r = {self.init_r} (AdaLoRA prunes from init_r down to r)")
        return self


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, AdaLoraConfig)
    formula = init_r * (d + k) + init_r
    _, modules = tg.select(arch, cfg.targets, method_key="adalora", method="AdaLoRA")
    rank_notes = check_rank(cfg.init_r, modules, field="--init-r", strict=arch.model_type == "matrix")

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        values = {init_r: cfg.init_r, d: mod.out_features, k: mod.in_features}
        return int(formula.subs(values)), substitute(formula, values)

    rows = grouped_rows(modules, per_module)
    trainable = total(rows)
    saved = sum(cfg.r * (m.in_features + m.out_features + 1) for m in modules)
    return Count(
        trainable=trainable,
        added=trainable + len(modules),  # + one frozen ranknum per module
        saved=saved,
        rows=rows,
        formula=formula,
        formula_scope="per targeted matrix at initialisation (d = out_features, k = in_features)",
        notes=(
            f"{len(modules)} frozen ranknum scalars (one per module) count in peft's 'all', not as trainable",
            f"checkpoint: pruned to the budget, on average r = {cfg.r} per module: Σ r·(d + k + 1) "
            "(exact only if the budget is spread evenly)",
            *rank_notes,
        ),
        symbols={"init_r": cfg.init_r, "r": cfg.r},
    )


METHOD = Method(
    name="adalora",
    title="AdaLoRA",
    config=AdaLoraConfig,
    count=count,
    formula=init_r * (d + k) + init_r,
    summary="LoRA in SVD form whose rank budget is reallocated and pruned during training",
    paper="Zhang et al. 2023, Adaptive Budget Allocation for Parameter-Efficient Fine-Tuning, arXiv:2303.10512",
    peft_source="peft/tuners/adalora/layer.py: AdaLoraLayer.update_layer",
)

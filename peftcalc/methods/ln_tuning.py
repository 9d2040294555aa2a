"""LN tuning (Zhao et al. 2023, arXiv 2312.11420): train (a copy of) the normalization layers only.

Formula: Σ numel of the targeted norms (weight, plus bias where the norm has one). peft keeps the
original frozen and trains a copy, so its "all" counts both. Source: peft 0.21
``tuners/ln_tuning/layer.py: LNTuningLayer`` (deep copy of the base layer).
"""

from __future__ import annotations

from pydantic import Field

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, grouped_rows, total
from peftcalc.symbols import d


class LNTuningConfig(MethodConfig):
    """Options of LN tuning."""

    targets: list[str] | None = Field(None, description="norm module names; default: peft's per model type")


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, LNTuningConfig)
    _, modules = tg.select(arch, cfg.targets, method_key="ln_tuning", method="LN tuning",
                           kinds=frozenset({"norm"}))

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        has_bias = "bias" in mod.params
        return mod.numel, f"{'2·' if has_bias else ''}d = {'2·' if has_bias else ''}{mod.out_features}"

    rows = grouped_rows(modules, per_module)
    trainable = total(rows)
    return Count(trainable=trainable, added=trainable, saved=trainable, rows=rows, formula=d,
                 formula_scope="per targeted norm (d weights, + d biases for LayerNorm)",
                 notes=("peft trains a copy of each norm; its 'all' counts original and copy",))


METHOD = Method(
    name="ln_tuning",
    title="LN tuning",
    config=LNTuningConfig,
    count=count,
    formula=d,
    summary="only the normalization layers are trained",
    paper="Zhao et al. 2023, Tuning LayerNorm in Attention, arXiv:2312.11420",
    peft_source="peft/tuners/ln_tuning/layer.py: LNTuningLayer",
    matrix_level=False,
)

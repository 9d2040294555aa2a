"""VeRA (Kopiczko et al. 2024, arXiv 2310.11454): frozen random A, B shared by all layers; train two vectors.

Formula (per targeted module): r + d (λ_d has r entries, λ_b has d). The shared A (r × max k) and
B (max d × r) are buffers: not parameters, so not in peft's counts, but saved unless
``save_projection=False``. Source: peft 0.21 ``tuners/vera/layer.py: VeraLayer.update_layer``,
``tuners/vera/model.py: _find_dim``.
"""

from __future__ import annotations

from pydantic import Field

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, Row, grouped_rows, substitute, total
from peftcalc.symbols import d, r


class VeraConfig(MethodConfig):
    """Options of VeRA."""

    r: int = Field(256, gt=0, le=1_000_000, description="rank of the shared random projections")
    targets: list[str] | None = Field(None, description="module names to adapt, or all-linear; default: peft's per model type")
    save_projection: bool = Field(True, description="save the shared A and B in the checkpoint (peft's default)")


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, VeraConfig)
    formula = r + d
    _, modules = tg.select(arch, cfg.targets, method_key="vera", method="VeRA")

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        values = {r: cfg.r, d: mod.out_features}
        return int(formula.subs(values)), substitute(formula, values)

    rows = grouped_rows(modules, per_module)
    trainable = total(rows)
    max_in = max(m.in_features for m in modules)
    max_out = max(m.out_features for m in modules)
    projections = cfg.r * max_in + max_out * cfg.r
    return Count(
        trainable=trainable,
        added=trainable,
        saved=trainable + (projections if cfg.save_projection else 0),
        rows=rows + (Row("shared vera_A, vera_B (buffers, frozen)", 1, 0, f"r·max_k + max_d·r = {projections:,} not counted"),),
        formula=formula,
        formula_scope="per targeted matrix (d = out_features)",
        notes=(f"shared projections A ({cfg.r}×{max_in}) and B ({max_out}×{cfg.r}) are buffers: "
               f"{projections:,} values, {'saved' if cfg.save_projection else 'not saved'} in the checkpoint",),
        symbols={"r": cfg.r},
    )


METHOD = Method(
    name="vera",
    title="VeRA",
    config=VeraConfig,
    count=count,
    formula=r + d,
    summary="shared frozen random low-rank matrices; only two scaling vectors per module are trained",
    paper="Kopiczko et al. 2024, VeRA: Vector-based Random Matrix Adaptation, arXiv:2310.11454",
    peft_source="peft/tuners/vera/layer.py: VeraLayer.update_layer",
)

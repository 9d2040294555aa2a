"""(IA)³ (Liu et al. 2022, arXiv 2205.05638): learned vectors that rescale activations.

Formula (per targeted module): k for feed-forward modules (they scale their *input*), d otherwise
(scale the output). peft marks a module feed-forward when its name ends with one of
``feedforward_modules`` (plain ``endswith``, no dot). Source: peft 0.21 ``tuners/ia3/layer.py``,
``tuners/ia3/model.py: _check_target_module_feedforward``.
"""

from __future__ import annotations

from pydantic import Field

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, grouped_rows, total
from peftcalc.symbols import d, k


class IA3Config(MethodConfig):
    """Options of (IA)³."""

    targets: list[str] | None = Field(None, description="module names to rescale; default: peft's per model type")
    feedforward: list[str] | None = Field(
        None, description="targets that scale their input (feed-forward); default: peft's per model type"
    )


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, IA3Config)
    names, modules = tg.select(arch, cfg.targets, method_key="ia3", method="IA3")
    if cfg.feedforward is not None:
        feedforward = cfg.feedforward
    elif cfg.targets is None or arch.model_type == "matrix":
        feedforward = list(arch.default_targets("ia3_feedforward") or ())
    else:
        feedforward = [f for f in list(arch.default_targets("ia3_feedforward") or ()) if f in names]
    for ff in feedforward:
        if ff not in names:  # peft: feedforward_modules must be a subset of target_modules
            raise InputError("--feedforward", ff, f"one of the targets ({', '.join(names)})")

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        if any(mod.name.endswith(ff) for ff in feedforward):
            return mod.in_features, f"k = {mod.in_features} (feed-forward: scales the input)"
        return mod.out_features, f"d = {mod.out_features}"

    rows = grouped_rows(modules, per_module)
    trainable = total(rows)
    return Count(trainable=trainable, added=trainable, saved=trainable, rows=rows, formula=d,
                 formula_scope="per targeted matrix: d (out) for attention, k (in) for feed-forward modules",
                 notes=(f"feed-forward modules: {', '.join(feedforward) or 'none'}",))


METHOD = Method(
    name="ia3",
    title="IA3",
    config=IA3Config,
    count=count,
    formula=d,
    summary="learned vectors rescaling keys, values and feed-forward activations",
    paper="Liu et al. 2022, Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context Learning, arXiv:2205.05638",
    peft_source="peft/tuners/ia3/layer.py: IA3Layer.update_layer",
)

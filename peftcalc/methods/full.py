"""Full fine-tuning: every parameter of the model is trained (the baseline every PEFT method beats).

Formula: P = Σ numel of every parameter.
Source: peft 0.21 `peft_model.py: get_nb_trainable_parameters` counts the same Σ numel as "all".
"""

from __future__ import annotations

import sympy

from peftcalc.arch.model import Arch
from peftcalc.methods.base import Count, Method, MethodConfig, Row

P = sympy.Symbol("P", integer=True, positive=True)


class FullConfig(MethodConfig):
    """Full fine-tuning has no options."""


def count(cfg: MethodConfig, arch: Arch) -> Count:
    params = arch.total_params
    return Count(trainable=params, added=0, saved=params, rows=(Row("every parameter", 1, params, "P"),),
                 formula=P, formula_scope="whole model (P = total parameters)")


METHOD = Method(
    name="full",
    title="Full fine-tuning",
    config=FullConfig,
    count=count,
    formula=P,
    summary="every weight is trained and saved",
    paper="baseline",
    peft_source="not a peft tuner",
)

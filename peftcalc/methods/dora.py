"""DoRA (Liu et al. 2024, arXiv 2402.09353): LoRA on the direction plus a learned magnitude per row.

Formula (per targeted module): r*(d + k) + d. Source: peft 0.21 ``tuners/lora/dora.py``
(``lora_magnitude_vector`` has out_features entries); peft builds DoRA as ``LoraConfig(use_dora=True)``.
"""

from __future__ import annotations

from peftcalc.arch.model import Arch
from peftcalc.methods.base import Count, Method, MethodConfig
from peftcalc.methods.lora import LoraConfig, count_lora
from peftcalc.symbols import d, k, r


class DoraConfig(LoraConfig):
    """Options of DoRA: those of LoRA (``use_dora=True`` in peft)."""


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, LoraConfig)
    return count_lora(cfg, arch, dora=True)


METHOD = Method(
    name="dora",
    title="DoRA",
    config=DoraConfig,
    count=count,
    formula=r * (d + k) + d,
    summary="LoRA on the weight's direction plus a trainable magnitude per output row",
    paper="Liu et al. 2024, DoRA: Weight-Decomposed Low-Rank Adaptation, arXiv:2402.09353",
    peft_source="peft/tuners/lora/dora.py: DoraLinearLayer",
)

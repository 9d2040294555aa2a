"""Every model family peftcalc builds without torch: one file each, one line here.

Adding a family = a file ``<model_type>.py`` defining ``FAMILY`` + its line below; the CLI, the method
defaults, the activation model and the cross-check tests follow from the registry.
"""

from __future__ import annotations

from peftcalc.arch.family import Family
from peftcalc.arch.families import (bert, bloom, falcon, gemma2, gemma3_text, gpt2, gpt_neox, gpt_oss, llama, mistral,
                                    mixtral, modernbert, opt, phi3, qwen2, qwen3, qwen3_moe, roberta, t5, xlm_roberta)

FAMILIES: dict[str, Family] = {f.model_type: f for f in (
    llama.FAMILY,
    mistral.FAMILY,
    qwen2.FAMILY,
    qwen3.FAMILY,
    gemma2.FAMILY,
    gemma3_text.FAMILY,
    phi3.FAMILY,
    mixtral.FAMILY,
    qwen3_moe.FAMILY,
    gpt_oss.FAMILY,
    falcon.FAMILY,
    gpt_neox.FAMILY,
    bloom.FAMILY,
    opt.FAMILY,
    gpt2.FAMILY,
    bert.FAMILY,
    roberta.FAMILY,
    xlm_roberta.FAMILY,
    modernbert.FAMILY,
    t5.FAMILY,
)}

"""XLM-RoBERTa: RoBERTa's encoder with a 250K vocabulary (transformers 5.x ``modeling_xlm_roberta.py``), with peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.encoder import build_encoder, encoder_heads
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_encoder(cfg, name, head, root="roberta", mlm="roberta")


FAMILY = Family("xlm-roberta", build, encoder_heads("XLMRoberta"), dropout=True, softmax_in_model_dtype=True, summary="XLM-RoBERTa: RoBERTa's encoder with a 250K vocabulary",
                defaults={"lora": ('query', 'value')})

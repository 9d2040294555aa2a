"""BERT (transformers 5.x ``modeling_bert.py``), with peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.encoder import build_encoder, encoder_heads
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_encoder(cfg, name, head, root="bert", mlm="bert")


FAMILY = Family("bert", build, encoder_heads("Bert"), dropout=True, softmax_in_model_dtype=True, summary="BERT",
                defaults={"lora": ('query', 'value'),
                          "adalora": ('query', 'value'),
                          "ia3": ('key', 'value', 'output.dense'),
                          "ia3_feedforward": ('output.dense',)})

"""Phi-3 / Phi-4: fused qkv_proj and gate_up_proj. transformers 5.x ``modeling_phi3.py``; peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.decoder import DecoderShape, build_decoder, decoder_heads
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch

SHAPE = DecoderShape(fused_qkv=True, fused_gate_up=True)


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_decoder(cfg, name, head, shape=SHAPE)


FAMILY = Family("phi3", build, rms_norm=True, heads=decoder_heads("Phi3"), defaults={},
                summary="Phi-3 / Phi-4: fused qkv_proj and gate_up_proj")

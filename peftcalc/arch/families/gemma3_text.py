"""Gemma 3 (text): Gemma 2's block with q/k norms. transformers 5.x ``modeling_gemma3.py``; peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.decoder import DecoderShape, build_decoder, decoder_heads
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch

SHAPE = DecoderShape(qk_norm=True, sandwich_norms=True, tied_default=True)


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_decoder(cfg, name, head, shape=SHAPE)


FAMILY = Family("gemma3_text", build, rms_norm=True, heads=decoder_heads("Gemma3"), defaults={"lora": ('q_proj', 'v_proj'), "adalora": ('q_proj', 'v_proj'), "ia3": ('q_proj', 'v_proj', 'down_proj'), "ia3_feedforward": ('down_proj',), "ln_tuning": ('input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm', 'norm')},
                summary="Gemma 3 (text): Gemma 2's block with q/k norms")

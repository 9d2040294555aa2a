"""Mixtral (transformers 5.x ``modeling_mixtral.py``): llama's attention, a MoE feed-forward of
``num_local_experts`` SwiGLU experts stored fused (3-D ``gate_up_proj``/``down_proj``) and a router
(``mlp.gate``). peft 0.21.2's defaults name ``w2`` for IA3, an expert layer the fused layout no longer
has: only ``k_proj``/``v_proj`` match (peft skips what matches nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.decoder import DecoderShape, build_decoder, decoder_heads, fused_experts
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def _moe(mods: Modules, p: str, rd: Reader, hidden: int, layer: int) -> None:
    fused_experts(mods, p, experts=rd.int("num_local_experts"), hidden=hidden, inter=rd.int("intermediate_size"))


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_decoder(cfg, name, head, shape=DecoderShape(), feed_forward=_moe)


FAMILY = Family("mixtral", build, rms_norm=True, heads=decoder_heads("Mixtral"), summary="Mixtral: 8 fused SwiGLU experts per block",
                defaults={"lora": ("q_proj", "v_proj"), "ia3": ("k_proj", "v_proj", "w2"), "ia3_feedforward": ("w2",)},
                moe_targets={"gate": "gate.weight", "w1": "gate_up_proj", "w3": "gate_up_proj", "w2": "down_proj"},
                moe_fused={"gate_up_proj": ("w1", "w3")})

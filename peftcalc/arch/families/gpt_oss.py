"""gpt-oss (transformers 5.x ``modeling_gpt_oss.py``): biased attention with one learned sink per head, a MoE
of ``num_local_experts`` fused experts with biases (``gate_up_proj`` is hidden × 2·intermediate per expert)
and a biased router (``mlp.router``). peft 0.21.2 has no default targets for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.decoder import DecoderShape, build_decoder, decoder_heads, fused_experts
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def _moe(mods: Modules, p: str, rd: Reader, hidden: int, layer: int) -> None:
    fused_experts(mods, p, experts=rd.int("num_local_experts"), hidden=hidden, inter=rd.int("intermediate_size"),
                  bias=True, router="router", router_bias=True, transposed=True)


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_decoder(cfg, name, head, shape=DecoderShape(attention_sinks=True), feed_forward=_moe)


FAMILY = Family("gpt_oss", build, rms_norm=True, heads=decoder_heads("GptOss"), summary="gpt-oss: attention sinks, biased fused experts")

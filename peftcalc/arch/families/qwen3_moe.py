"""Qwen3-MoE (transformers 5.x ``modeling_qwen3_moe.py``): Qwen3's attention (q/k norms), and in every
``decoder_sparse_step``-th layer not listed in ``mlp_only_layers`` a MoE of ``num_experts`` fused experts
of width ``moe_intermediate_size`` with a router (no shared expert); other layers keep a dense SwiGLU MLP.
peft 0.21.2 has no default targets for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.decoder import DecoderShape, build_decoder, decoder_heads, dense_mlp, fused_experts
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError

SHAPE = DecoderShape(qk_norm=True)


def _moe(mods: Modules, p: str, rd: Reader, hidden: int, layer: int) -> None:
    dense_only = rd.cfg.get("mlp_only_layers") or []
    if not isinstance(dense_only, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in dense_only):
        raise InputError(f"{rd.where}: mlp_only_layers", dense_only, "a list of layer indices")
    step = rd.int("decoder_sparse_step", default=1)
    if layer not in dense_only and rd.int("num_experts") > 0 and (layer + 1) % step == 0:
        fused_experts(mods, p, experts=rd.int("num_experts"), hidden=hidden, inter=rd.int("moe_intermediate_size"))
    else:
        dense_mlp(mods, p, rd, hidden, layer, shape=SHAPE, inter=rd.int("intermediate_size"), bias=False)


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    return build_decoder(cfg, name, head, shape=SHAPE, feed_forward=_moe)


FAMILY = Family("qwen3_moe", build, rms_norm=True, heads=decoder_heads("Qwen3Moe"), summary="Qwen3-MoE: fused experts, q/k norms",
                moe_targets={"gate": "gate.weight", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj",
                             "down_proj": "down_proj"},
                moe_fused={"gate_up_proj": ("gate_proj", "up_proj")})

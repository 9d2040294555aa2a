"""DeepSeek-V2 (transformers 5.x ``modeling_deepseek_v2.py``): multi-head latent attention — queries through a
rank-``q_lora_rank`` bottleneck (``q_a_proj``, a norm, ``q_b_proj``; a plain ``q_proj`` when it is null),
keys and values through ``kv_a_proj_with_mqa`` (kv_lora_rank + the shared RoPE key) and ``kv_b_proj`` —
the first ``first_k_dense_replace`` layers with a dense SwiGLU MLP, the rest a MoE of ``n_routed_experts``
fused experts, a router and ``n_shared_experts`` shared experts as one SwiGLU MLP (plain ``nn.Linear``s).
peft 0.21.2 has no default targets; its MoE conversion (Qwen2-MoE's names: gate_proj + up_proj fused,
down_proj, gate) applies, so ``down_proj`` reaches the shared expert, the dense layers and the experts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.decoder import decoder_heads, fused_experts
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def _swiglu(mods: Modules, prefix: str, hidden: int, inter: int) -> None:
    mods.linear(f"{prefix}.gate_proj", hidden, inter, bias=False, role="gate")
    mods.linear(f"{prefix}.up_proj", hidden, inter, bias=False, role="up")
    mods.linear(f"{prefix}.down_proj", inter, hidden, bias=False, role="down")


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden, heads, layers, vocab = rd.core()
    inter = rd.int("intermediate_size")
    q_rank = cfg.get("q_lora_rank")
    kv_rank = rd.int("kv_lora_rank")
    rope, nope, v_dim = rd.int("qk_rope_head_dim"), rd.int("qk_nope_head_dim"), rd.int("v_head_dim")
    bias = rd.bool("attention_bias", False)
    dense_layers = rd.int("first_k_dense_replace", default=0, minimum=0)
    experts, moe_inter = rd.int("n_routed_experts"), rd.int("moe_intermediate_size")
    shared = rd.int("n_shared_experts", default=0, minimum=0)
    root = "" if head == "base" else "model."
    mods = Modules()
    mods.embedding(f"{root}embed_tokens", vocab, hidden)
    for i in range(layers):
        p = f"{root}layers.{i}"
        a = f"{p}.self_attn"
        if q_rank is None:
            mods.linear(f"{a}.q_proj", hidden, heads * (nope + rope), bias=False, role="q")
        else:
            q_rank = rd.int("q_lora_rank")
            mods.linear(f"{a}.q_a_proj", hidden, q_rank, bias=bias, role="q")
            mods.norm(f"{a}.q_a_layernorm", q_rank, bias=False)
            mods.linear(f"{a}.q_b_proj", q_rank, heads * (nope + rope), bias=False, role="q")
        mods.linear(f"{a}.kv_a_proj_with_mqa", hidden, kv_rank + rope, bias=bias, role="kv")
        mods.norm(f"{a}.kv_a_layernorm", kv_rank, bias=False)
        mods.linear(f"{a}.kv_b_proj", kv_rank, heads * (nope + v_dim), bias=False, role="kv")
        mods.linear(f"{a}.o_proj", heads * v_dim, hidden, bias=bias, role="o")
        if i < dense_layers:
            _swiglu(mods, f"{p}.mlp", hidden, inter)
        else:
            fused_experts(mods, p, experts=experts, hidden=hidden, inter=moe_inter)
            if shared:
                _swiglu(mods, f"{p}.mlp.shared_experts", hidden, moe_inter * shared)
        mods.norm(f"{p}.input_layernorm", hidden, bias=False)
        mods.norm(f"{p}.post_attention_layernorm", hidden, bias=False)
    mods.norm(f"{root}norm", hidden, bias=False)
    output_head = mods.lm_head(head, hidden, vocab, embedding=f"{root}embed_tokens",
                               tied=rd.bool("tie_word_embeddings", False))
    return Arch(name=name, model_type="deepseek_v2", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=rd.int("num_key_value_heads", default=heads), head_dim=v_dim, vocab_size=vocab,
                intermediate_size=inter, output_head=output_head, modules=tuple(mods.items), gated_mlp=True,
                # DeepseekV2Config sets head_dim = qk_rope_head_dim, which is what peft's prefix reads
                prefix_width=rope * rd.int("num_key_value_heads", default=heads))


FAMILY = Family("deepseek_v2", build, rms_norm=True, heads=decoder_heads("DeepseekV2"), summary="DeepSeek-V2: latent attention, MoE",
                moe_targets={"gate": "gate.weight", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj",
                             "down_proj": "down_proj"},
                moe_fused={"gate_up_proj": ("gate_proj", "up_proj")})

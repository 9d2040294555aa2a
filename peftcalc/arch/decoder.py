"""The llama-style decoder that most current families share: RMSNorm, GQA attention, a gated MLP, a
causal-LM head — with the switches that tell the families apart (biases, per-head q/k norms, Gemma's
extra norms, Phi-3's fused projections, a MoE feed-forward), each read from the config by its family."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from peftcalc.arch.builder import Modules, Reader, attention_dims
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError


@dataclass(frozen=True)
class DecoderShape:
    """How one family's block differs from llama's."""

    qkv_bias: bool = False          # q, k, v biases (qwen2), in addition to `attention_bias`
    qk_norm: bool = False           # RMSNorm over each head of q and k (qwen3, gemma3)
    sandwich_norms: bool = False    # gemma2/3: pre- and post-feedforward norms besides the two usual ones
    fused_qkv: bool = False         # phi3: one qkv_proj
    fused_gate_up: bool = False     # phi3: one gate_up_proj
    tied_default: bool = False      # tie_word_embeddings when the config does not say (gemma: True)
    attention_sinks: bool = False   # gpt-oss: one learned sink logit per head (a bare parameter)


# a MoE family's feed-forward: called with (modules, block prefix, reader, hidden, layer) in place of the MLP
FeedForward = Callable[[Modules, str, Reader, int, int], None]


def fused_experts(mods: Modules, p: str, *, experts: int, hidden: int, inter: int, bias: bool = False,
                  router: str = "gate", router_bias: bool = False, transposed: bool = False) -> None:
    """transformers 5.x MoE blocks: one module holding every expert's fused gate+up and down weights as 3-D
    parameters (no nn.Linear: peft's ``all-linear`` and name targets do not reach them), and the router.
    ``transposed``: stored (E, in, out) as gpt-oss does, not (E, out, in)."""
    mods.parameters(f"{p}.mlp.{router}", {"weight": (experts, hidden), **({"bias": (experts,)} if router_bias else {})},
                    role="router", fan_in=hidden, fan_out=experts)
    gate_up, down = ((experts, hidden, 2 * inter), (experts, inter, hidden)) if transposed else \
        ((experts, 2 * inter, hidden), (experts, hidden, inter))
    shapes: dict[str, tuple[int, ...]] = {"gate_up_proj": gate_up, "down_proj": down}
    if bias:
        shapes.update(gate_up_proj_bias=(experts, 2 * inter), down_proj_bias=(experts, hidden))
    mods.parameters(f"{p}.mlp.experts", shapes, role="experts", fan_in=hidden, fan_out=hidden)


def dense_mlp(mods: Modules, p: str, rd: Reader, hidden: int, layer: int, *, shape: DecoderShape,
              inter: int, bias: bool) -> None:
    if shape.fused_gate_up:
        mods.linear(f"{p}.mlp.gate_up_proj", hidden, 2 * inter, bias=bias, role="gate_up")
    else:
        mods.linear(f"{p}.mlp.gate_proj", hidden, inter, bias=bias, role="gate")
        mods.linear(f"{p}.mlp.up_proj", hidden, inter, bias=bias, role="up")
    mods.linear(f"{p}.mlp.down_proj", inter, hidden, bias=bias, role="down")


def build_decoder(cfg: Mapping[str, Any], name: str, head: str, *, shape: DecoderShape,
                  feed_forward: FeedForward | None = None) -> Arch:
    """The modules of ``<Family>ForCausalLM`` (``head="causal_lm"``), ``<Family>Model`` (``"base"``: no
    ``model.`` prefix, no head) or ``<Family>ForSequenceClassification`` (``"seq_cls"``: a ``score`` head)."""
    rd = Reader(cfg, name)
    dims = attention_dims(rd)
    hidden, head_dim = dims["hidden"], dims["head_dim"]
    q_dim, kv_dim = dims["heads"] * head_dim, dims["kv_heads"] * head_dim
    inter = rd.int("intermediate_size")
    layers = rd.int("num_hidden_layers")
    vocab = rd.int("vocab_size")
    attn_bias = rd.bool("attention_bias", False)
    qkv_bias = shape.qkv_bias or attn_bias
    mlp_bias = rd.bool("mlp_bias", False)
    tied = rd.bool("tie_word_embeddings", shape.tied_default)
    root = "" if head == "base" else "model."
    mods = Modules()
    mods.embedding(f"{root}embed_tokens", vocab, hidden)
    for i in range(layers):
        p = f"{root}layers.{i}"
        mods.norm(f"{p}.input_layernorm", hidden, bias=False)
        a = f"{p}.self_attn"
        if shape.fused_qkv:
            mods.linear(f"{a}.qkv_proj", hidden, q_dim + 2 * kv_dim, bias=qkv_bias, role="qkv")
        else:
            mods.linear(f"{a}.q_proj", hidden, q_dim, bias=qkv_bias, role="q")
            mods.linear(f"{a}.k_proj", hidden, kv_dim, bias=qkv_bias, role="k")
            mods.linear(f"{a}.v_proj", hidden, kv_dim, bias=qkv_bias, role="v")
        mods.linear(f"{a}.o_proj", q_dim, hidden, bias=attn_bias, role="o")
        if shape.attention_sinks:
            mods.parameters(a, {"sinks": (dims["heads"],)}, role="")
        if shape.qk_norm:
            mods.norm(f"{a}.q_norm", head_dim, bias=False)
            mods.norm(f"{a}.k_norm", head_dim, bias=False)
        mods.norm(f"{p}.post_attention_layernorm", hidden, bias=False)
        if shape.sandwich_norms:
            mods.norm(f"{p}.pre_feedforward_layernorm", hidden, bias=False)
            mods.norm(f"{p}.post_feedforward_layernorm", hidden, bias=False)
        if feed_forward is None:
            dense_mlp(mods, p, rd, hidden, i, shape=shape, inter=inter, bias=mlp_bias)
        else:
            feed_forward(mods, p, rd, hidden, i)
    mods.norm(f"{root}norm", hidden, bias=False)
    output_head = mods.lm_head(head, hidden, vocab, embedding=f"{root}embed_tokens", tied=tied)
    if head == "seq_cls":
        from peftcalc.arch.encoder import num_labels

        mods.linear("score", hidden, num_labels(cfg), bias=False, role="classifier")
    elif head not in ("base", "causal_lm"):
        raise InputError(f"{name}: architectures", head, "a causal-LM, base or sequence-classification class")
    return Arch(
        name=name, model_type=str(cfg.get("model_type", "llama")), hidden_size=hidden, num_layers=layers,
        num_attention_heads=dims["heads"], num_key_value_heads=dims["kv_heads"], head_dim=head_dim,
        vocab_size=vocab, intermediate_size=inter, output_head=output_head, modules=tuple(mods.items),
        gated_mlp=True,
    )


def decoder_heads(prefix: str) -> dict[str, str]:
    """The classes every llama-style family has: ``<prefix>ForCausalLM`` (the default), ``<prefix>Model``,
    ``<prefix>ForSequenceClassification``."""
    return {f"{prefix}ForCausalLM": "causal_lm", f"{prefix}Model": "base",
            f"{prefix}ForSequenceClassification": "seq_cls"}

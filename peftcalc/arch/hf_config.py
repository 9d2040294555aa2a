"""Hugging Face ``config.json`` → :class:`Arch`, one builder per model family.

Each builder lists the leaf modules exactly as transformers (5.x) names and shapes them, so that the
sum of their parameters equals ``sum(p.numel() for p in model.parameters())`` of the model class in
the config's ``architectures`` (``*ForCausalLM``, ``GPT2LMHeadModel``, ``BertModel``/``RobertaModel``
with pooler, ``T5ForConditionalGeneration``).
"""

from __future__ import annotations

import dataclasses
import json

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError, PeftcalcError

_MAX_DIM = 10_000_000  # a sanity bound: no real config has a dimension near this


class _Modules:
    """Collects ModuleSpecs in model order."""

    def __init__(self) -> None:
        self.items: list[ModuleSpec] = []

    def linear(self, name: str, fan_in: int, fan_out: int, *, bias: bool, kind: str = "linear") -> None:
        params = {"weight": fan_in * fan_out}
        if bias:
            params["bias"] = fan_out
        self.items.append(ModuleSpec(name=name, kind=kind, in_features=fan_in, out_features=fan_out, params=params))  # type: ignore[arg-type]

    def embedding(self, name: str, num: int, dim: int) -> None:
        self.items.append(ModuleSpec(name=name, kind="embedding", in_features=num, out_features=dim, params={"weight": num * dim}))

    def norm(self, name: str, dim: int, *, bias: bool) -> None:
        params = {"weight": dim, **({"bias": dim} if bias else {})}
        self.items.append(ModuleSpec(name=name, kind="norm", in_features=dim, out_features=dim, params=params))

    def head(self, name: str, fan_in: int, fan_out: int, *, tied_to: str | None) -> None:
        self.items.append(
            ModuleSpec(
                name=name, kind="linear", in_features=fan_in, out_features=fan_out,
                params={"weight": fan_in * fan_out}, tied_to=tied_to,
            )
        )


class _Reader:
    """Typed access to config keys; every failure names the key."""

    def __init__(self, cfg: Mapping[str, Any], where: str) -> None:
        self.cfg = cfg
        self.where = where

    def int(self, *keys: str, default: int | None = None, minimum: int = 1) -> int:
        for key in keys:
            if key in self.cfg and self.cfg[key] is not None:
                value = self.cfg[key]
                if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _MAX_DIM:
                    raise InputError(f"{self.where}: {key}", value, f"an integer in [{minimum}, {_MAX_DIM:,}]")
                return value
        if default is not None:
            return default
        raise InputError(f"{self.where}: {keys[0]}", "<missing>", "present in a config.json of this model type")

    def bool(self, key: str, default: bool) -> bool:
        value = self.cfg.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InputError(f"{self.where}: {key}", value, "true or false")
        return value


def _decoder_dims(rd: _Reader) -> dict[str, int]:
    hidden = rd.int("hidden_size")
    heads = rd.int("num_attention_heads")
    kv_heads = rd.int("num_key_value_heads", default=heads)
    head_dim = rd.int("head_dim", default=hidden // heads)
    if heads % kv_heads:
        raise InputError(f"{rd.where}: num_key_value_heads", kv_heads, f"a divisor of num_attention_heads = {heads}")
    return {"hidden": hidden, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim}


def _llama_like(cfg: Mapping[str, Any], name: str, *, qkv_bias_default: bool) -> Arch:
    """llama / mistral / qwen2: RMSNorm, GQA, gated (SwiGLU) MLP, optional biases, tied or untied head."""
    rd = _Reader(cfg, name)
    dims = _decoder_dims(rd)
    hidden, kv_dim, q_dim = dims["hidden"], dims["kv_heads"] * dims["head_dim"], dims["heads"] * dims["head_dim"]
    inter = rd.int("intermediate_size")
    layers = rd.int("num_hidden_layers")
    vocab = rd.int("vocab_size")
    model_type = cfg.get("model_type", "llama")
    # qwen2 always has q/k/v biases (no o bias); llama/mistral have attention_bias for all four.
    attn_bias = rd.bool("attention_bias", False)
    qkv_bias = qkv_bias_default or attn_bias
    mlp_bias = rd.bool("mlp_bias", False)
    tied = rd.bool("tie_word_embeddings", False)
    mods = _Modules()
    mods.embedding("model.embed_tokens", vocab, hidden)
    for i in range(layers):
        p = f"model.layers.{i}"
        mods.norm(f"{p}.input_layernorm", hidden, bias=False)
        mods.linear(f"{p}.self_attn.q_proj", hidden, q_dim, bias=qkv_bias)
        mods.linear(f"{p}.self_attn.k_proj", hidden, kv_dim, bias=qkv_bias)
        mods.linear(f"{p}.self_attn.v_proj", hidden, kv_dim, bias=qkv_bias)
        mods.linear(f"{p}.self_attn.o_proj", q_dim, hidden, bias=attn_bias)
        mods.norm(f"{p}.post_attention_layernorm", hidden, bias=False)
        mods.linear(f"{p}.mlp.gate_proj", hidden, inter, bias=mlp_bias)
        mods.linear(f"{p}.mlp.up_proj", hidden, inter, bias=mlp_bias)
        mods.linear(f"{p}.mlp.down_proj", inter, hidden, bias=mlp_bias)
    mods.norm("model.norm", hidden, bias=False)
    mods.head("lm_head", hidden, vocab, tied_to="model.embed_tokens" if tied else None)
    return Arch(
        name=name, model_type=str(model_type), hidden_size=hidden, num_layers=layers,
        num_attention_heads=dims["heads"], num_key_value_heads=dims["kv_heads"], head_dim=dims["head_dim"],
        vocab_size=vocab, intermediate_size=inter, output_head="lm_head", modules=tuple(mods.items),
    )


def _llama(cfg: Mapping[str, Any], name: str) -> Arch:
    return _llama_like(cfg, name, qkv_bias_default=False)


def _qwen2(cfg: Mapping[str, Any], name: str) -> Arch:
    return _llama_like(cfg, name, qkv_bias_default=True)


def _gpt2(cfg: Mapping[str, Any], name: str) -> Arch:
    """GPT2LMHeadModel: Conv1D layers (fused c_attn), biases everywhere, learned positions, tied head."""
    rd = _Reader(cfg, name)
    hidden = rd.int("n_embd", "hidden_size")
    layers = rd.int("n_layer", "num_hidden_layers")
    heads = rd.int("n_head", "num_attention_heads")
    vocab = rd.int("vocab_size")
    positions = rd.int("n_positions", "max_position_embeddings")
    inner = rd.int("n_inner", default=4 * hidden)
    tied = rd.bool("tie_word_embeddings", True)
    mods = _Modules()
    mods.embedding("transformer.wte", vocab, hidden)
    mods.embedding("transformer.wpe", positions, hidden)
    for i in range(layers):
        p = f"transformer.h.{i}"
        mods.norm(f"{p}.ln_1", hidden, bias=True)
        mods.linear(f"{p}.attn.c_attn", hidden, 3 * hidden, bias=True, kind="conv1d")
        mods.linear(f"{p}.attn.c_proj", hidden, hidden, bias=True, kind="conv1d")
        mods.norm(f"{p}.ln_2", hidden, bias=True)
        mods.linear(f"{p}.mlp.c_fc", hidden, inner, bias=True, kind="conv1d")
        mods.linear(f"{p}.mlp.c_proj", inner, hidden, bias=True, kind="conv1d")
    mods.norm("transformer.ln_f", hidden, bias=True)
    mods.head("lm_head", hidden, vocab, tied_to="transformer.wte" if tied else None)
    return Arch(
        name=name, model_type="gpt2", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
        num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=inner,
        output_head="lm_head", modules=tuple(mods.items),
    )


def _bert(cfg: Mapping[str, Any], name: str) -> Arch:
    """BertModel / RobertaModel (encoder with pooler, no task head), post-LN with biases."""
    rd = _Reader(cfg, name)
    hidden = rd.int("hidden_size")
    layers = rd.int("num_hidden_layers")
    heads = rd.int("num_attention_heads")
    inter = rd.int("intermediate_size")
    vocab = rd.int("vocab_size")
    positions = rd.int("max_position_embeddings")
    type_vocab = rd.int("type_vocab_size", default=2)
    model_type = str(cfg.get("model_type", "bert"))
    mods = _Modules()
    mods.embedding("embeddings.word_embeddings", vocab, hidden)
    mods.embedding("embeddings.position_embeddings", positions, hidden)
    mods.embedding("embeddings.token_type_embeddings", type_vocab, hidden)
    mods.norm("embeddings.LayerNorm", hidden, bias=True)
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            mods.linear(f"{p}.attention.self.{proj}", hidden, hidden, bias=True)
        mods.linear(f"{p}.attention.output.dense", hidden, hidden, bias=True)
        mods.norm(f"{p}.attention.output.LayerNorm", hidden, bias=True)
        mods.linear(f"{p}.intermediate.dense", hidden, inter, bias=True)
        mods.linear(f"{p}.output.dense", inter, hidden, bias=True)
        mods.norm(f"{p}.output.LayerNorm", hidden, bias=True)
    mods.linear("pooler.dense", hidden, hidden, bias=True)
    return Arch(
        name=name, model_type=model_type, hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
        num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=inter,
        output_head=None, modules=tuple(mods.items),
    )


def _t5(cfg: Mapping[str, Any], name: str) -> Arch:
    """T5ForConditionalGeneration: shared embedding, relative position bias in block 0 of each stack,
    no biases, RMS-style layer norms, ReLU (wi, wo) or gated-GELU (wi_0, wi_1, wo) feed-forward."""
    rd = _Reader(cfg, name)
    d_model = rd.int("d_model")
    d_kv = rd.int("d_kv")
    d_ff = rd.int("d_ff")
    heads = rd.int("num_heads")
    enc_layers = rd.int("num_layers")
    dec_layers = rd.int("num_decoder_layers", default=enc_layers)
    vocab = rd.int("vocab_size")
    buckets = rd.int("relative_attention_num_buckets", default=32)
    ff_proj = str(cfg.get("feed_forward_proj", "relu"))
    gated = bool(cfg.get("is_gated_act", ff_proj.startswith("gated-")))
    tied = rd.bool("tie_word_embeddings", True)
    inner = heads * d_kv
    mods = _Modules()
    mods.embedding("shared", vocab, d_model)

    def attention(prefix: str, *, relative_bias: bool) -> None:
        for proj in ("q", "k", "v"):
            mods.linear(f"{prefix}.{proj}", d_model, inner, bias=False)
        mods.linear(f"{prefix}.o", inner, d_model, bias=False)
        if relative_bias:
            mods.embedding(f"{prefix}.relative_attention_bias", buckets, heads)

    def feed_forward(prefix: str) -> None:
        if gated:
            mods.linear(f"{prefix}.DenseReluDense.wi_0", d_model, d_ff, bias=False)
            mods.linear(f"{prefix}.DenseReluDense.wi_1", d_model, d_ff, bias=False)
        else:
            mods.linear(f"{prefix}.DenseReluDense.wi", d_model, d_ff, bias=False)
        mods.linear(f"{prefix}.DenseReluDense.wo", d_ff, d_model, bias=False)
        mods.norm(f"{prefix}.layer_norm", d_model, bias=False)

    for i in range(enc_layers):
        p = f"encoder.block.{i}.layer"
        attention(f"{p}.0.SelfAttention", relative_bias=i == 0)
        mods.norm(f"{p}.0.layer_norm", d_model, bias=False)
        feed_forward(f"{p}.1")
    mods.norm("encoder.final_layer_norm", d_model, bias=False)
    for i in range(dec_layers):
        p = f"decoder.block.{i}.layer"
        attention(f"{p}.0.SelfAttention", relative_bias=i == 0)
        mods.norm(f"{p}.0.layer_norm", d_model, bias=False)
        attention(f"{p}.1.EncDecAttention", relative_bias=False)
        mods.norm(f"{p}.1.layer_norm", d_model, bias=False)
        feed_forward(f"{p}.2")
    mods.norm("decoder.final_layer_norm", d_model, bias=False)
    mods.head("lm_head", d_model, vocab, tied_to="shared" if tied else None)
    return Arch(
        name=name, model_type="t5", hidden_size=d_model, num_layers=enc_layers, num_decoder_layers=dec_layers,
        num_attention_heads=heads, num_key_value_heads=heads, head_dim=d_kv, vocab_size=vocab,
        intermediate_size=d_ff, is_encoder_decoder=True, output_head="lm_head", modules=tuple(mods.items),
    )


_BUILDERS: dict[str, Callable[[Mapping[str, Any], str], Arch]] = {
    "llama": _llama,
    "mistral": _llama,
    "qwen2": _qwen2,
    "gpt2": _gpt2,
    "bert": _bert,
    "roberta": _bert,
    "t5": _t5,
}
SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(_BUILDERS)


def arch_from_config(cfg: Mapping[str, Any], *, name: str = "config.json", source: str = "") -> Arch:
    """Build the architecture described by a Hugging Face config dict.

    Examples:
        >>> arch = arch_from_config({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768,
        ...                          "n_layer": 12, "n_head": 12, "n_positions": 1024})
        >>> arch.total_params
        124439808
    """
    if not isinstance(cfg, Mapping):
        raise InputError(name, type(cfg).__name__, "a JSON object (a Hugging Face config.json)")
    model_type = cfg.get("model_type")
    if model_type not in _BUILDERS:
        raise InputError(f"{name}: model_type", model_type if model_type is not None else "<missing>",
                         "one of " + ", ".join(SUPPORTED_MODEL_TYPES))
    arch = _BUILDERS[str(model_type)](cfg, name)
    return dataclasses.replace(arch, source=source or name)


def load_config_file(path: str | Path) -> Arch:
    """Read a ``config.json`` from disk (errors name the file and the bad key)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("--config", str(path), "an existing config.json file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PeftcalcError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PeftcalcError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return arch_from_config(cfg, name=p.name, source=str(p))



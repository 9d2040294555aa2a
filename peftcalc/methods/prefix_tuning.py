"""Prefix tuning (Li & Liang 2021, arXiv 2101.00190): V learned key/value vectors in every layer.

Formula: V*L*2*t, t = head_dim · num_key_value_heads (GQA shrinks t). With ``projection`` (the MLP
reparameterization) training holds an embedding V×t and Linear(t→H), Tanh, Linear(H→2·L·t):
V*t + t*H + H + H*2*L*t + 2*L*t. After training only the V × 2·L·t prefix is saved.
For encoder-decoder models peft sizes the prefix by the encoder's layer count and V (not 2·V).
Source: peft 0.21 ``tuners/prefix_tuning/model.py: PrefixEncoder``,
``peft_model.py: get_prompt_embedding_to_save``.
"""

from __future__ import annotations

from pydantic import Field

from peftcalc.arch.model import Arch
from peftcalc.errors import InputError
from peftcalc.methods.base import Count, Method, MethodConfig, Row, substitute
from peftcalc.symbols import H, L, V, t


class PrefixTuningConfig(MethodConfig):
    """Options of prefix tuning."""

    tokens: int = Field(20, gt=0, le=1_000_000, description="num_virtual_tokens V")
    projection: bool = Field(False, description="prefix_projection: train through an MLP reparameterization")
    encoder_hidden: int | None = Field(None, gt=0, le=10_000_000, description="hidden size H of that MLP (default t)")


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, PrefixTuningConfig)
    if arch.prompt_learning_error:
        raise InputError("--model", arch.name, f"a model peft can set prompt learning up for: {arch.prompt_learning_error}")
    td, layers = arch.prefix_dim, arch.num_layers
    hidden = cfg.encoder_hidden or td
    plain = V * L * 2 * t
    values = {V: cfg.tokens, L: layers, t: td, H: hidden}
    saved = int(plain.subs(values))
    notes = [f"t = head_dim·num_key_value_heads = {arch.head_dim}·{arch.num_key_value_heads} = {td}"
             if td == arch.kv_dim else f"t = hidden_size = {td} (peft: the config has no num_key_value_heads)"]
    if not cfg.projection:
        rows: tuple[Row, ...] = (Row("prefix embedding (V × 2·L·t)", 1, saved, substitute(plain, values)),)
        formula = plain
    else:
        parts = [
            ("embedding (V × t)", V * t),
            ("Linear t→H (+ bias)", t * H + H),
            ("Linear H→2·L·t (+ bias)", H * 2 * L * t + 2 * L * t),
        ]
        rows = tuple(Row(label, 1, int(expr.subs(values)), substitute(expr, values)) for label, expr in parts)
        formula = sum((expr for _, expr in parts), start=0 * V)
        notes.append("the MLP is dropped after training: the checkpoint holds the V × 2·L·t prefix only")
    trainable = sum(row.params for row in rows)
    return Count(trainable=trainable, added=trainable, saved=saved, rows=rows, formula=formula,
                 formula_scope="whole model", notes=tuple(notes),
                 symbols={"V": cfg.tokens, "L": layers, "t": td, "H": hidden})


METHOD = Method(
    name="prefix_tuning",
    title="Prefix tuning",
    config=PrefixTuningConfig,
    count=count,
    formula=V * L * 2 * t,
    summary="learned key/value prefixes prepended in every attention layer",
    paper="Li & Liang 2021, Prefix-Tuning: Optimizing Continuous Prompts for Generation, arXiv:2101.00190",
    peft_source="peft/tuners/prefix_tuning/model.py: PrefixEncoder",
)

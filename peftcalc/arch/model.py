"""A transformer architecture as peftcalc sees it: a flat list of named modules with shapes.

Module names are the Hugging Face ones (``model.layers.0.self_attn.q_proj``), so peft's target
matching (suffix match, ``all-linear``) can run on them unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ModuleKind = Literal["linear", "conv1d", "embedding", "norm", "other"]
LINEAR_KINDS: frozenset[str] = frozenset({"linear", "conv1d"})


class ModuleSpec(BaseModel):
    """One leaf module: its HF name, its kind and the shape peft sees.

    ``in_features``/``out_features`` follow peft's ``_get_in_out_features``: (in, out) for
    ``nn.Linear`` and transformers' ``Conv1D``; (num_embeddings, embedding_dim) for ``nn.Embedding``;
    (dim, dim) for norms.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    kind: ModuleKind
    in_features: int = Field(ge=0)
    out_features: int = Field(ge=0)
    params: dict[str, int] = Field(description="parameter name (e.g. 'weight', 'bias') -> numel")
    tied_to: str | None = Field(
        default=None, description="name of the module whose weight this one shares (counted once)"
    )

    @property
    def numel(self) -> int:
        return sum(self.params.values())

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def bias_numel(self) -> int:
        return self.params.get("bias", 0)


class Arch(BaseModel):
    """A model architecture: dimensions plus every leaf module with its exact parameter count."""

    model_config = ConfigDict(frozen=True)

    name: str
    model_type: str = Field(description="HF model_type (llama, mistral, qwen2, gpt2, bert, roberta, t5) or 'matrix'")
    hidden_size: int = Field(gt=0)
    num_layers: int = Field(gt=0, description="transformer blocks (encoder blocks for encoder-decoder models)")
    num_decoder_layers: int = Field(default=0, ge=0, description="decoder blocks of an encoder-decoder model")
    num_attention_heads: int = Field(gt=0)
    num_key_value_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    vocab_size: int = Field(ge=0)
    intermediate_size: int = Field(ge=0)
    is_encoder_decoder: bool = False
    output_head: str | None = Field(default=None, description="name of the output embedding (excluded by all-linear)")
    modules: tuple[ModuleSpec, ...]
    source: str = Field(default="", description="where the architecture came from (preset or path)")

    @property
    def total_params(self) -> int:
        """Exact parameter count, tied weights once (what ``sum(p.numel() for p in model.parameters())`` gives)."""
        return sum(mod.numel for mod in self.modules if mod.tied_to is None)

    @property
    def bias_params(self) -> int:
        """Numel of every true bias vector (Linear/Conv1D/norm ``bias``)."""
        return sum(mod.bias_numel for mod in self.modules if mod.tied_to is None)

    @property
    def blocks(self) -> int:
        """Every transformer block, encoder and decoder together."""
        return self.num_layers + self.num_decoder_layers

    @property
    def kv_dim(self) -> int:
        """Width of one key (or value) projection: head_dim × num_key_value_heads (GQA-aware)."""
        return self.head_dim * self.num_key_value_heads

    def module(self, name: str) -> ModuleSpec:
        for mod in self.modules:
            if mod.name == name:
                return mod
        raise KeyError(name)

    def linear_modules(self) -> list[ModuleSpec]:
        return [mod for mod in self.modules if mod.kind in LINEAR_KINDS]


def module_groups(arch: Arch) -> list[dict[str, object]]:
    """Modules grouped by name pattern and shape (``model.layers.*.self_attn.q_proj``), in model order."""
    from peftcalc.methods.base import group_name  # local: methods import arch, not the other way round

    groups: dict[tuple[str, int, int], list[ModuleSpec]] = {}
    for mod in arch.modules:
        groups.setdefault((group_name(mod.name), mod.in_features, mod.out_features), []).append(mod)
    rows: list[dict[str, object]] = []
    for (label, fan_in, fan_out), mods in groups.items():
        tied = mods[0].tied_to is not None
        each = mods[0].numel
        rows.append({"group": label, "kind": mods[0].kind, "shape": f"{fan_in}→{fan_out}", "modules": len(mods),
                     "params_each": each, "params": 0 if tied else each * len(mods), "tied": tied,
                     "has_bias": "bias" in mods[0].params})
    return rows

"""A transformer architecture as peftcalc sees it: a flat list of named modules with shapes.

Module names are the Hugging Face ones (``model.layers.0.self_attn.q_proj``), so peft's target
matching (suffix match, ``all-linear``) can run on them unchanged. These are plain frozen dataclasses:
they are only built by the validating readers (``hf_config``, ``matrix``), and a 70B model has
hundreds of modules, so per-instance validation would only cost start-up time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ModuleKind = Literal["linear", "conv1d", "embedding", "norm", "other"]
LINEAR_KINDS: frozenset[str] = frozenset({"linear", "conv1d"})
# What a module does in its block, set by the family's builder (never guessed from its name):
# q/k/v/o attention projections, qkv a fused one; up/gate/down the MLP's, gate_up a fused pair;
# experts fused 3-D expert weights, router the MoE gate; "" where it plays no role the models need.
Role = Literal["q", "k", "v", "o", "qkv", "kv", "up", "gate", "down", "gate_up", "experts", "router", "norm",
               "embedding", "position", "head", "pooler", "classifier", ""]


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """One leaf module: its HF name, its kind and the shape peft sees.

    ``in_features``/``out_features`` follow peft's ``_get_in_out_features``: (in, out) for
    ``nn.Linear`` and transformers' ``Conv1D``; (num_embeddings, embedding_dim) for ``nn.Embedding``;
    (dim, dim) for norms. ``params`` maps parameter name ('weight', 'bias') → numel; ``tied_to``
    names the module whose weight this one shares (counted once).
    """

    name: str
    kind: ModuleKind
    in_features: int
    out_features: int
    params: dict[str, int]
    tied_to: str | None = None
    role: Role = ""
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # bare parameters' shapes (3-D experts, a router)

    @property
    def numel(self) -> int:
        return sum(self.params.values())

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def bias_numel(self) -> int:
        return self.params.get("bias", 0)


@dataclass(frozen=True)
class Arch:
    """A model architecture: dimensions plus every leaf module with its exact parameter count.

    ``num_layers`` counts transformer blocks (the encoder's for encoder-decoder models, whose decoder
    blocks are ``num_decoder_layers``); ``output_head`` names the output embedding, which
    ``all-linear`` excludes; ``model_type`` is HF's, or ``"matrix"`` for the seeds' bare matrices.
    """

    name: str
    model_type: str
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    intermediate_size: int
    modules: tuple[ModuleSpec, ...]
    num_decoder_layers: int = 0
    is_encoder_decoder: bool = False
    output_head: str | None = None
    source: str = field(default="", compare=False)
    # filled in from the model's family: peft's default targets per method key ("lora", "ia3", …),
    # whether the blocks use dropout, and what the reader noticed (a head it does not model, …)
    peft_defaults: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)
    dropout: bool = False
    gated_mlp: bool = False
    rms_norm: bool = False
    unfused_gelu: bool = False
    softmax_in_model_dtype: bool = False
    notes: tuple[str, ...] = field(default=(), compare=False)
    # peft's v4 → v5 renaming of MoE targets for LoRA (old leaf name → parameter name), and the old names
    # fused into one parameter (their rank adds up); empty for models transformers did not convert
    moe_targets: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    moe_fused: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)
    # the width peft gives each prefix key/value: head_dim × num_key_value_heads when the config has that key
    # (peft utils/other.py, "for grouped-query attention"), else the hidden size; 0 = kv_dim
    prefix_width: int = 0
    # why peft cannot set up prompt learning on this model ("" = it can): its config lacks the keys peft reads
    prompt_learning_error: str = ""
    # a sequence classifier's head as peft's task type SEQ_CLS treats it (peft_model.py: "classifier", "score"):
    # left out of all-linear, and trained in full as a modules_to_save copy under every method
    task_heads: tuple[str, ...] = ()

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
    def prefix_dim(self) -> int:
        """What peft's prefix tuning stores per layer for K (and again for V), per virtual token."""
        return self.prefix_width or self.kv_dim

    @property
    def kv_dim(self) -> int:
        """Width of one key (or value) projection: head_dim × num_key_value_heads (GQA-aware)."""
        return self.head_dim * self.num_key_value_heads

    def default_targets(self, method: str) -> tuple[str, ...] | None:
        """peft's default target modules of ``method`` for this model type (None: peft has none)."""
        return dict(self.peft_defaults).get(method)

    def module(self, name: str) -> ModuleSpec:
        for mod in self.modules:
            if mod.name == name:
                return mod
        raise KeyError(name)

    def task_head_modules(self) -> list[ModuleSpec]:
        """The modules of the classifier head that peft trains in full for a sequence classifier."""
        return [m for m in self.modules if any(m.name == h or m.name.startswith(h + ".") for h in self.task_heads)]

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

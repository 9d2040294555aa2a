"""Torch models with an :class:`~peftcalc.arch.model.Arch`'s exact module tree.

- :func:`module_tree`: every leaf module of any preset (llama, GPT-2, BERT, T5…) under its Hugging
  Face name and shape, on the meta device — enough to count parameters of 70B models without memory.
- :class:`TinyDecoder`: a runnable llama-style decoder (RMSNorm, eager causal attention with GQA,
  SwiGLU MLP, untied LM head) with the same names, for the checks that need a forward pass.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from peftcalc.arch.model import Arch, ModuleSpec


class Conv1D(nn.Module):
    """GPT-2's transposed linear layer: weight [in, out] (counted like nn.Linear)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))


class ParamHolder(nn.Module):
    """A norm or any other leaf: just its named parameters with the spec's sizes."""

    def __init__(self, params: dict[str, int]) -> None:
        super().__init__()
        for name, numel in params.items():
            self.register_parameter(name, nn.Parameter(torch.empty(numel)))


def _leaf(spec: ModuleSpec) -> nn.Module:
    if spec.kind == "linear":
        return nn.Linear(spec.in_features, spec.out_features, bias="bias" in spec.params)
    if spec.kind == "conv1d":
        return Conv1D(spec.in_features, spec.out_features)
    if spec.kind == "embedding" and set(spec.params) == {"weight"}:
        return nn.Embedding(spec.in_features, spec.out_features)
    return ParamHolder(spec.params)


def module_tree(arch: Arch, device: str | torch.device = "meta") -> nn.Module:
    """Every leaf of ``arch`` under its dotted name; tied modules share their target's weight."""
    root = nn.Module()
    with torch.device(device):
        for spec in arch.modules:
            parent = root
            *path, leaf = spec.name.split(".")
            for part in path:
                if not hasattr(parent, part):
                    parent.add_module(part, nn.Module())
                parent = getattr(parent, part)
            module = _leaf(spec)
            if spec.tied_to is not None:
                module.weight = root.get_submodule(spec.tied_to).weight
            parent.add_module(leaf, module)
    return root


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        h, a, kv, hd = arch.hidden_size, arch.num_attention_heads, arch.num_key_value_heads, arch.head_dim
        self.heads, self.kv_heads, self.head_dim = a, kv, hd
        self.q_proj = nn.Linear(h, a * hd, bias=False)
        self.k_proj = nn.Linear(h, kv * hd, bias=False)
        self.v_proj = nn.Linear(h, kv * hd, bias=False)
        self.o_proj = nn.Linear(a * hd, h, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.kv_heads != self.heads:
            rep = self.heads // self.kv_heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        mask = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1)
        probs = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        out = (probs @ v).transpose(1, 2).reshape(b, s, self.heads * self.head_dim)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        h, f = arch.hidden_size, arch.intermediate_size
        self.gate_proj = nn.Linear(h, f, bias=False)
        self.up_proj = nn.Linear(h, f, bias=False)
        self.down_proj = nn.Linear(f, h, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(arch.hidden_size)
        self.self_attn = Attention(arch)
        self.post_attention_layernorm = RMSNorm(arch.hidden_size)
        self.mlp = MLP(arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class _Body(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(arch.vocab_size, arch.hidden_size)
        self.layers = nn.ModuleList(Block(arch) for _ in range(arch.num_layers))
        self.norm = RMSNorm(arch.hidden_size)


class TinyDecoder(nn.Module):
    """A llama-shaped causal LM whose parameter names and counts equal the Arch's (untied head)."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        if arch.model_type not in ("llama", "mistral"):
            raise ValueError(f"TinyDecoder builds llama-style models, not {arch.model_type}")
        self.model = _Body(arch)
        self.lm_head = nn.Linear(arch.hidden_size, arch.vocab_size, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.model.embed_tokens(ids)
        for block in self.model.layers:
            x = block(x)
        return self.lm_head(self.model.norm(x))

    def loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token loss as transformers computes it: fp32 logits, labels shifted (not the logits, which
        would copy them), the last position ignored."""
        logits = self(ids).float()
        labels = nn.functional.pad(ids[:, 1:], (0, 1), value=-100)
        return nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.flatten(), ignore_index=-100)


def tiny_llama_arch(*, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2, ffn: int = 172,
                    vocab: int = 256) -> Arch:
    """A small llama config through peftcalc's own config.json reader (the same path as real models)."""
    from peftcalc.arch.hf_config import arch_from_config

    return arch_from_config({"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers,
                             "num_attention_heads": heads, "num_key_value_heads": kv_heads,
                             "intermediate_size": ffn, "vocab_size": vocab, "tie_word_embeddings": False},
                            name=f"tiny-llama-{hidden}x{layers}")

"""Reference PEFT layers in plain torch — the verifier's ground truth and the grader's model answers
(Exercises 24.11–24.12). Written from the papers, not from peft; shapes and initialisations follow
peft's conventions so that counts can be compared with it.

- LoRA (Hu et al. 2021): h = W₀x + s·B·A·dropout(x), s = α/r (rsLoRA: α/√r); A ~ Kaiming-uniform
  (peft) or N(0, σ²), B = 0; merge W₀ += s·BA, unmerge W₀ −= s·BA.
- DoRA (Liu et al. 2024): W' = m · (W₀ + s·BA) / ‖W₀ + s·BA‖_c, magnitude m initialised to the
  column norms ‖W₀‖_c (row-wise in torch's out×in layout: one per output feature).
- QLoRA (Dettmers et al. 2023): LoRA on an NF4 base dequantized on the fly.
- Bottleneck adapter (Houlsby et al. 2019): x + W_up·act(W_down·x), W_up = 0 at init.
- Prefix tuning (Li & Liang 2021): per-layer key/value prefixes, optionally through an MLP.
- Prompt tuning (Lester et al. 2021): p trainable embeddings prepended to the input.
- IA3 (Liu et al. 2022): learned vectors rescale k, v and the feed-forward input, initialised to 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from peftcalc.verify.nf4 import NF4Tensor, dequantize_nf4, quantize_nf4


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus the low-rank update s·B·A."""

    def __init__(self, base: nn.Linear, r: int, alpha: float = 8.0, *, dropout: float = 0.0, rslora: bool = False,
                 init: str = "kaiming") -> None:
        super().__init__()
        if not 0 < r <= min(base.in_features, base.out_features):
            raise ValueError(f"rank must be in [1, {min(base.in_features, base.out_features)}], got {r}")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha = r, alpha
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r
        device, dtype = base.weight.device, base.weight.dtype
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=device, dtype=dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=device, dtype=dtype))
        if device.type != "meta":
            if init == "gaussian":
                nn.init.normal_(self.lora_A, std=1 / r)
            else:
                nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged:
            return out
        # adapters may be kept in fp32 over a 16-bit base (as peft does): compute in theirs, add in the base's
        lora = (self.dropout(x).to(self.lora_A.dtype) @ self.lora_A.T @ self.lora_B.T) * self.scaling
        return out + lora.to(out.dtype)

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False


class DoRALinear(LoRALinear):
    """LoRA with the update's direction normalised and a trained magnitude per output feature."""

    def __init__(self, base: nn.Linear, r: int, alpha: float = 8.0, **kw: object) -> None:
        super().__init__(base, r, alpha, **kw)  # type: ignore[arg-type]
        self.magnitude = nn.Parameter(base.weight.detach().norm(dim=1).to(self.lora_A.dtype))

    def merged_weight(self) -> torch.Tensor:
        w = self.base.weight + self.delta_weight()
        return self.magnitude[:, None] * w / w.norm(dim=1, keepdim=True).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base(x)
        return nn.functional.linear(self.dropout(x), self.merged_weight(), self.base.bias)

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self._w0 = self.base.weight.clone()
            self.base.weight.copy_(self.merged_weight())
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base.weight.copy_(self._w0)
            self.merged = False


class NF4Linear(nn.Module):
    """A frozen linear layer stored in NF4; the weight is dequantized on the fly in forward."""

    def __init__(self, base: nn.Linear, *, double_quant: bool = True, compute_dtype: torch.dtype = torch.float32):
        super().__init__()
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight_nf4: NF4Tensor = quantize_nf4(base.weight, double_quant=double_quant)
        self.bias = None if base.bias is None else nn.Parameter(base.bias.detach().clone(), requires_grad=False)
        self.compute_dtype = compute_dtype

    def dequantized(self) -> torch.Tensor:
        return dequantize_nf4(self.weight_nf4, self.compute_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x.to(self.compute_dtype), self.dequantized(), self.bias)


class QLoRALinear(nn.Module):
    """LoRA (full precision, trainable) on an NF4 base."""

    def __init__(self, base: nn.Linear, r: int, alpha: float = 8.0, *, double_quant: bool = True) -> None:
        super().__init__()
        self.base = NF4Linear(base, double_quant=double_quant)
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling


class BottleneckAdapter(nn.Module):
    """x + W_up · act(W_down · x); the up-projection starts at zero (identity at init)."""

    def __init__(self, d: int, bottleneck: int, *, bias: bool = True, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.down = nn.Linear(d, bottleneck, bias=bias)
        self.up = nn.Linear(bottleneck, d, bias=bias)
        self.act = activation()
        if self.up.weight.device.type != "meta":
            nn.init.zeros_(self.up.weight)
            if bias:
                nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class PromptEmbedding(nn.Module):
    """p soft-prompt vectors prepended to the input embeddings: [b, s, d] → [b, p + s, d]."""

    def __init__(self, tokens: int, d: int) -> None:
        super().__init__()
        self.prompt = nn.Embedding(tokens, d)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        prompt = self.prompt.weight[None].expand(embeds.shape[0], -1, -1)
        return torch.cat([prompt.to(embeds.dtype), embeds], dim=1)


class PrefixEncoder(nn.Module):
    """Per-layer key/value prefixes: [p, 2·L·d] directly, or through Embedding(p, d) → MLP (reparameterised)."""

    def __init__(self, tokens: int, layers: int, d: int, *, projection: bool = False, hidden: int | None = None):
        super().__init__()
        self.tokens, self.layers, self.d = tokens, layers, d
        if projection:
            h = hidden or d
            self.embedding = nn.Embedding(tokens, d)
            self.mlp: nn.Module | None = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, 2 * layers * d))
        else:
            self.embedding = nn.Embedding(tokens, 2 * layers * d)
            self.mlp = None

    def forward(self) -> torch.Tensor:
        """[L, 2, p, d]: a key and a value prefix per layer."""
        x = self.embedding.weight
        if self.mlp is not None:
            x = self.mlp(x)
        return x.view(self.tokens, self.layers, 2, self.d).permute(1, 2, 0, 3)


class IA3Scale(nn.Module):
    """A learned vector rescaling a linear layer's output (k, v) or input (feed-forward), init 1."""

    def __init__(self, base: nn.Linear, *, feedforward: bool = False) -> None:
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.feedforward = feedforward
        size = base.in_features if feedforward else base.out_features
        self.ia3 = nn.Parameter(torch.ones(size, device=base.weight.device, dtype=base.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x * self.ia3) if self.feedforward else self.base(x) * self.ia3


def replace_modules(model: nn.Module, names: Iterable[str], wrap) -> list[str]:
    """Replace each named ``nn.Linear`` with ``wrap(linear, name)``; returns the names replaced."""
    done = []
    for name in names:
        parent_name, _, leaf = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        child = getattr(parent, leaf)
        if not isinstance(child, nn.Linear):
            raise TypeError(f"{name} is a {type(child).__name__}, not nn.Linear")
        setattr(parent, leaf, wrap(child, name))
        done.append(name)
    return done


def apply_lora(model: nn.Module, targets: Iterable[str] | None = None, *, r: int = 8, alpha: float = 8.0,
               dora: bool = False, **kw: object) -> list[str]:
    """Freeze ``model`` and put LoRA (or DoRA) on every ``nn.Linear`` whose name ends with a target
    (all of them when ``targets`` is None). Returns the adapted module names."""
    for p in model.parameters():
        p.requires_grad_(False)
    suffixes = tuple(targets) if targets is not None else None
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)
             and (suffixes is None or any(n == s or n.endswith("." + s) for s in suffixes))]
    cls = DoRALinear if dora else LoRALinear
    return replace_modules(model, names, lambda lin, _: cls(lin, r, alpha, **kw))  # type: ignore[arg-type]


def lora_modules(model: nn.Module) -> list[LoRALinear]:
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def trainable_numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

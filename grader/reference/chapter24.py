"""Reference solutions of the graded torch exercises of Chapter 24 (24.11, 24.12, 24.13, 24.21, 24.26), in the
conventions `peftcalc grade --spec chapter24` publishes. Graded like any submission, they score full marks."""

import torch
from torch import nn


class LoRALayer(nn.Module):
    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.randn(r, base.in_features) * 0.01)   # A ~ N(0, σ²)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))         # B = 0
        self.scaling = alpha / r
        self.merged = False

    def forward(self, x):
        y = self.base(x)
        if not self.merged:
            y = y + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling
        return y


def replace_linear_with_lora(model: nn.Module, r: int = 8, alpha: float = 16) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, LoRALayer(child, r, alpha))
        else:
            replace_linear_with_lora(child, r, alpha)
    return model


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, LoRALayer) and not m.merged:
            m.base.weight += m.scaling * m.lora_B @ m.lora_A
            m.merged = True
    return model


@torch.no_grad()
def unmerge_lora(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, LoRALayer) and m.merged:
            m.base.weight -= m.scaling * m.lora_B @ m.lora_A
            m.merged = False
    return model


def collate(batch, pad_token_id: int = 0):
    ids, labels = [], []
    for item in batch:
        turns = item["turns"] if "turns" in item else [{"role": "user", "ids": item["prompt"]},
                                                       {"role": "assistant", "ids": item["response"]}]
        seq, lab = [], []
        for turn in turns:
            seq += list(turn["ids"])
            lab += list(turn["ids"]) if turn["role"] == "assistant" else [-100] * len(turn["ids"])
        ids.append(seq)
        labels.append(lab)
    width = max(len(s) for s in ids)
    pad = lambda rows, v: torch.tensor([r + [v] * (width - len(r)) for r in rows])  # noqa: E731
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in ids])
    return {"input_ids": pad(ids, pad_token_id), "attention_mask": mask, "labels": pad(labels, -100)}


def ties_merge(task_vectors, density: float = 0.2, lam: float = 1.0):
    tv = torch.stack(list(task_vectors))
    k = max(1, int(round(density * tv.shape[1])))
    trimmed = torch.zeros_like(tv)
    for i, v in enumerate(tv):
        keep = v.abs().topk(k).indices
        trimmed[i, keep] = v[keep]
    sign = torch.sign(trimmed.sum(dim=0))
    agree = (torch.sign(trimmed) == sign) & (trimmed != 0)
    total = (trimmed * agree).sum(dim=0)
    count = agree.sum(dim=0).clamp(min=1)
    return lam * total / count


def dare(delta, p: float, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    keep = torch.rand(delta.shape, generator=gen) >= p
    return delta * keep / (1 - p)

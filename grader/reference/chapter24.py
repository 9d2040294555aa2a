"""Reference solutions of the graded torch exercises of Chapter 24 (those `peftcalc grade --spec chapter24` lists),
in the conventions it publishes, one section per exercise. Graded like any submission, they score full marks."""

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


# ---------------------------------------------------------------- 24.22 progressive unfreezing (a–b)

def trainable_layers(step, n_layers, every_n, start=2, per_stage=2):
    stage = step // every_n
    count = min(n_layers, start + per_stage * stage)
    return list(range(n_layers - count, n_layers))


def apply_progressive_unfreezing(model, step, every_n, start=2, per_stage=2):
    on = set(trainable_layers(step, len(model.layers), every_n, start, per_stage))
    for i, block in enumerate(model.layers):
        for p in block.parameters():
            p.requires_grad_(i in on)
    return model


# ---------------------------------------------------------------- 24.23 hyperparameter search (a–b)

import itertools
import random


def search_space():
    space = []
    for rank, lr, targets in itertools.product([4, 8, 16, 32, 64], [1e-5, 2e-5, 5e-5], ["qv", "qkvo", "all-linear"]):
        for alpha in (rank, 2 * rank):
            space.append({"rank": rank, "alpha": alpha, "lr": lr, "targets": targets})
    return space


def _best_of(configs, objective):
    best, best_loss = None, float("inf")
    for config in configs:
        loss = objective(config)   # one training run per config: evaluate once, keep the loss
        if loss < best_loss:
            best, best_loss = config, loss
    return best, best_loss


def grid_search(space, objective):
    return _best_of(space, objective)


def random_search(space, objective, n, seed):
    sample = random.Random(seed).sample(list(space), n)   # without replacement
    return _best_of(sample, objective)


# ---------------------------------------------------------------- 24.27 dataset quality (a–b)

import re
from collections import Counter


def distinct_n(texts, n):
    grams = []
    for text in texts:
        tokens = text.split()
        grams += [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def instruction_template(instruction):
    t = instruction.lower()
    t = re.sub(r'"[^"]*"', "<str>", t)
    t = re.sub(r"\d+(?:\.\d+)?", "<num>", t)
    return " ".join(t.split())


def unique_templates(instructions):
    return len({instruction_template(s) for s in instructions})


def task_distribution(tasks):
    counts = Counter(tasks)
    return {task: c / len(tasks) for task, c in counts.items()}


def near_duplicates(embeddings, threshold=0.9):
    unit = torch.nn.functional.normalize(embeddings.double(), dim=1)
    sim = unit @ unit.T
    i, j = torch.nonzero(torch.triu(sim >= threshold, diagonal=1), as_tuple=True)
    return list(zip(i.tolist(), j.tolist()))


# ---------------------------------------------------------------- 24.29 response-only loss masking (a–b)

def response_only_labels(input_ids, response_mask):
    return torch.where(response_mask.bool(), input_ids, torch.full_like(input_ids, -100))


def all_token_labels(input_ids, attention_mask):
    return torch.where(attention_mask.bool(), input_ids, torch.full_like(input_ids, -100))


def masked_lm_loss(logits, labels):
    shift_logits = logits[:, :-1, :]    # position t predicts token t + 1
    shift_labels = labels[:, 1:]
    return torch.nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)),
                                             shift_labels.reshape(-1), ignore_index=-100)


# ---------------------------------------------------------------- 24.30 structured output (a, c)

import json

_TYPES = {"string": str, "array": list, "object": dict, "boolean": bool}


def _parse_object(text, allow_fence=False):
    text = text.strip()
    if allow_fence:
        fence = re.fullmatch(r"```(?:json)?[ \t]*\n(.*?)\n?[ \t]*```", text, re.S)
        if fence:
            text = fence.group(1)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def json_validity_rate(outputs, allow_fence=False):
    if not outputs:
        return 0.0
    return sum(_parse_object(o, allow_fence) is not None for o in outputs) / len(outputs)


def _has_type(value, kind):
    if kind == "null":
        return value is None
    if isinstance(value, bool):          # bool is a subclass of int in Python, not a number in JSON
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float))
    return isinstance(value, _TYPES[kind])


def schema_valid(text, schema):
    obj = _parse_object(text)
    return obj is not None and all(key in obj and _has_type(obj[key], kind) for key, kind in schema.items())


def compare_validity(before, after):
    b, a = json_validity_rate(before), json_validity_rate(after)
    return {"before": b, "after": a, "change": a - b}

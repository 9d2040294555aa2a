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


# ---------------------------------------------------------------------------------------------------------
# 24.14: a learning-rate finder
# ---------------------------------------------------------------------------------------------------------
import math


def lr_schedule(start_lr, end_lr, steps):
    ratio = end_lr / start_lr
    return [start_lr * ratio ** (i / (steps - 1)) for i in range(steps)]


def lr_finder(train_step, start_lr, end_lr, steps):
    lrs = lr_schedule(start_lr, end_lr, steps)
    losses = [float(train_step(lr)) for lr in lrs]
    return lrs, losses


def suggest_lr_range(lrs, losses):
    slopes = [(losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i])) for i in range(len(lrs) - 1)]
    steepest = min(range(len(slopes)), key=lambda i: slopes[i])
    return lrs[steepest], lrs[steepest + 1]


# ---------------------------------------------------------------------------------------------------------
# 24.16: Elastic Weight Consolidation
# ---------------------------------------------------------------------------------------------------------
def fisher_diagonal(grads):
    return {name: torch.stack([g[name] ** 2 for g in grads]).mean(dim=0) for name in grads[0]}


def ewc_penalty(params, old_params, fisher, lam):
    total = sum((fisher[name] * (params[name] - old_params[name]) ** 2).sum() for name in params)
    return lam / 2 * total


# ---------------------------------------------------------------------------------------------------------
# 24.17: multi-LoRA serving
# ---------------------------------------------------------------------------------------------------------
class MultiLoRAServer:
    def __init__(self, base: nn.Module):
        self.base = base
        self.linears = {name: m for name, m in base.named_modules() if isinstance(m, nn.Linear)}
        self.original = {name: m.weight.detach().clone() for name, m in self.linears.items()}
        self.adapters = {}
        self.active = None

    def load_adapter(self, name, weights, scaling=1.0):
        self.adapters[name] = {layer: scaling * ab["B"] @ ab["A"] for layer, ab in weights.items()}

    @torch.no_grad()
    def set_adapter(self, name):
        for layer, weight in self.original.items():   # back to the base weights first
            self.linears[layer].weight.copy_(weight)
        if name is not None:
            for layer, delta in self.adapters[name].items():
                self.linears[layer].weight += delta
        self.active = name

    @torch.no_grad()
    def forward(self, x):
        return self.base(x)


# ---------------------------------------------------------------------------------------------------------
# 24.18: data mixing at ratio alpha
# ---------------------------------------------------------------------------------------------------------
import random


def mix_datasets(task, general, alpha, n, seed=0):
    rng = random.Random(seed)
    n_task = round(alpha * n)
    mixture = rng.sample(list(task), n_task) + rng.sample(list(general), n - n_task)
    rng.shuffle(mixture)
    return mixture


# ---------------------------------------------------------------------------------------------------------
# 24.20 (d): a chat-template validator
# ---------------------------------------------------------------------------------------------------------
import re

SPECIAL_TOKENS = {
    "llama3": ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    "mistral": ("<s>", "</s>", "[INST]", "[/INST]"),
    "gemma": ("<bos>", "<start_of_turn>", "<end_of_turn>"),
}


def _check_bos(text, bos):
    errors = []
    if not text.startswith(bos):
        errors.append(f"missing {bos} at the start")
    if text.count(bos) > 1:
        errors.append(f"{bos} appears {text.count(bos)} times")
    return errors


def _validate_llama3(text):
    errors = _check_bos(text, "<|begin_of_text|>")
    chunks = text.replace("<|begin_of_text|>", "").split("<|start_header_id|>")
    if chunks[0]:
        errors.append("text before the first message header")
    messages = chunks[1:]
    if not messages:
        errors.append("no messages")
    for k, chunk in enumerate(messages):
        role, closed, rest = chunk.partition("<|end_header_id|>\n\n")
        if not closed:
            errors.append(f"message {k + 1}: header not closed by <|end_header_id|>")
            continue
        if role not in ("system", "user", "assistant"):
            errors.append(f"message {k + 1}: unknown role {role!r}")
        if k == len(messages) - 1 and role == "assistant" and rest == "":
            continue  # the generation prompt
        if not rest.endswith("<|eot_id|>") or rest.count("<|eot_id|>") != 1:
            errors.append(f"message {k + 1} ({role}): not closed by <|eot_id|>")
    return errors


def _validate_mistral(text):
    errors = _check_bos(text, "<s>")
    state = "turn"   # expecting [INST]; "user": inside [INST] … [/INST]; "reply": after [/INST]
    reply = ""
    for piece in re.split(r"(\[INST\]|\[/INST\]|</s>)", text.replace("<s>", "")):
        if piece == "[INST]":
            if state == "user":
                errors.append("[INST] opened twice before [/INST]")
            elif state == "reply":
                errors.append("an assistant reply not closed by </s>" if reply.strip()
                              else "two user turns in a row (roles must alternate)")
            state = "user"
        elif piece == "[/INST]":
            if state != "user":
                errors.append("[/INST] without an opening [INST]")
            state, reply = "reply", ""
        elif piece == "</s>":
            if state != "reply" or not reply.strip():
                errors.append("</s> that does not close an assistant reply")
            state = "turn"
        elif state == "reply":
            reply += piece
        elif state == "turn" and piece.strip():
            errors.append(f"text outside [INST] … [/INST]: {piece.strip()[:30]!r}")
    if state == "user":
        errors.append("[INST] never closed by [/INST]")
    elif state == "reply" and reply.strip():
        errors.append("the last assistant reply is not closed by </s>")
    return errors


def _validate_gemma(text):
    errors = _check_bos(text, "<bos>")
    chunks = text.replace("<bos>", "").split("<start_of_turn>")
    if chunks[0].strip():
        errors.append("text before the first turn")
    turns = chunks[1:]
    if not turns:
        errors.append("no turns")
    expected = "user"
    for k, chunk in enumerate(turns):
        role, _, rest = chunk.partition("\n")
        if role == "system":
            errors.append("Gemma has no system role")
        elif role not in ("user", "model"):
            errors.append(f"turn {k + 1}: unknown role {role!r} (Gemma's roles are user and model)")
        elif role != expected:
            errors.append(f"turn {k + 1}: roles must alternate user/model")
        expected = "model" if role == "user" else "user"
        if k == len(turns) - 1 and role == "model" and rest == "":
            continue  # the generation prompt
        if not rest.rstrip("\n").endswith("<end_of_turn>") or rest.count("<end_of_turn>") != 1:
            errors.append(f"turn {k + 1} ({role}): not closed by <end_of_turn>")
    return errors


def validate_chat(text, family):
    validators = {"llama3": _validate_llama3, "mistral": _validate_mistral, "gemma": _validate_gemma}
    if family not in validators:
        raise ValueError(f"unknown family {family!r}")
    errors = validators[family](text)
    foreign = [t for other, tokens in SPECIAL_TOKENS.items() if other != family for t in tokens if t in text]
    if foreign:
        errors.append(f"special tokens of another template: {', '.join(foreign)}")
    return errors
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

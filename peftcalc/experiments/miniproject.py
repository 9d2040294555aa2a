"""Stage 9's mini-project, the staff's reference run: LoRA from scratch, fine-tuning, the comparison table.

What it does, per seed (everything seeded; ``run`` is deterministic given the settings):

1. **Pretrain** a small llama-style causal transformer (RMSNorm, rotary positions, causal attention, SwiGLU
   MLP) on the digits 0–4, self-supervised: from the rows so far, predict the next row (see ``digits.py``).
2. **Fine-tune** it to classify the digits 5–9 (a new 5-way ``score`` head on the last row's state):
   - full fine-tuning (every parameter);
   - LoRA (``peftcalc.verify.layers.LoRALinear``: h = W₀x + (α/r)·B·A·x, A Kaiming-uniform, B = 0, with
     merge/unmerge) on the targets (default ``q_proj, v_proj``, peft's and Exercise 9.9's default), the
     base frozen, the head trained in full (peft's ``modules_to_save`` for sequence classification), for
     each rank of the sweep; after training the adapters are merged and the merged model must give the
     same logits within float32 tolerance;
   - QLoRA: the same with every linear layer of the frozen base stored in NF4 (``peftcalc.verify.nf4``:
     blocks of 64, double quantization) and dequantized on the fly;
   - baselines that show the fine-tuning matters: the head alone on the frozen base, and full training
     from a random initialisation (no pretraining).

The model *is* a Hugging Face llama: its row embedding is ``embed_tokens`` with ``vocab_size`` = 8 (a row's
embedding is Σⱼ xⱼ·Eⱼ over its 8 intensities), the pretraining head is ``lm_head`` (d → 8), the classifier
is ``LlamaForSequenceClassification``'s ``score``. So peftcalc counts it from its config.json like any
other model, and the run requires every trainable count to equal peftcalc's (``params("lora", …)``,
``params("full", …)``) and the NF4 base's measured bytes to equal ``peftcalc.quant.model_storage``.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn

from peftcalc.arch.hf_config import arch_from_config
from peftcalc.arch.model import Arch
from peftcalc.calc import params
from peftcalc.errors import InputError
from peftcalc.experiments.digits import COLUMNS, FINETUNE_DIGITS, ROWS, DigitsTask, load_task
from peftcalc.quant import model_storage
from peftcalc.verify.layers import LoRALinear, NF4Linear, QLoRALinear, apply_lora, lora_modules, replace_modules
from peftcalc.verify.models import MLP, RMSNorm

SWEEP_RANKS = (1, 2, 4, 8, 16, 32, 64)
TABLE_RANKS = (4, 16)  # the seed's table: Full fine-tune / LoRA r=4 / LoRA r=16
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
EPS32 = 2.0**-23


@dataclass(frozen=True)
class Settings:
    """Everything the run depends on (with the seeds, it determines the result)."""

    hidden: int = 64
    layers: int = 2
    heads: int = 4
    intermediate: int = 128
    targets: tuple[str, ...] = ("q_proj", "v_proj")  # or ("all-linear",)
    alpha: float = 16.0                               # scaling α/r, Exercise 9.5's default α
    ranks: tuple[int, ...] = SWEEP_RANKS
    qlora_ranks: tuple[int, ...] = TABLE_RANKS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    pretrain_steps: int = 400
    finetune_steps: int = 300
    pretrain_batch: int = 64
    batch: int = 32
    pretrain_lr: float = 3e-3
    full_lr: float = 1e-3     # full fine-tuning and training from scratch
    adapter_lr: float = 3e-3  # LoRA, QLoRA, head only (adapters take a larger step, as is usual)
    baselines: bool = True
    threads: int = 1          # fixed, so that a result does not depend on the machine's core count

    def runs(self) -> int:
        """Training runs in all (for a progress bar)."""
        return len(self.seeds) * (2 + len(self.ranks) + len(self.qlora_ranks) + 2 * self.baselines)


QUICK = Settings(seeds=(0, 1, 2), ranks=(1, 4, 16, 64), qlora_ranks=(16,), pretrain_steps=80, finetune_steps=60, batch=64,
                 baselines=False)
FULL = Settings()


def _require(ok: bool, message: str) -> None:
    if not ok:  # not `assert`: these checks are the run's claims and must hold under `python -O` too
        raise RuntimeError(message)


# ---- the model: a llama with rows as tokens ------------------------------------------------------------


def model_config(s: Settings, *, head: str = "seq_cls") -> dict[str, Any]:
    """The Hugging Face config.json of the model (``head``: ``seq_cls``, ``causal_lm`` or ``base``)."""
    cls = {"seq_cls": "LlamaForSequenceClassification", "causal_lm": "LlamaForCausalLM", "base": "LlamaModel"}[head]
    cfg: dict[str, Any] = {
        "model_type": "llama", "architectures": [cls], "hidden_size": s.hidden, "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads, "num_key_value_heads": s.heads, "intermediate_size": s.intermediate,
        "vocab_size": COLUMNS, "max_position_embeddings": ROWS, "hidden_act": "silu", "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "tie_word_embeddings": False,
    }
    if head == "seq_cls":
        cfg["num_labels"] = len(FINETUNE_DIGITS)
    return cfg


def model_arch(s: Settings, *, head: str = "seq_cls") -> Arch:
    return arch_from_config(model_config(s, head=head), name=f"digits-llama-{s.hidden}x{s.layers}-{head}")


class RowAttention(nn.Module):
    """Causal multi-head attention with rotary position embeddings (transformers' ``rotate_half`` form)."""

    def __init__(self, arch: Arch, theta: float = 10000.0) -> None:
        super().__init__()
        h, self.heads, self.head_dim = arch.hidden_size, arch.num_attention_heads, arch.head_dim
        if arch.num_key_value_heads != self.heads:
            raise ValueError("RowAttention has no grouped-query attention: num_key_value_heads must equal heads")
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=False)
        inv = 1.0 / theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim)
        angles = torch.arange(ROWS, dtype=torch.float32)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cat([angles.cos()] * 2, dim=-1), persistent=False)
        self.register_buffer("sin", torch.cat([angles.sin()] * 2, dim=-1), persistent=False)

    def _rotate(self, x: torch.Tensor) -> torch.Tensor:
        s, half = x.shape[-2], self.head_dim // 2
        return x * self.cos[:s] + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * self.sin[:s]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        q, k, v = (proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        out = nn.functional.scaled_dot_product_attention(self._rotate(q), self._rotate(k), v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, self.heads * self.head_dim))


class RowBlock(nn.Module):
    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(arch.hidden_size)
        self.self_attn = RowAttention(arch)
        self.post_attention_layernorm = RMSNorm(arch.hidden_size)
        self.mlp = MLP(arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class RowModel(nn.Module):
    """``LlamaModel``: rows [b, 8, 8] → hidden states [b, 8, d]; a row's embedding is row @ embed_tokens.weight."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(arch.vocab_size, arch.hidden_size)
        self.layers = nn.ModuleList(RowBlock(arch) for _ in range(arch.num_layers))
        self.norm = RMSNorm(arch.hidden_size)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        x = rows @ self.embed_tokens.weight
        for block in self.layers:
            x = block(x)
        return self.norm(x)


class RowLM(nn.Module):
    """``LlamaForCausalLM``: ``lm_head`` predicts the next row's 8 intensities."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        self.model = RowModel(arch)
        self.lm_head = nn.Linear(arch.hidden_size, arch.vocab_size, bias=False)

    def loss(self, rows: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(self.lm_head(self.model(rows))[:, :-1], rows[:, 1:])


class RowClassifier(nn.Module):
    """``LlamaForSequenceClassification``: ``score`` reads the last token (all sequences are 8 rows long)."""

    def __init__(self, model: RowModel, num_labels: int) -> None:
        super().__init__()
        self.model = model
        self.score = nn.Linear(model.embed_tokens.embedding_dim, num_labels, bias=False)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.score(self.model(rows)[:, -1])


def require_same_shapes(module: nn.Module, arch: Arch) -> None:
    """Every parameter of ``module`` has the name and size peftcalc's architecture gives it, and no other."""
    want = {f"{m.name}.{p}": n for m in arch.modules for p, n in m.params.items()}
    got = {name: p.numel() for name, p in module.named_parameters()}
    _require(got == want, f"torch model != peftcalc's {arch.name}: {sorted(set(got.items()) ^ set(want.items()))}")


# ---- training ----------------------------------------------------------------------------------------------


@contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """Fixed intra-op threads and deterministic algorithms for the block; the previous state after it."""
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def _batches(n: int, batch: int, steps: int, seed: int) -> Iterator[torch.Tensor]:
    """``steps`` index batches: seeded shuffles, epoch after epoch, the last partial batch dropped."""
    gen = torch.Generator().manual_seed(seed)
    done = 0
    while True:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - batch + 1, batch):
            if done == steps:
                return
            yield order[start:start + batch]
            done += 1


def pretrain(s: Settings, task: DigitsTask, seed: int) -> tuple[RowModel, float]:
    """Next-row pretraining on the digits 0–4; returns the body (``lm_head`` dropped) and the last loss."""
    torch.manual_seed(seed)
    lm = RowLM(model_arch(s, head="causal_lm"))
    require_same_shapes(lm, model_arch(s, head="causal_lm"))
    rows = torch.from_numpy(task.pretrain_rows)
    opt = torch.optim.AdamW(lm.parameters(), lr=s.pretrain_lr, weight_decay=0.01, fused=True)
    loss = torch.tensor(float("nan"))
    for idx in _batches(len(rows), s.pretrain_batch, s.pretrain_steps, seed):
        loss = lm.loss(rows[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return lm.model, float(loss.detach())


def expected_trainable(s: Settings, method: str, r: int | None = None) -> int:
    """peftcalc's count of what ``method`` trains on the classifier (the number the table shows)."""
    arch = model_arch(s)
    if method in ("full", "scratch"):
        return params("full", arch=arch).trainable_params
    if method == "head_only":
        return sum(m.numel for m in arch.task_head_modules())
    return params("lora", arch=arch, r=r, alpha=s.alpha, targets=list(s.targets)).trainable_params


def _is_target(name: str, targets: Sequence[str]) -> bool:
    return "all-linear" in targets or name.rsplit(".", 1)[-1] in targets


def build_classifier(s: Settings, body: RowModel | None, method: str, r: int | None = None) -> RowClassifier:
    """The fine-tuning model: a copy of ``body`` (a fresh one for ``scratch``) + a new head, set up for ``method``."""
    arch = model_arch(s)
    clf = RowClassifier(RowModel(arch) if body is None else copy.deepcopy(body), len(FINETUNE_DIGITS))
    require_same_shapes(clf, arch)
    if method in ("lora", "head_only", "qlora"):
        for p in clf.model.parameters():
            p.requires_grad_(False)
    if method == "lora":
        assert r is not None
        apply_lora(clf.model, None if "all-linear" in s.targets else list(s.targets), r=r, alpha=s.alpha)
    elif method == "qlora":
        assert r is not None
        linears = [n for n, m in clf.model.named_modules() if isinstance(m, nn.Linear)]
        replace_modules(clf.model, linears, lambda lin, name: QLoRALinear(lin, r, s.alpha) if _is_target(name, s.targets)
                        else NF4Linear(lin))
    return clf


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels).double().mean())


def merge_check(clf: RowClassifier, rows: torch.Tensor) -> dict[str, float]:
    """Merge every LoRA layer, compare the logits with the unmerged model's, unmerge (W₀ must come back)."""
    layers = lora_modules(clf)
    w0 = [m.base.weight.clone() for m in layers]
    with torch.no_grad():
        unmerged = clf(rows)
        for m in layers:
            m.merge()
        merged = clf(rows)
        for m in layers:
            m.unmerge()
        restored = clf(rows)
    # W₀ + ΔW is rounded once more than the two products it replaces; the difference goes through every
    # later layer: allow 64 float32 ulps of the logits' magnitude per layer
    tol = 64 * EPS32 * float(unmerged.abs().max()) * len(clf.model.layers)
    diff = float((merged - unmerged).abs().max())
    w_diff = max(float((m.base.weight - w).abs().max()) for m, w in zip(layers, w0, strict=True))
    _require(diff <= tol, f"merged logits differ from unmerged by {diff:.3g} > {tol:.3g}")
    _require(float((restored - unmerged).abs().max()) <= tol and w_diff <= 64 * EPS32 * max(
        float(w.abs().max()) for w in w0), f"unmerge did not restore W₀ (max |ΔW₀| {w_diff:.3g})")
    return {"max_abs_diff": diff, "tolerance": tol, "unmerge_max_abs_diff": w_diff}


def nf4_base_bytes(s: Settings, clf: RowClassifier) -> dict[str, int]:
    """Measured bytes of QLoRA's frozen base (NF4 linears + the rest in fp32) == peftcalc's model of them."""
    nf4 = [m for m in clf.model.modules() if isinstance(m, NF4Linear)]  # QLoRALinear.base included
    packed = sum(m.weight_nf4.nbytes()["data"] for m in nf4)
    constants = sum(m.weight_nf4.nbytes()["constants"] for m in nf4)
    kept = sum(p.numel() * p.element_size() for n, p in clf.model.named_parameters() if not p.requires_grad)
    base = model_arch(s, head="base")
    model = model_storage(base, "nf4", double_quant=True, compute_dtype="fp32")
    measured = packed + constants + kept
    _require(measured == model.total_bytes and packed == model.data_bytes,
             f"NF4 base: measured {measured:,} B, peftcalc.quant {model.total_bytes:,} B")
    return {"total": measured, "nf4_data": packed, "nf4_constants": constants, "fp32_kept": kept,
            "fp32_base": 4 * base.total_params, "quantized_params": model.quantized_params,
            "kept_params": model.kept_params, "peftcalc_model_storage": model.total_bytes}


def finetune(s: Settings, task: DigitsTask, body: RowModel | None, seed: int, method: str,
             r: int | None = None) -> dict[str, Any]:
    """One fine-tuning run: build, check the trainable count against peftcalc, train, evaluate."""
    torch.manual_seed(seed)
    clf = build_classifier(s, body, method, r)
    trainable = [p for p in clf.parameters() if p.requires_grad]
    count = sum(p.numel() for p in trainable)
    expected = expected_trainable(s, method, r)
    _require(count == expected, f"{method} r={r}: torch trains {count:,} parameters, peftcalc counts {expected:,}")
    x, y = torch.from_numpy(task.train_rows), torch.from_numpy(task.train_labels)
    lr = s.full_lr if method in ("full", "scratch") else s.adapter_lr
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0, fused=True)
    clf.train()
    for idx in _batches(len(x), s.batch, s.finetune_steps, seed):
        loss = nn.functional.cross_entropy(clf(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    clf.eval()
    test_x, test_y = torch.from_numpy(task.test_rows), torch.from_numpy(task.test_labels)
    with torch.no_grad():
        out: dict[str, Any] = {"params": count, "accuracy": accuracy(clf(test_x), test_y),
                               "train_accuracy": accuracy(clf(x), y)}
    if method == "lora":
        out["merge"] = merge_check(clf, test_x)
    if method == "qlora":
        out["base_bytes"] = nf4_base_bytes(s, clf)
    return out


# ---- the whole run -----------------------------------------------------------------------------------------


def _summary(runs: list[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    accs = [run["accuracy"] for run in runs]
    return {"params": runs[0]["params"], "accuracy": statistics.fmean(accs),
            "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "accuracy_min": min(accs), "accuracy_max": max(accs), "accuracies": accs, "seeds": list(seeds),
            "train_accuracy": statistics.fmean(run["train_accuracy"] for run in runs)}


def validate(s: Settings) -> None:
    """Settings the run cannot honour raise :class:`InputError` naming the command-line flag."""
    max_rank = min(s.hidden, s.intermediate)
    bad = [r for r in (*s.ranks, *s.qlora_ranks) if not 1 <= r <= max_rank]
    if bad:
        raise InputError("rank", bad[0], f"between 1 and {max_rank} (min(d_model, intermediate))")
    if not set(TABLE_RANKS) <= set(s.ranks):
        raise InputError("ranks", list(s.ranks), f"a sweep that includes the table's ranks {TABLE_RANKS}")
    unknown = [t for t in s.targets if t not in (*LINEAR_NAMES, "all-linear")]
    if unknown or not s.targets:
        raise InputError("--targets", ",".join(s.targets), f"names among {', '.join(LINEAR_NAMES)}, or all-linear")
    if not s.seeds:
        raise InputError("--seeds", 0, "at least 1")


def run(s: Settings = FULL, *, task: DigitsTask | None = None,
        on_run: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The reference run: the seed's table, the rank sweep, QLoRA and the baselines, as one JSON-able dict."""
    validate(s)
    started = time.perf_counter()
    task = task or load_task()
    tick = on_run or (lambda label: None)
    results: dict[str, list[dict[str, Any]]] = {}

    def record(key: str, out: dict[str, Any]) -> None:
        results.setdefault(key, []).append(out)

    pretrain_losses = []
    with deterministic(s.threads):
        for seed in s.seeds:
            body, loss = pretrain(s, task, seed)
            pretrain_losses.append(loss)
            tick(f"seed {seed}: pretrained")
            record("full", finetune(s, task, body, seed, "full"))
            tick(f"seed {seed}: full fine-tune")
            for r in s.ranks:
                record(f"lora_r{r}", finetune(s, task, body, seed, "lora", r))
                tick(f"seed {seed}: LoRA r={r}")
            for r in s.qlora_ranks:
                record(f"qlora_r{r}", finetune(s, task, body, seed, "qlora", r))
                tick(f"seed {seed}: QLoRA r={r}")
            if s.baselines:
                record("head_only", finetune(s, task, body, seed, "head_only"))
                tick(f"seed {seed}: head only")
                record("scratch", finetune(s, task, None, seed, "scratch"))
                tick(f"seed {seed}: from scratch")

    def row(key: str, title: str, **extra: Any) -> dict[str, Any]:
        summary = _summary(results[key], s.seeds)
        return {"method": key, "title": title, **summary, "params_peftcalc": summary["params"], **extra}

    arch = model_arch(s)
    lora_rows = {r: row(f"lora_r{r}", f"LoRA r={r}", r=r, merge_max_abs_diff=max(
        run["merge"]["max_abs_diff"] for run in results[f"lora_r{r}"])) for r in s.ranks}
    qlora_bytes = results[f"qlora_r{s.qlora_ranks[0]}"][0]["base_bytes"] if s.qlora_ranks else None
    return {
        "experiment": "miniproject",
        "rows": [row("full", "Full fine-tune")] + [lora_rows[r] for r in TABLE_RANKS],
        "sweep": [lora_rows[r] for r in s.ranks],
        "qlora": {"quantization": "NF4 (QLoRA's code book), blocks of 64, double quantization (8-bit absmax in "
                                  "blocks of 256); every linear layer of the frozen base, dequantized in forward; "
                                  "the row embedding and the norms stay fp32",
                  "base_bytes": qlora_bytes["total"] if qlora_bytes else None, "base_bytes_detail": qlora_bytes,
                  "rows": [row(f"qlora_r{r}", f"QLoRA r={r} (NF4 base)", r=r) for r in s.qlora_ranks]},
        "baselines": [row("head_only", "head only (frozen pretrained base)"),
                      row("scratch", "full training from scratch (no pretraining)")] if s.baselines else [],
        "spread": "accuracy_std is the sample standard deviation (n-1) over the seeds; accuracy_min/max the range",
        "accuracy_on": f"the {len(task.test_rows)} held-out test images of the digits 5–9, after the last step",
        "model": {"config": model_config(s), "total_params": arch.total_params,
                  "lora_targets": list(s.targets), "lora_alpha": s.alpha,
                  "adapted_modules": [m.name for m in arch.modules if m.kind == "linear" and m.name != "score"
                                      and _is_target(m.name, s.targets)],
                  "trained_in_full_with_lora": ["score"],
                  "pretrain_final_loss": {"mean": statistics.fmean(pretrain_losses), "per_seed": pretrain_losses}},
        "data": task.describe(),
        "settings": asdict(s),
        "determinism": {"torch_manual_seed": "each seed, before pretraining and before every fine-tuning run",
                        "threads": s.threads, "deterministic_algorithms": True},
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - started, 1),
    }


def settings_for(*, quick: bool, seeds: int | None = None, targets: Sequence[str] | None = None,
                 threads: int | None = None) -> Settings:
    """The quick or full settings with the command line's overrides."""
    s = QUICK if quick else FULL
    changes: dict[str, Any] = {}
    if seeds is not None:
        changes["seeds"] = tuple(range(seeds))
    if targets is not None:
        changes["targets"] = tuple(targets)
    if threads is not None:
        changes["threads"] = threads
    return replace(s, **changes)



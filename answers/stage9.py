"""Stage 9 (seeds 000/001): Exercises 9.1–9.4, the conceptual and analytical questions."""

from __future__ import annotations

from fractions import Fraction

from answers.format import fmt
from answers.key import Accepted, Answer, Mistake, Part, RubricPoint, Tolerance, concept, part, pct
from peftcalc.calc import params
from peftcalc.training import make_memory_config, params_only_memory

PARTS: list[Part] = []
SRC = "seeds 000/001, Stage 9 Exercises"
R = RubricPoint


def full_finetune_memory(psi: int, precision: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """Weights, gradients, (master copy,) Adam states of Ψ parameters: peftcalc's memory model, no activations."""
    est = params_only_memory(psi, make_memory_config(precision=precision, batch=0))
    return est.total_bytes, tuple(est.breakdown.items())


@part(PARTS, "9.1a", "7B model: how much GPU memory is needed for full fine-tuning in FP16?", SRC)
def ex9_1a(params_count: int = 7 * 10**9) -> Answer:
    fp16, fp16_parts = full_finetune_memory(params_count, "fp16")
    mixed, mixed_parts = full_finetune_memory(params_count, "mixed")
    n = fmt(params_count, "params")
    return Answer("", "", "numeric", fp16, "bytes",
                  text=(f"{fmt(fp16, 'bytes')}: FP16 weights (2 B) + FP16 gradients (2 B) + Adam's two fp32 states "
                        f"(8 B) = 12 B per parameter × {n}. With an fp32 master copy (standard mixed precision, "
                        f"16 B/param) it is {fmt(mixed, 'bytes')}. Activations come on top and depend on batch "
                        "and sequence length; the weights alone (inference) are only "
                        f"{fmt(2 * params_count, 'bytes')}."),
                  formula=r"M = \Psi\,(2 + 2 + 8)\ \text{B}",
                  substitution=f"{n} × 12 B = {fp16:,} B",
                  assumptions=("Adam/AdamW with two fp32 states per parameter (m, v)",
                               "activations excluded (they depend on batch and sequence length)",
                               "GB = 10⁹ B; GiB = 2³⁰ B"),
                  accepted=(Accepted("fp16 weights + fp16 grads + fp32 Adam (seed 004)", fp16,
                                     "seed 004 §1.1's accounting: 12 B/param", fp16_parts),
                            Accepted("mixed precision with fp32 master weights", mixed,
                                     "ZeRO paper's 16 B/param: 2 + 2 + 4 (master) + 8 (Adam)", mixed_parts),
                            # decided (issue 17): "in FP16" read literally, Adam's states too — accelerate's
                            # estimate-memory convention (8 B/param), which `peftcalc known` reproduces
                            Accepted("everything in FP16, Adam states too (accelerate's convention)",
                                     8 * params_count, "2 (weights) + 2 (gradients) + 2 + 2 (Adam m, v in fp16) "
                                     "= 8 B/param; in practice Adam's states are kept in fp32 (the 84 GB answer)")),
                  mistakes=(Mistake("weights only", 2 * params_count,
                                    "that is the FP16 weights alone (inference); training also keeps gradients "
                                    "and optimizer states", Fraction(1, 4)),
                            Mistake("forgot the optimizer states", 4 * params_count,
                                    "weights + gradients only: Adam keeps two more values per parameter",
                                    Fraction(1, 2))),
                  tolerance=Tolerance(Fraction(3, 100)))


concept(PARTS, "9.1b", "Why does fine-tuning all parameters often lead to worse generalization?", SRC, text=(
        "Billions of free parameters trained on a small task dataset can fit it (and its noise) almost "
        "exactly: the model over-fits, and the update is free to move far from the pre-trained weights that "
        "encode general knowledge, so it loses the broad features that made it generalize. PEFT methods "
        "constrain the update (low rank, few parameters), which acts as a regularizer."),
        rubric=(R("over-fitting: far more parameters than task examples", ("overfit", "over-fit", "memoriz",
                  "small dataset", "limited data", "few examples", "too many parameters")),
                R("the update drifts from the pre-trained weights / loses general knowledge",
                  ("pre-trained knowledge", "pretrained knowledge", "general knowledge", "drift", "far from",
                   "forget", "lose", "destroy")),
                R("constraining the update (PEFT, low rank, fewer parameters) regularizes",
                  ("regulariz", "low-rank", "low rank", "constrain", "fewer parameters", "peft", "lora"))))


concept(PARTS, "9.1c", "What does \"catastrophic forgetting\" mean in this context?", SRC, text=(
        "Catastrophic forgetting is the loss of previously learned capabilities when a network is trained on a "
        "new task: gradient updates for the new task overwrite the weights that encoded the pre-training "
        "knowledge, so performance on earlier/general tasks drops sharply. Freezing the base (LoRA, adapters) "
        "or regularizing toward it (EWC, data mixing) limits it."),
        rubric=(R("previously learned abilities / knowledge are lost", ("previous", "earlier", "original",
                  "pre-train", "pretrain", "general capabilit", "prior knowledge", "old task")),
                R("because training on the new task overwrites the shared weights",
                  ("overwrit", "new task", "new data", "fine-tun", "updates")),
                R("a mitigation: freeze the base / PEFT / EWC / replay or data mixing",
                  ("freez", "frozen", "lora", "peft", "adapter", "ewc", "replay", "mix", "regulariz"))))


@part(PARTS, "9.2a", "LoRA r=8 on a 4096×4096 weight matrix: how many trainable parameters does LoRA add?", SRC)
def ex9_2a(d: int = 4096, k: int = 4096, r: int = 8) -> Answer:
    res = params("lora", d=d, k=k, r=r)
    return Answer("", "", "numeric", res.trainable_params, "params",
                  text=f"A is r×k and B is d×r: r·(d + k) = {fmt(res.trainable_params, 'params')} parameters.",
                  formula=r"r\,(d + k)", substitution=f"{r}·({d} + {k}) = {res.trainable_params:,}",
                  accepted=(Accepted("A (r×k) + B (d×r)", res.trainable_params, "LoRA's two factors"),),
                  mistakes=(Mistake("counted only one factor", r * d if d == k else r * k,
                                    "LoRA trains both A (r×k) and B (d×r): r·(d + k)", Fraction(1, 2)),
                            Mistake("counted the full matrix", d * k, "that is full fine-tuning of the matrix, "
                                    "not the low-rank update", Fraction(0))),
                  tolerance=Tolerance(Fraction(0)))


@part(PARTS, "9.2b", "What percentage is this of the original matrix?", SRC)
def ex9_2b(d: int = 4096, k: int = 4096, r: int = 8) -> Answer:
    res = params("lora", d=d, k=k, r=r)
    share = pct(res.trainable_fraction)
    return Answer("", "", "numeric", share, "percent",
                  text=(f"{res.trainable_params:,} / {d * k:,} = {res.trainable_fraction} = {fmt(share, 'percent')} "
                        f"of the matrix ({fmt(res.reduction_factor, 'ratio')} fewer parameters)."),
                  formula=r"\frac{r(d+k)}{dk} \times 100\,\%",
                  substitution=f"{res.trainable_params:,} / {d * k:,} × 100 %",
                  accepted=(Accepted("percentage", share, "r(d+k)/(dk) as a percentage"),),
                  mistakes=(Mistake("fraction instead of percent", res.trainable_fraction,
                                    "the fraction is right, but the question asks for a percentage (×100)",
                                    Fraction(3, 4), unit="scalar"),),
                  tolerance=Tolerance(Fraction(1, 100)))


@part(PARTS, "9.2c", "After training, can we recover a single weight matrix? How?", SRC, "conceptual")
def ex9_2c() -> Answer:
    import sympy

    return Answer("", "", "conceptual", "yes", text=(
        "Yes. The LoRA path is linear in the same input, so Wx + (α/r)·BAx = (W + (α/r)·BA)x: compute "
        "W' = W + (α/r)·B·A once and use it in place of W. It has W's shape and no extra inference cost; "
        "subtracting the same product restores W (unmerge)."),
        formula=sympy.latex(sympy.Symbol("W'")) + r" = W + \frac{\alpha}{r} B A",
        rubric=(R("yes: merge by adding the product BA to W", ("W + BA", "W+BA", "add", "merge", "sum")),
                R("scaled by alpha/r", ("alpha/r", "α/r", "scaling", "alpha / r", "\\frac{\\alpha}{r}")),
                R("same shape, no extra inference latency (can unmerge by subtracting)",
                  ("same shape", "no extra", "no additional", "zero overhead", "latency", "unmerge", "subtract"))),
        synonyms=("yes", "y", "true"))


@part(PARTS, "9.3a", "LoRA, Adapters, Prompt Tuning: which method adds parameters during inference?", SRC, "choice")
def ex9_3a() -> Answer:
    return Answer("", "", "choice", "adapters", text=(
        "Adapters: their bottleneck layers stay in the network and run at inference (extra parameters and "
        "latency). LoRA can be merged into W (zero extra parameters). Prompt tuning keeps its soft-prompt "
        "vectors at inference too, though only p·d of them (they lengthen the input rather than the network)."),
        accepted=(Accepted("adapters", "adapters", "bottleneck layers run at inference"),
                  Accepted("adapters and prompt tuning", "adapters, prompt tuning",
                           "the soft prompt is also kept and prepended at inference"),
                  # decided (issue 17): the question's words are met by prompt tuning too — its p·d prompt
                  # vectors are parameters present at inference — so it earns full credit, with the key's reason
                  Accepted("prompt tuning", "prompt tuning",
                           "its soft prompt (p·d parameters) is kept and prepended at inference; adapters add "
                           "whole layers that run at inference, the answer the question has in mind")),
        mistakes=(Mistake("LoRA", "lora", "LoRA's BA merges into W: no parameters remain at inference",
                          Fraction(0)),),
        synonyms=("adapter", "adapter layers", "bottleneck adapters", "houlsby adapters"),
        rubric=(R("adapters cannot be merged: nonlinearity between down- and up-projection",
                  ("nonlinear", "non-linear", "activation", "cannot be merged", "can't be merged", "extra layer")),))


@part(PARTS, "9.3b", "Which method is easiest to combine for multi-task models?", SRC, "choice")
def ex9_3b() -> Answer:
    return Answer("", "", "choice", "prompt tuning", text=(
        "Prompt tuning: each task is just a different soft prompt in front of the same frozen model, so one "
        "batch can mix tasks (Lester et al. 2021, 'mixed-task inference'). LoRA is a close second: one frozen "
        "base with many small, swappable adapters whose ΔW can also be added together."),
        accepted=(Accepted("prompt tuning", "prompt tuning", "per-example soft prompts, one unchanged model"),
                  Accepted("LoRA", "lora", "swappable adapters over one base; ΔW's combine linearly")),
        synonyms=("prompt", "soft prompt", "soft prompts", "prompt-tuning"),
        rubric=(R("the model itself is unchanged/shared across tasks", ("frozen", "shared", "same model",
                  "unchanged", "one base")),
                R("tasks differ only in a small swappable piece", ("swap", "per task", "per-task", "prepend",
                  "mix", "batch"))))


@part(PARTS, "9.3c", "Which method requires changing the model architecture?", SRC, "choice")
def ex9_3c() -> Answer:
    return Answer("", "", "choice", "adapters", text=(
        "Adapters: new bottleneck modules are inserted into every block, changing the network's structure. "
        "LoRA adds a parallel low-rank path that merges back into W, and prompt tuning changes only the input "
        "sequence."),
        accepted=(Accepted("adapters", "adapters", "modules are inserted into each block"),),
        mistakes=(Mistake("prompt tuning", "prompt tuning", "prompt tuning changes only the input embeddings",
                          Fraction(0)),),
        synonyms=("adapter", "adapter layers", "bottleneck adapters"),
        rubric=(R("new layers inserted into each transformer block", ("insert", "new layer", "new module",
                  "add layers", "bottleneck")),))


_RANK_SRC = "LoRA paper (Hu et al. 2021) §7.2: very low ranks (r=1–8) already suffice for GPT-3 q,v on its tasks"


concept(PARTS, "9.4a", "Why is rank important in LoRA? What happens if rank is too low?", SRC, text=(
        "The rank r bounds the update ΔW = BA to an r-dimensional subspace. Too low, and ΔW cannot express the "
        "change the task needs: the model under-fits (training loss plateaus, task accuracy falls short of "
        f"full fine-tuning). In practice that bites on tasks far from pre-training. ({_RANK_SRC}.)"),
        rubric=(R("rank limits the expressiveness/capacity of ΔW", ("capacity", "expressiv", "subspace",
                  "low-rank", "cannot represent", "can't represent", "not enough")),
                R("under-fitting / worse task performance", ("underfit", "under-fit", "worse", "poor performance",
                  "lower accuracy", "plateau"))))


concept(PARTS, "9.4b", "What happens if rank is too high?", SRC, text=(
        "Parameters, optimizer memory and checkpoint size grow linearly in r (r·(d+k) per matrix) for little "
        "gain — the useful update is usually low-rank — and with little data the extra capacity over-fits; "
        "at r → min(d, k) LoRA approaches full fine-tuning and loses its efficiency. (With α/r scaling the "
        "update also shrinks as r grows, so α or the learning rate must be retuned; rsLoRA uses α/√r.)"),
        rubric=(R("more parameters/memory/compute (linear in r)", ("memory", "parameters", "compute", "cost",
                  "storage", "linear")),
                R("diminishing returns or over-fitting", ("overfit", "over-fit", "diminishing", "no gain",
                  "little gain", "no improvement")),
                R("approaches full fine-tuning, losing the efficiency", ("full fine-tun", "loses efficiency",
                  "efficien"))))


concept(PARTS, "9.4c", "How would you choose rank for a new task?", SRC, text=(
        "Start small (r = 8 or 16, α = 2r) and sweep r ∈ {4, 8, 16, 32, 64} on a validation set, picking the "
        "smallest rank whose score is within noise of the best; raise r for tasks far from pre-training or "
        "with lots of data, lower it for small data. Check the memory/parameter budget, and optionally inspect "
        "the singular values of ΔW or use an adaptive method (AdaLoRA) to allocate rank."),
        rubric=(R("empirical sweep on a validation set", ("sweep", "grid", "validation", "experiment",
                  "try several", "search")),
                R("start from a small default rank (4–16)", ("r=8", "r = 8", "rank 8", "r=16", "rank 16",
                  "small rank", "start small", "r=4")),
                R("depends on task complexity / data size / budget", ("complex", "data size", "amount of data",
                  "budget", "distribution shift", "domain")),
                R("smallest rank within noise of the best, or adaptive allocation",
                  ("smallest", "diminishing", "adalora", "singular value", "plateau"))))

"""The seeds' matrix-level calculator: bare weight matrices instead of a real model.

``--d``/``--k`` describe one matrix W ∈ R^{d×k} (k defaults to d), ``--layers``/``--matrices``
repeat it; every module-wise method (LoRA, DoRA, IA3, …) then runs on that synthetic architecture.
The seeds' own conventions (seed 003 ``compare_peft_methods``: the "full model" is the attention
weights only, 4·L·d²) are reproduced by :func:`seed_compare` and labelled as such.
"""

from __future__ import annotations

from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError
from peftcalc.validation import to_input_error

MAX_DIM = 10_000_000


class MatrixSpec(BaseModel):
    """Shape of the synthetic model: ``layers × matrices`` copies of a d×k matrix."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    d: int = Field(gt=0, le=MAX_DIM, description="rows of W (out_features; hidden size for prefix/prompt)")
    k: int | None = Field(None, gt=0, le=MAX_DIM, description="columns of W (in_features); default d")
    layers: int = Field(1, gt=0, le=100_000, description="number of layers")
    matrices: int = Field(1, gt=0, le=1_000, description="adapted matrices per layer")
    heads: int = Field(1, gt=0, le=MAX_DIM, description="attention heads (prefix tuning: d_head = d/heads)")


def matrix_arch(spec: MatrixSpec) -> Arch:
    """An :class:`Arch` of ``layers × matrices`` identical d×k matrices named ``layers.{i}.W{j}``."""
    k = spec.k or spec.d
    if spec.d % spec.heads:
        raise InputError("--heads", spec.heads, f"a divisor of d = {spec.d}")
    modules = tuple(
        ModuleSpec(name=f"layers.{i}.W{j}", kind="linear", in_features=k, out_features=spec.d,
                   params={"weight": spec.d * k})
        for i in range(spec.layers)
        for j in range(spec.matrices)
    )
    label = f"{spec.d}×{k} matrix" + (f" × {spec.layers * spec.matrices}" if spec.layers * spec.matrices > 1 else "")
    return Arch(
        name=label, model_type="matrix", hidden_size=spec.d, num_layers=spec.layers,
        num_attention_heads=spec.heads, num_key_value_heads=spec.heads, head_dim=spec.d // spec.heads,
        vocab_size=0, intermediate_size=0, modules=modules, source="--d/--k (matrix-level)",
    )


def make_matrix_spec(**values: object) -> MatrixSpec:
    """Validate matrix options; errors name the flag and its allowed range."""
    try:
        return MatrixSpec(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise to_input_error(exc, MatrixSpec) from None


SEED003_NOTE = (
    "seed 003 convention: 'full' = attention weights only (Q, K, V, O: 4·L·d²), LoRA r=8 on Q and V, "
    "adapters (bottleneck 64) without biases, two per layer, prefix 10 tokens, prompt 20 tokens"
)


def seed_compare(
    *,
    d_model: int = 4096,
    num_layers: int = 32,
    num_heads: int = 32,
    lora_rank: int = 8,
    adapter_bottleneck: int = 64,
    prefix_length: int = 10,
    prompt_length: int = 20,
) -> dict[str, tuple[int, Fraction]]:
    """Seed 003's ``compare_peft_methods`` convention: method → (params, ratio to "full").

    "full" there is the attention weights only (Q, K, V, O: 4·L·d²), adapters have no biases
    (2 per layer × 2·d·m), LoRA is on Q and V. Re-derived from the seed's stated conventions.

    Examples:
        >>> seed_compare()["lora"]
        (4194304, Fraction(1, 512))
    """
    d_head = d_model // num_heads
    counts = {
        "full": num_layers * 4 * d_model * d_model,
        "lora": num_layers * 2 * lora_rank * (d_model + d_model),
        "adapters": num_layers * 2 * 2 * d_model * adapter_bottleneck,
        "prefix": num_layers * 2 * prefix_length * num_heads * d_head,
        "prompt": prompt_length * d_model,
    }
    return {name: (n, Fraction(n, counts["full"])) for name, n in counts.items()}

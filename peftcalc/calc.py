"""The calculator's entry points: pick an architecture, validate a method's options, count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from peftcalc.arch import Arch, load_config_file, load_preset
from peftcalc.errors import InputError, PeftcalcError
from peftcalc.validation import to_input_error
from peftcalc.matrix import make_matrix_spec, matrix_arch
from peftcalc.methods import REGISTRY, MethodConfig, get_method
from peftcalc.result import Result


def resolve_arch(
    *,
    model: str | None = None,
    config: str | Path | None = None,
    d: int | None = None,
    k: int | None = None,
    layers: int | None = None,
    matrices: int | None = None,
    heads: int | None = None,
) -> Arch:
    """The architecture named by exactly one of ``model`` (preset), ``config`` (config.json path) or ``d``."""
    given = [name for name, v in (("--model", model), ("--config", config), ("--d", d)) if v is not None]
    if len(given) != 1:
        raise InputError("model", " and ".join(given) or "<none>",
                         "exactly one of --model NAME, --config PATH or --d N (matrix-level)")
    matrix_opts = {"k": k, "layers": layers, "matrices": matrices, "heads": heads}
    if d is None:
        extra = [f"--{n}" for n, v in matrix_opts.items() if v is not None]
        if extra:
            raise InputError(extra[0], matrix_opts[extra[0][2:]], "used only with --d (matrix-level calculator)")
    if model is not None:
        return load_preset(model)
    if config is not None:
        return load_config_file(config)
    return matrix_arch(make_matrix_spec(d=d, **{n: v for n, v in matrix_opts.items() if v is not None}))


def make_config(method: str, options: dict[str, Any]) -> MethodConfig:
    """Validate a method's options with its pydantic config; errors name the CLI flag."""
    cls = get_method(method).config
    try:
        return cls(**options)
    except ValidationError as exc:
        raise to_input_error(exc, cls) from None


def params(
    method: str,
    *,
    model: str | None = None,
    config: str | Path | None = None,
    d: int | None = None,
    k: int | None = None,
    layers: int | None = None,
    matrices: int | None = None,
    heads: int | None = None,
    arch: Arch | None = None,
    **options: Any,
) -> Result:
    """Trainable and total parameters of ``method`` on a model, a config.json or bare d×k matrices.

    Examples:
        >>> res = params("lora", d=4096, r=8)
        >>> res.trainable_params, res.base_params, str(res.formula)
        (65536, 16777216, 'r*(d + k)')
        >>> params("lora", model="llama-2-7b", r=8, targets=["q_proj", "v_proj"]).trainable_params
        4194304
    """
    if arch is None:
        arch = resolve_arch(model=model, config=config, d=d, k=k, layers=layers, matrices=matrices, heads=heads)
    spec = get_method(method)
    cfg = make_config(method, options)
    if arch.model_type == "matrix" and not spec.matrix_level:
        raise InputError("--d", arch.name, f"a real model (--model/--config) for {spec.title}")
    counted = spec.count(cfg, arch)
    base = arch.total_params
    return Result(
        method=spec.name, title=spec.title, model=arch.name,
        trainable_params=counted.trainable, base_params=base, total_params=base + counted.added,
        saved_params=counted.saved, formula=counted.formula, formula_scope=counted.formula_scope,
        rows=counted.rows, notes=counted.notes, symbols=counted.symbols,
        options=cfg.model_dump(), paper=spec.paper, peft_source=spec.peft_source,
    )


def lora(**kwargs: Any) -> Result:
    """LoRA's parameters: ``lora(d=4096, r=8)`` or ``lora(model="llama-2-7b", r=16, targets=["all-linear"])``.

    Examples:
        >>> lora(d=4096, r=8).trainable_params
        65536
    """
    return params("lora", **kwargs)


def compare(options: dict[str, Any] | None = None, **arch_kwargs: Any) -> list[Result | PeftcalcError]:
    """Every registered method on one architecture (errors kept, in order). ``options`` (``r``, ``targets`` …)
    go to each method whose config has them, so the comparison is like for like; the rest keep defaults."""
    arch = resolve_arch(**arch_kwargs)
    out: list[Result | PeftcalcError] = []
    for name in REGISTRY:
        fields = REGISTRY[name].config.model_fields
        mine = {k: v for k, v in (options or {}).items() if k in fields}
        try:
            out.append(params(name, arch=arch, **mine))
        except PeftcalcError as exc:
            out.append(exc)
    return out

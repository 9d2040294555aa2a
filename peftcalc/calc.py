"""The calculator's entry points: pick an architecture, validate a method's options, count."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from peftcalc.arch import Arch, load_config_file
from peftcalc.arch.presets import load_model
from peftcalc.errors import InputError, PeftcalcError
from peftcalc.validation import to_input_error
from peftcalc.matrix import make_matrix_spec, matrix_arch
from peftcalc.methods import REGISTRY, MethodConfig, get_method
from peftcalc.methods.base import Row
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
    via: str = "families",
) -> Arch:
    """The architecture named by exactly one of ``model`` (preset, Hugging Face id, cached model), ``config``
    (config.json or a model folder) or ``d``; ``via="transformers"`` builds it with the installed transformers."""
    given = [name for name, v in (("--model", model), ("--config", config), ("--d", d)) if v is not None]
    if len(given) != 1:
        raise InputError("model", " and ".join(given) or "<none>",
                         "exactly one of --model NAME, --config PATH or --d N (matrix-level)")
    matrix_opts = {"k": k, "layers": layers, "matrices": matrices, "heads": heads}
    if d is None:
        extra = [f"--{n}" for n, v in matrix_opts.items() if v is not None]
        if extra:
            raise InputError(extra[0], matrix_opts[extra[0][2:]], "used only with --d (matrix-level calculator)")
    if via not in ("families", "transformers"):
        raise InputError("--via", via, "families or transformers")
    if via == "transformers":
        if d is not None:
            raise InputError("--via", via, "used with --model or --config (a real model)")
        from peftcalc.arch.via_transformers import arch_via_transformers

        cfg, name = raw_config(model=model, config=config)
        return arch_via_transformers(cfg, name=name)
    if model is not None:
        return load_model(model)
    if config is not None:
        return load_config_file(config)
    return matrix_arch(make_matrix_spec(d=d, **{n: v for n, v in matrix_opts.items() if v is not None}))


def raw_config(*, model: str | None, config: str | Path | None) -> tuple[dict[str, Any], str]:
    """The config.json dict behind ``--model`` or ``--config`` (for ``--via transformers``), and its name."""
    from peftcalc.arch.hf_config import read_config_file
    from peftcalc.arch.model_ids import cached_config
    from peftcalc.arch.presets import preset_config

    if model is not None:
        cached = cached_config(model)
        return (read_config_file(cached)[0] if cached else preset_config(model)), model
    cfg, path = read_config_file(str(config))
    return cfg, path.name


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
    via: str = "families",
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
        arch = resolve_arch(model=model, config=config, d=d, k=k, layers=layers, matrices=matrices, heads=heads,
                            via=via)
    spec = get_method(method)
    cfg = make_config(method, options)
    if arch.model_type == "matrix" and not spec.matrix_level:
        raise InputError("--d", arch.name, f"a real model (--model/--config) for {spec.title}")
    counted = spec.count(cfg, arch)
    base = arch.total_params
    notes = arch.notes + counted.notes + _unmatched_note(arch, cfg, spec.name)
    # full fine-tuning trains the head with everything else: there is no peft wrapper to copy it
    head_copy = 0 if spec.name == "full" else _task_head_copy(arch, cfg)
    if head_copy:
        counted = dataclasses.replace(counted, trainable=counted.trainable + head_copy, added=counted.added + head_copy,
                                      saved=counted.saved + head_copy,
                                      rows=counted.rows + (Row("classifier head (modules_to_save copy)", 1, head_copy,
                                                                "numel"),))
        notes += (f"sequence classification: peft trains the classifier head in full ({head_copy:,} parameters, "
                  "a modules_to_save copy; 'all' counts original and copy)",)
    return Result(
        method=spec.name, title=spec.title, model=arch.name,
        trainable_params=counted.trainable, base_params=base, total_params=base + counted.added,
        saved_params=counted.saved, formula=counted.formula, formula_scope=counted.formula_scope,
        rows=counted.rows, notes=notes, symbols=counted.symbols,
        options=cfg.model_dump(), paper=spec.paper, peft_source=spec.peft_source,
    )


def _task_head_copy(arch: Arch, cfg: MethodConfig) -> int:
    """Parameters of the classifier head peft copies for SEQ_CLS, less what the method's own
    ``modules_to_save`` already copies."""
    from peftcalc.methods.targets import matches

    own = getattr(cfg, "modules_to_save", None) or []
    return sum(m.numel for m in arch.task_head_modules() if not matches(m.name, own))


def _unmatched_note(arch: Arch, cfg: MethodConfig, method: str) -> tuple[str, ...]:
    """peft adapts the targets that match and skips the rest without a word; we say which were skipped."""
    from peftcalc.arch.family import METHOD_KEYS
    from peftcalc.methods.targets import unmatched

    if arch.model_type == "matrix" or not hasattr(cfg, "targets"):
        return ()
    key = method if method in METHOD_KEYS else "lora"  # the peft table each method's defaults come from
    missing = unmatched(arch, getattr(cfg, "targets"), key)
    if method in ("lora", "dora") and arch.moe_targets:  # converted to fused expert parameters, not skipped
        converted = {old for old, _ in arch.moe_targets}
        missing = [t for t in missing if not any(t == o or t.endswith("." + o) for o in converted)]
    if not missing:
        return ()
    return (f"target{'s' * (len(missing) > 1)} {', '.join(missing)} matched no module of {arch.name}: skipped, "
            "as peft does (it errors only when no target matches)",)


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

"""Hugging Face ``config.json`` → :class:`Arch`: the model's family (``peftcalc/arch/families/``) builds the
modules of the class its ``architectures`` names, exactly as transformers (5.x) names and shapes them, so
that their parameters sum to ``sum(p.numel() for p in model.parameters())``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from peftcalc.arch.families import FAMILIES
from peftcalc.arch.family import METHOD_KEYS, Family
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError, PeftcalcError

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(FAMILIES)
SEQ_CLS_HEADS = ("classifier", "score")  # peft 0.21.2 PeftModelForSequenceClassification / SEQ_CLS_HEAD_NAMES
VIA_HINT = "or --via transformers (pip install 'peftcalc[hf]') to build any other model type with transformers"


def _head(family: Family, cfg: Mapping[str, Any], name: str) -> str:
    """The head of the config's ``architectures`` class (the family's default class when it names none). A class
    the family does not model (a token classifier, T5's encoder alone) is refused, never counted as another."""
    classes = cfg.get("architectures") or []
    cls = classes[0] if isinstance(classes, list) and classes and isinstance(classes[0], str) else None
    if cls is None:
        return family.heads[family.default_class]
    if cls not in family.heads:
        raise InputError(f"{name}: architectures", cls, f"one of {', '.join(family.heads)} for {family.model_type} "
                         f"(another head is not modelled; {VIA_HINT})")
    return family.heads[cls]


def arch_from_config(cfg: Mapping[str, Any], *, name: str = "config.json", source: str = "") -> Arch:
    """Build the architecture described by a Hugging Face config dict.

    Examples:
        >>> arch = arch_from_config({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768,
        ...                          "n_layer": 12, "n_head": 12, "n_positions": 1024})
        >>> arch.total_params
        124439808
    """
    if not isinstance(cfg, Mapping):
        raise InputError(name, type(cfg).__name__, "a JSON object (a Hugging Face config.json)")
    model_type = cfg.get("model_type")
    if model_type is None and "peft_type" in cfg:
        raise InputError(name, "a peft adapter_config.json", "the base model's config.json (this adapter's base: "
                         f"{cfg.get('base_model_name_or_path') or 'see base_model_name_or_path'})")
    family = FAMILIES.get(str(model_type)) if isinstance(model_type, str) else None
    if family is None:
        raise InputError(f"{name}: model_type", model_type if model_type is not None else "<missing>",
                         f"one of {', '.join(SUPPORTED_MODEL_TYPES)} ({VIA_HINT})")
    head = _head(family, cfg, name)
    arch = family.build(cfg, name, head)  # type: ignore[arg-type]
    table = dict(family.defaults)
    if "lora" in table:  # peft 0.21.2's VeRA table is a copy of its LoRA table for every family file here
        table.setdefault("vera", table["lora"])
    defaults = tuple((key, table[key]) for key in METHOD_KEYS if key in table)
    return dataclasses.replace(arch, source=source or name, peft_defaults=defaults, dropout=family.dropout,
                               rms_norm=family.rms_norm, unfused_gelu=family.unfused_gelu,
                               softmax_in_model_dtype=family.softmax_in_model_dtype,
                               notes=arch.notes, moe_targets=tuple(family.moe_targets.items()),
                               moe_fused=tuple(family.moe_fused.items()),
                               task_heads=SEQ_CLS_HEADS if head == "seq_cls" else ())


def read_config_file(path: str | Path) -> tuple[dict[str, Any], Path]:
    """The dict of a ``config.json`` on disk — or of a model folder's — and the file read (errors name it)."""
    p = Path(path)
    if p.is_dir():  # a downloaded model's folder
        p = p / "config.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("--config", str(path), "an existing config.json file, or a model folder holding one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PeftcalcError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PeftcalcError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return cfg, p


def load_config_file(path: str | Path) -> Arch:
    """Read a ``config.json`` (or a model folder's) from disk into an Arch."""
    cfg, p = read_config_file(path)
    return arch_from_config(cfg, name=p.name, source=str(p))

"""Loaders for tests/data/golden (reference counts taken from real transformers 5.23.0 + peft 0.21.2; its README says
how to take them again)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent / "data" / "golden"


def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN_DIR / "peft_counts.json").read_text())
    return data


def config_path(model: str) -> Path:
    return GOLDEN_DIR / "configs" / f"{model}.json"


def row_to_options(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Translate a golden row (its peft config) into (peftcalc method, options)."""
    if "peft_config" not in row and row["experiment"].startswith("bitfit"):
        return "bitfit", {}
    cfg = row["peft_config"]
    kind = cfg["peft_type"]
    if kind == "LORA":
        opts: dict[str, Any] = {"r": cfg["r"], "alpha": cfg["lora_alpha"], "targets": cfg["target_modules"],
                                "bias": cfg["bias"], "lora_bias": cfg["lora_bias"],
                                "modules_to_save": cfg["modules_to_save"]}
        return ("dora" if cfg["use_dora"] else "lora"), opts
    if kind == "ADALORA":
        return "adalora", {"r": cfg["target_r"], "init_r": cfg["init_r"], "targets": cfg["target_modules"]}
    if kind == "VERA":
        return "vera", {"r": cfg["r"], "targets": cfg["target_modules"]}
    if kind in ("LOHA", "LOKR"):
        return kind.lower(), {"r": cfg["r"], "targets": cfg["target_modules"]}
    if kind == "IA3":
        return "ia3", {"targets": cfg["target_modules"], "feedforward": cfg["feedforward_modules"]}
    if kind == "LN_TUNING":
        return "ln_tuning", {"targets": cfg["target_modules"]}
    if kind == "PREFIX_TUNING":
        return "prefix_tuning", {"tokens": cfg["num_virtual_tokens"], "projection": cfg.get("prefix_projection", False),
                                 "encoder_hidden": cfg.get("encoder_hidden_size")}
    if kind == "PROMPT_TUNING":
        return "prompt_tuning", {"tokens": cfg["num_virtual_tokens"]}
    if kind == "P_TUNING":
        return "p_tuning", {"tokens": cfg["num_virtual_tokens"],
                            "encoder": cfg["encoder_reparameterization_type"].lower(),
                            "encoder_hidden": cfg.get("encoder_hidden_size")}
    raise KeyError(kind)

"""Cross-check with the real libraries (``pip install 'peftcalc[hf]'``): transformers builds the model
from its config.json on the meta device, peft applies its config, and
``get_nb_trainable_parameters()`` must equal peftcalc's (trainable, all) exactly. Where peft refuses
a configuration (LoHa on GPT-2's Conv1D, LN tuning without targets on BERT), peftcalc must refuse it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from peftcalc.arch.hf_config import SUPPORTED_MODEL_TYPES, arch_from_config
from peftcalc.arch.via_transformers import arch_via_transformers, build_model
from peftcalc.calc import params
from peftcalc.errors import PeftcalcError
from peftcalc.verify.checks import Check


def available() -> str | None:
    """None when transformers and peft import; else why not."""
    try:
        import peft  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install 'peftcalc[hf]')"
    return None


def _cases() -> list[tuple[str, dict[str, Any], Callable[[], Any]]]:
    import peft

    return [
        ("lora", {"r": 16, "targets": ["all-linear"]}, lambda: peft.LoraConfig(r=16, target_modules="all-linear")),
        ("lora", {"r": 8}, lambda: peft.LoraConfig(r=8)),
        ("dora", {"r": 8}, lambda: peft.LoraConfig(r=8, use_dora=True)),
        ("adalora", {"init_r": 12, "r": 8}, lambda: peft.AdaLoraConfig(init_r=12, target_r=8, total_step=100)),
        ("ia3", {}, lambda: peft.IA3Config()),
        ("loha", {"r": 4}, lambda: peft.LoHaConfig(r=4)),
        ("lokr", {"r": 4}, lambda: peft.LoKrConfig(r=4)),
        ("vera", {"r": 64}, lambda: peft.VeraConfig(r=64)),
        ("prefix_tuning", {"tokens": 10}, lambda: peft.PrefixTuningConfig(num_virtual_tokens=10)),
        ("prompt_tuning", {"tokens": 10}, lambda: peft.PromptTuningConfig(num_virtual_tokens=10)),
        ("ln_tuning", {}, lambda: peft.LNTuningConfig()),
        # partial matches, and the v4 MoE names peft 0.21 converts to fused expert parameters
        ("lora", {"r": 8, "targets": ["q_proj", "w1"]}, lambda: peft.LoraConfig(r=8, target_modules=["q_proj", "w1"])),
        ("lora", {"r": 8, "targets": ["w1", "w3", "w2", "gate"]},
         lambda: peft.LoraConfig(r=8, target_modules=["w1", "w3", "w2", "gate"])),
        ("lora", {"r": 8, "targets": ["gate_proj", "up_proj"]},
         lambda: peft.LoraConfig(r=8, target_modules=["gate_proj", "up_proj"])),
        ("lora", {"r": 8, "targets": ["down_proj"]}, lambda: peft.LoraConfig(r=8, target_modules=["down_proj"])),
    ]


def crosscheck(configs: Iterable[tuple[str, Mapping[str, Any]]]) -> Iterator[Check]:
    """One check per (config, method); a disagreement names the module group and both counts."""
    import peft
    import torch

    warnings.filterwarnings("ignore")
    for name, cfg in configs:
        # a model type without a family file is read the --via transformers way
        arch = arch_from_config(cfg, name=name) if cfg.get("model_type") in SUPPORTED_MODEL_TYPES \
            else arch_via_transformers(cfg, name=name)
        model, task = build_model(cfg)
        hf_base = sum(p.numel() for p in model.parameters())
        yield Check("peft", f"{name}: base parameters", "pass" if hf_base == arch.total_params else "fail",
                    f"transformers {hf_base:,}, peftcalc {arch.total_params:,}", {"base": hf_base})
        for method, options, make in _cases():
            label = f"{name}: {method} {options or ''}".strip()
            try:
                ours: Any = params(method, arch=arch, **options)
            except PeftcalcError as exc:
                ours = exc
            try:
                model, task = build_model(cfg)
                pcfg = make()
                if task is not None:
                    pcfg.task_type = task
                # inside the meta context, as the golden values were taken: built outside it, peft 0.21.2
                # moves AdaLoRA's frozen `ranknum` to the base layer's (meta) device as a new Parameter
                # that is trainable — one spurious trainable parameter per adapted module
                with torch.device("meta"):
                    pm = peft.get_peft_model(model, pcfg)
                trainable, total = pm.get_nb_trainable_parameters()
            except Exception as exc:  # peft refusing: agreement only if peftcalc refuses too
                refused = isinstance(ours, Exception)
                yield Check("peft", label, "pass" if refused else "fail",
                            f"peft raised {type(exc).__name__}: {str(exc)[:100]}; peftcalc "
                            + ("refuses too" if refused else f"counts {ours.trainable_params:,}"),
                            {"method": method, "options": options, "refused": f"{type(exc).__name__}: {str(exc)[:200]}"})
                continue
            if isinstance(ours, Exception):
                yield Check("peft", label, "fail", f"peftcalc refuses ({ours}); peft counts {trainable:,}, {total:,}")
                continue
            ok = (trainable, total) == (ours.trainable_params, ours.total_params)
            detail = f"peft ({trainable:,}, {total:,}) peftcalc ({ours.trainable_params:,}, {ours.total_params:,})"
            if not ok:
                detail += "; " + _first_difference(pm, ours)
            yield Check("peft", label, "pass" if ok else "fail", detail,
                        {"method": method, "options": options, "peft": [trainable, total],
                         "peftcalc": [ours.trainable_params, ours.total_params]})


def _first_difference(peft_model: Any, ours: Any) -> str:
    """Name the module group whose count differs: peft's trainable numel per group vs our rows."""
    groups: dict[str, int] = {}
    for pname, p in peft_model.named_parameters():
        if p.requires_grad:
            key = ".".join("*" if part.isdigit() else part for part in pname.split(".")[2:-2])
            groups[key] = groups.get(key, 0) + p.numel()
    rows = {row.group: row.modules * row.params_each for row in ours.rows}
    for key, count in groups.items():
        mine = next((v for g, v in rows.items() if g.endswith(key) or key.endswith(g)), None)
        if mine != count:
            return f"module group {key}: peft {count:,}, peftcalc {mine if mine is not None else 'none'}"
    return "per-group counts agree; the difference is outside the adapted modules"

"""Stage 9's mini-project (seed 000): the comparison table's Params column, for the model the student describes.

The seed's deliverable is a table | Method | Params | Accuracy | with rows Full fine-tune, LoRA r=4 and LoRA
r=16. Accuracy depends on the student's run (``peftcalc experiment miniproject`` is the staff's reference);
Params does not: it is exact for the model, and peftcalc counts it. The student states the model in the
answer (``9.mini.model``: a preset or Hugging Face id, or the config.json's keys) and the modules LoRA adapts
(``9.mini.targets``), and each row is graded against the exact count for that model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from answers.key import Accepted, Answer, Mistake, Part, part
from peftcalc.errors import InputError

PARTS: list[Part] = []
SRC = "seed 000, Stage 9 Mini-Project: LoRA Fine-tuning (the comparison table)"
# a student's description is data from a submission: bounded before peftcalc builds anything from it
MAX_LAYERS = 1024
MAX_KEYS = 200
MAX_NUMBER_CHARS = 30  # int() of thousands of digits is slow, and Python refuses past 4,300
DEFAULT_MODEL = "gpt2"
DEFAULT_TARGETS = "c_attn"


def config_value(value: Any, depth: int = 0) -> Any:
    """A config value as config.json means it: answer files keep every scalar as written text ("64", "true",
    "1e-5") so that the grader's number reader sees it; a config wants ints, floats and booleans back."""
    if depth > 4:
        raise InputError("9.mini.model", "(nested too deeply)", "a config.json's keys and values")
    if isinstance(value, Mapping):
        return {str(k): config_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [config_value(v, depth + 1) for v in value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() in ("null", "none", "~"):
        return None
    if len(text) > MAX_NUMBER_CHARS and re.fullmatch(r"[-+.\deE]+", text):
        raise InputError("9.mini.model", f"a number of {len(text)} characters", "a config.json value")
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        return float(text)
    return text


def describe_model(model: Any) -> dict[str, Any]:
    """The resolve_arch arguments for a student's description: a name, or a config.json mapping."""
    if isinstance(model, str) and model.strip():
        return {"model": model.strip()}
    if isinstance(model, Mapping):
        if len(model) > MAX_KEYS:
            raise InputError("9.mini.model", f"{len(model)} keys", f"a config.json of at most {MAX_KEYS} keys")
        cfg = config_value(model)
        for key, value in cfg.items():
            if "layer" in key.lower() and isinstance(value, int) and not isinstance(value, bool) and value > MAX_LAYERS:
                raise InputError(f"9.mini.model: {key}", value, f"at most {MAX_LAYERS} layers (a mini-project model)")
        return {"cfg": cfg}
    raise InputError("9.mini.model", repr(model)[:60], "a model name (gpt2, bert-base-uncased, an HF id) or the "
                     "keys of its config.json (model_type, hidden_size, …)")


def _arch(model: Any):
    from peftcalc.arch.hf_config import arch_from_config
    from peftcalc.arch.presets import load_preset

    spec = describe_model(model)
    if "cfg" in spec:
        return arch_from_config(spec["cfg"], name="9.mini.model")
    # a bundled preset (by name, Hugging Face id or alias) only: never the grading machine's own HF cache, which
    # would make a grade depend on what that machine happens to have downloaded
    return load_preset(spec["model"])


def _targets(targets: Any) -> list[str] | str:
    if isinstance(targets, str):
        names = [t.strip() for t in targets.replace(";", ",").split(",") if t.strip()]
        return "all-linear" if names == ["all-linear"] else names
    if isinstance(targets, (list, tuple)) and all(isinstance(t, str) for t in targets) and targets:
        return [t.strip() for t in targets]
    raise InputError("9.mini.targets", repr(targets)[:60], "the modules LoRA adapts, e.g. q_proj,v_proj or all-linear")


@part(PARTS, "9.mini", "Mini-project comparison table: the Params column (trainable parameters) of Full fine-tune, "
      "LoRA r=4 and LoRA r=16, for your model (state it under model, and LoRA's targets under targets)", SRC,
      kind="group", described=("model", "targets"))
def mini_project(model: Any = DEFAULT_MODEL, targets: Any = DEFAULT_TARGETS) -> Answer:
    from peftcalc.calc import params

    arch = _arch(model)
    chosen = _targets(targets)
    full = params("full", arch=arch).trainable_params
    items = [Answer("9.mini.full", "Full fine-tune: trainable parameters", "numeric", full, "params",
                    text=f"{full:,}: every parameter of {arch.name} trains",
                    accepted=(Accepted("every parameter", full, "full fine-tuning trains the whole model"),))]
    for r in (4, 16):
        res = params("lora", arch=arch, r=r, targets=chosen)
        mistakes = [Mistake("counted the whole model (base + LoRA)", res.total_params,
                            "that is the total with the adapter; Params is what trains")]
        if res.trainable_params % 2 == 0:
            mistakes.append(Mistake("counted A only (or B only)", res.trainable_params // 2,
                                    "each adapted matrix trains A (r × d_in) and B (d_out × r)"))
        items.append(Answer(f"9.mini.lora_r{r}", f"LoRA r={r}: trainable parameters", "numeric",
                            res.trainable_params, "params",
                            text=f"{res.trainable_params:,}: r·(d_in + d_out) summed over the adapted matrices "
                                 f"({', '.join(chosen) if isinstance(chosen, list) else chosen}) of {arch.name}",
                            formula=str(res.formula),
                            accepted=(Accepted(f"LoRA r={r} on the stated targets", res.trainable_params,
                                               "peftcalc's exact count (peft's layout)"),),
                            mistakes=tuple(mistakes)))
    return Answer("", "", "group", None, text=f"Params for {arch.name} with LoRA on {chosen}", items=tuple(items))

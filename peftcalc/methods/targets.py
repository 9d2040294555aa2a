"""peft's target selection on HF module names: suffix matching, ``all-linear``, default targets.

Facts carried over from peft 0.21 (``tuners/tuners_utils.py: check_target_module_exists``,
``_maybe_include_all_linear_layers``; ``utils/constants.py``): a target ``t`` matches a module named
``n`` when ``n == t`` or ``n`` ends with ``"." + t``; ``all-linear`` is every ``nn.Linear``/``Conv1D``
leaf name except the output embedding's; default targets come from a per-``model_type`` table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from peftcalc.arch.model import LINEAR_KINDS, Arch, ModuleSpec
from peftcalc.errors import InputError

ALL_LINEAR = "all-linear"

# peft 0.21.2 utils/constants.py, for the model types peftcalc builds. "matrix" is peftcalc's own
# synthetic architecture of bare weight matrices: every matrix is a target unless told otherwise.
LORA_DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gpt2": ["c_attn"],
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "t5": ["q", "v"],
}
ADALORA_DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
    "gpt2": ["c_attn"],
    "bert": ["query", "value"],
    "roberta": ["query", "key", "value", "dense"],
    "t5": ["q", "k", "v", "o", "wi", "wo"],
}
IA3_DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["k_proj", "v_proj", "down_proj"],
    "mistral": ["k_proj", "v_proj", "down_proj"],
    "qwen2": ["q_proj", "v_proj", "down_proj"],
    "gpt2": ["c_attn", "mlp.c_proj"],
    "bert": ["key", "value", "output.dense"],
    "roberta": ["key", "value", "output.dense"],
    "t5": ["k", "v", "wo"],
}
IA3_DEFAULT_FEEDFORWARD: dict[str, list[str]] = {
    "llama": ["down_proj"],
    "mistral": ["down_proj"],
    "qwen2": ["down_proj"],
    "gpt2": ["mlp.c_proj"],
    "bert": ["output.dense"],
    "roberta": ["output.dense"],
    "t5": ["wo"],
}
LN_TUNING_DEFAULT_TARGETS: dict[str, list[str]] = {
    "llama": ["input_layernorm", "post_attention_layernorm", "norm"],
    "mistral": ["input_layernorm", "post_attention_layernorm", "norm"],
    "qwen2": ["post_attention_layernorm"],
    "gpt2": ["ln_1", "ln_2", "ln_f"],
    "t5": ["layer_norm", "final_layer_norm"],
}


def matches(name: str, targets: Iterable[str]) -> bool:
    """peft's list matching: exact name or dotted suffix."""
    return any(name == t or name.endswith("." + t) for t in targets)


def all_linear_names(arch: Arch) -> list[str]:
    """peft's ``all-linear``: leaf names of every linear/Conv1D module but the output head's."""
    names = {mod.leaf for mod in arch.linear_modules() if mod.name != arch.output_head}
    if arch.output_head is not None:
        names.discard(arch.output_head.rsplit(".", 1)[-1])
    return sorted(names)


def _known_leaves(arch: Arch, kinds: frozenset[str]) -> str:
    leaves = sorted({mod.leaf for mod in arch.modules if mod.kind in kinds})
    return ", ".join(leaves)


def select(
    arch: Arch,
    targets: Sequence[str] | None,
    *,
    defaults: Mapping[str, list[str]],
    method: str,
    kinds: frozenset[str] = LINEAR_KINDS,
    field: str = "--targets",
) -> tuple[list[str], list[ModuleSpec]]:
    """Resolve ``targets`` (None → peft's default for the model type) to the matched modules.

    Raises InputError when a target matches nothing (listing the module names that exist), when no
    default exists for the model type, or when a matched module is of a kind the method cannot adapt.
    """
    if targets is None:
        if arch.model_type == "matrix":
            targets = all_linear_names(arch)
        elif arch.model_type in defaults:
            targets = defaults[arch.model_type]
        else:
            raise InputError(field, "<none>", f"given: {method} has no default targets for model_type "
                             f"'{arch.model_type}' (modules: {_known_leaves(arch, kinds)})")
    resolved: list[str] = []
    for target in targets:
        if target == ALL_LINEAR:
            resolved.extend(all_linear_names(arch))
        else:
            resolved.append(target)
    for target in resolved:
        if not any(matches(mod.name, [target]) for mod in arch.modules):
            raise InputError(field, target, f"a module name in {arch.name}: {_known_leaves(arch, kinds)}")
    chosen = [mod for mod in arch.modules if matches(mod.name, resolved)]
    for mod in chosen:
        if mod.kind not in kinds:
            allowed = "/".join(sorted(kinds))
            raise InputError(field, mod.leaf, f"a {allowed} module for {method} ({mod.name} is a {mod.kind} module)")
    return sorted(set(resolved)), chosen

"""peft's target selection on HF module names: suffix matching, ``all-linear``, default targets.

Facts carried over from peft 0.21 (``tuners/tuners_utils.py: check_target_module_exists``,
``_maybe_include_all_linear_layers``; ``utils/constants.py``): a target ``t`` matches a module named
``n`` when ``n == t`` or ``n`` ends with ``"." + t``; ``all-linear`` is every ``nn.Linear``/``Conv1D``
leaf name except the output embedding's; default targets come from the model's family (peft's
per-``model_type`` tables, see ``peftcalc/arch/families/``). A list of targets of which only some exist
adapts what matches (peft errors only when nothing matches); :func:`unmatched` names the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from peftcalc.arch.model import LINEAR_KINDS, Arch, ModuleSpec
from peftcalc.errors import InputError

ALL_LINEAR = "all-linear"

def matches(name: str, targets: Iterable[str]) -> bool:
    """peft's list matching: exact name or dotted suffix."""
    return any(name == t or name.endswith("." + t) for t in targets)


def all_linear_names(arch: Arch) -> list[str]:
    """peft's ``all-linear``: leaf names of every linear/Conv1D module but the output head's."""
    skipped = {arch.output_head, *arch.task_heads}  # a classifier head too, as peft does for SEQ_CLS
    names = {mod.leaf for mod in arch.linear_modules() if mod.name not in skipped}
    if arch.output_head is not None:
        names.discard(arch.output_head.rsplit(".", 1)[-1])
    return sorted(names)


def _known_leaves(arch: Arch, kinds: frozenset[str]) -> str:
    leaves = sorted({mod.leaf for mod in arch.modules if mod.kind in kinds})
    return ", ".join(leaves)


def _resolve(arch: Arch, targets: Sequence[str] | None, method_key: str, method: str, field: str,
             kinds: frozenset[str]) -> list[str]:
    if targets is None:
        if arch.model_type == "matrix":
            return all_linear_names(arch)
        default = arch.default_targets(method_key)
        if default is None:
            raise InputError(field, "<none>", f"given: {method} has no default targets for model_type "
                             f"'{arch.model_type}' in peft (modules: {_known_leaves(arch, kinds)})")
        targets = list(default)
    if ALL_LINEAR in targets and len(targets) > 1:  # peft reads "all-linear" only as the whole target string
        raise InputError(field, ",".join(targets), f"{ALL_LINEAR} alone (peft takes it only as the whole "
                         "target_modules; in a list it is a module name that matches nothing)")
    return all_linear_names(arch) if list(targets) == [ALL_LINEAR] else list(targets)


def unmatched(arch: Arch, targets: Sequence[str] | None, method_key: str) -> list[str]:
    """The target names (given, or peft's defaults) that match no module of ``arch``."""
    if targets is None:
        targets = list(arch.default_targets(method_key) or ())
    names = [t for t in targets if t != ALL_LINEAR]
    return [t for t in names if not any(matches(mod.name, [t]) for mod in arch.modules)]


def select(
    arch: Arch,
    targets: Sequence[str] | None,
    *,
    method_key: str,
    method: str,
    kinds: frozenset[str] = LINEAR_KINDS,
    field: str = "--targets",
    required: bool = True,
) -> tuple[list[str], list[ModuleSpec]]:
    """Resolve ``targets`` (None → peft's default for the model type) to the matched modules.

    As peft does, targets that match nothing are skipped while another one matches; InputError when none
    matches (listing the module names that exist), when peft has no default for the model type, or when
    a matched module is of a kind the method cannot adapt. ``required=False``: no match is no error (something
    else, a wrapped parameter, was matched).
    """
    resolved = _resolve(arch, targets, method_key, method, field, kinds)
    # a sequence classifier's head is copied in full (modules_to_save), so peft never adapts inside it
    copied = {m.name for m in arch.task_head_modules()}
    chosen = [mod for mod in arch.modules if matches(mod.name, resolved) and mod.name not in copied]
    if not chosen and required:
        shown = ", ".join(dict.fromkeys(resolved)) or "(none)"
        raise InputError(field, shown, f"module names in {arch.name} (none matched): {_known_leaves(arch, kinds)}")
    for mod in chosen:
        if mod.kind not in kinds:
            allowed = "/".join(sorted(kinds))
            what = "holds bare parameters, not a layer" if mod.kind == "other" else f"is a {mod.kind} module"
            raise InputError(field, mod.leaf, f"a {allowed} module for {method} ({mod.name} {what})")
    return sorted(set(resolved)), chosen

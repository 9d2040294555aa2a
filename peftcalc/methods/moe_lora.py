"""LoRA targets on the MoE models whose layout transformers 5 converted (Mixtral, Qwen3-MoE, DeepSeek-V2, …).

transformers 5 stores the experts fused, as 3-D parameters (``experts.gate_up_proj`` (E, 2·inter, hidden),
``experts.down_proj``), and the router as a custom module: none is an ``nn.Linear``. peft 0.21.2
(``utils/transformers_weight_conversion.py: _convert_peft_config_moe``, applied to LoRA only) translates
the v4 names a user types into ``target_parameters``: ``w1``/``w3`` (Mixtral) or ``gate_proj``/``up_proj``
(Qwen-MoE) → ``gate_up_proj`` with the rank and alpha doubled (the two are fused, so both must be named),
``w2``/``down_proj`` → ``down_proj``, ``gate`` → ``gate.weight``; ``all-linear`` adds all of them. LoRA on a
parameter (peft's ``ParamWrapper``) of shape (E, d₁, d₂) adds ρ·E·(d₁ + d₂) — A is (ρ·E, d₂), B is (d₁, ρ·E) —
and on a 2-D router weight ρ·(d₁ + d₂). DoRA cannot wrap parameters. With no target given, peft 0.21.2
empties the target list during the conversion and then finds nothing: it refuses, and so do we.
"""

from __future__ import annotations

from dataclasses import dataclass

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError
from peftcalc.methods.targets import ALL_LINEAR, all_linear_names


@dataclass(frozen=True)
class ParamTarget:
    """One parameter LoRA wraps: its module, name, shape and the rank used on it."""

    module: ModuleSpec
    param: str
    shape: tuple[int, ...]
    rank: int

    @property
    def params(self) -> int:
        *experts, d1, d2 = self.shape
        return self.rank * (experts[0] if experts else 1) * (d1 + d2)


def convert(arch: Arch, targets: list[str] | None, r: int) -> tuple[list[str] | None, list[ParamTarget]]:
    """(the module targets left, the parameters wrapped) after peft's conversion; unchanged off MoE models."""
    if not arch.moe_targets:
        return targets, []
    mapping, fused = dict(arch.moe_targets), dict(arch.moe_fused)
    if targets is None:
        raise InputError("--targets", "<none>", f"given on {arch.model_type}: peft 0.21.2 empties the default targets "
                         "while converting them to transformers 5's fused MoE layout, then finds none to adapt "
                         "(NoMatchingPeftModuleError); name them, e.g. q_proj,v_proj or all-linear")
    names = [t for t in targets if t != ALL_LINEAR]
    if ALL_LINEAR in targets:  # the v4 all-linear reached the experts and the router: peft adds their names
        names += [*all_linear_names(arch), *mapping]
    remaining: list[str] = []
    chosen: dict[str, set[str]] = {}
    for target in dict.fromkeys(names):
        old = next((o for o in mapping if target == o or target.endswith("." + o)), None)
        if old is None:
            remaining.append(target)
        else:
            chosen.setdefault(mapping[old], set()).add(old)
    ranks = {new: r for new in chosen}
    for new, olds in fused.items():
        present = chosen.get(new, set()) & set(olds)
        if 0 < len(present) < len(olds):
            missing = ", ".join(sorted(set(olds) - present))
            raise InputError("--targets", ", ".join(sorted(present)), f"given with {missing}: peft fuses them into "
                             f"{new} and cannot adapt one without the other")
        if len(present) == len(olds) > 1:
            ranks[new] = r * len(olds)
    wrapped = [ParamTarget(mod, pname, shape, ranks[new]) for mod in arch.modules for pname, shape in mod.shapes
               for new in ranks if f"{mod.name}.{pname}" == new or f"{mod.name}.{pname}".endswith("." + new)]
    return remaining, wrapped

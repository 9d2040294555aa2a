"""What every PEFT method provides: a pydantic config (bounds + help) and a pure count function.

A method module ``methods/<peft_name>.py`` exposes ``METHOD = Method(...)``; ``methods/__init__.py``
registers it with one line. The CLI, ``compare``, ``--json`` and the contract tests all come from the
registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sympy
from sympy.printing.str import StrPrinter
from pydantic import BaseModel, ConfigDict

from peftcalc.arch.model import Arch, ModuleSpec


class MethodConfig(BaseModel):
    """Base of every method's options. Field names are the CLI flags (``init_r`` → ``--init-r``)."""

    # defer_build: only the one config a command uses pays for its validator (start-up time)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: a group of identical modules (or one named part of a method)."""

    group: str
    modules: int
    params_each: int
    substitution: str = ""
    shape: str = ""
    # for groups of real modules: their names and (in, out), so callers never parse ``shape``
    module_names: tuple[str, ...] = ()
    fan_in: int = 0
    fan_out: int = 0

    @property
    def params(self) -> int:
        return self.modules * self.params_each


@dataclass(frozen=True)
class Count:
    """What a method adds to an architecture, all exact integers.

    ``trainable``: parameters with ``requires_grad`` (peft's first number).
    ``added``: parameters that exist only because of the method, trainable or frozen (peft's
    "all" = base + added).
    ``saved``: parameters in what ``save_pretrained`` writes.
    """

    trainable: int
    added: int
    saved: int
    rows: tuple[Row, ...]
    formula: sympy.Expr
    formula_scope: str
    notes: tuple[str, ...] = ()
    symbols: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """A registered PEFT method."""

    name: str
    title: str
    config: type[MethodConfig]
    count: Callable[[MethodConfig, Arch], Count]
    formula: sympy.Expr
    summary: str
    paper: str
    peft_source: str
    # False when the method needs a real model's modules (norms, biases): the seeds' --d/--k
    # calculator of bare matrices cannot answer it.
    matrix_level: bool = True


_LAYER_INDEX = re.compile(r"\.\d+(?=\.|$)")


def group_name(module_name: str) -> str:
    """``model.layers.3.self_attn.q_proj`` → ``model.layers.*.self_attn.q_proj``."""
    return _LAYER_INDEX.sub(".*", module_name)


def substitute(expr: sympy.Expr, values: dict[sympy.Symbol, int]) -> str:
    """The formula with numbers in place of symbols, structure kept: ``8*(4096 + 4096)``."""
    return _SubstitutingPrinter(values).doprint(expr).replace("**", "^")


class _SubstitutingPrinter(StrPrinter):
    """Prints each known symbol as its value, so the formula's shape survives substitution."""

    def __init__(self, values: dict[sympy.Symbol, int]) -> None:
        super().__init__({"order": "none"})
        self._values = values

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return str(self._values[expr]) if expr in self._values else str(expr.name)


def grouped_rows(
    modules: Iterable[ModuleSpec],
    per_module: Callable[[ModuleSpec], tuple[int, str]],
) -> tuple[Row, ...]:
    """Group identical targeted modules (same name pattern and shape) into breakdown rows."""
    groups: dict[tuple[str, int, int], list[ModuleSpec]] = {}
    for mod in modules:
        groups.setdefault((group_name(mod.name), mod.in_features, mod.out_features), []).append(mod)
    rows = []
    for (label, fan_in, fan_out), mods in groups.items():
        each, subst = per_module(mods[0])
        rows.append(Row(group=label, modules=len(mods), params_each=each, substitution=subst, shape=f"{fan_in}→{fan_out}",
                        module_names=tuple(m.name for m in mods), fan_in=fan_in, fan_out=fan_out))
    return tuple(rows)


def total(rows: Iterable[Row]) -> int:
    return sum(row.params for row in rows)

"""The result of a parameter calculation: exact numbers, the formula, and how it was substituted.

(DESIGN.md calls this ``quantity.py``; it is named ``result`` because sympy's ``Quantity`` already
means a physical unit.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy

from peftcalc.methods.base import Row
from peftcalc.units import CHECKPOINT_DTYPES, DTYPE_BYTES


@dataclass(frozen=True)
class Result:
    """Trainable/total parameter counts of one method on one architecture, all exact integers.

    ``base_params``: the model (or matrices) before the method. ``total_params``: base plus every
    parameter the method adds, trainable or frozen (peft's "all"). ``saved_params``: what
    ``save_pretrained`` writes. ``trainable_fraction`` is trainable/base as an exact fraction.
    """

    method: str
    title: str
    model: str
    trainable_params: int
    base_params: int
    total_params: int
    saved_params: int
    formula: sympy.Expr
    formula_scope: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    symbols: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    paper: str = ""
    peft_source: str = ""

    @property
    def trainable_fraction(self) -> Fraction:
        """trainable / base (exact)."""
        return Fraction(self.trainable_params, self.base_params)

    @property
    def peft_fraction(self) -> Fraction:
        """trainable / total: what peft's ``print_trainable_parameters`` reports as ``trainable%``."""
        return Fraction(self.trainable_params, self.total_params)

    @property
    def reduction_factor(self) -> Fraction | None:
        """How many times fewer parameters are trained than the base has (None when nothing is trained)."""
        return Fraction(self.base_params, self.trainable_params) if self.trainable_params else None

    def checkpoint_bytes(self) -> dict[str, int]:
        """Bytes of the saved tensors per dtype (tensor data only; safetensors adds a small header)."""
        return {dt: int(self.saved_params * DTYPE_BYTES[dt]) for dt in CHECKPOINT_DTYPES}

    @property
    def breakdown(self) -> dict[str, int]:
        """Group → parameters (summing to the trainable count, plus frozen extras where noted)."""
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.group] = out.get(row.group, 0) + row.params
        return out

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready object (keys per DESIGN.md)."""
        factor = self.reduction_factor
        return {
            "method": self.method,
            "model": self.model,
            "trainable_params": self.trainable_params,
            "base_params": self.base_params,
            "total_params": self.total_params,
            "trainable_fraction": float(self.trainable_fraction),
            "trainable_percent": float(self.trainable_fraction * 100),
            "peft_trainable_percent": float(self.peft_fraction * 100),
            "reduction_factor": float(factor) if factor is not None else None,
            "formula": str(self.formula),
            "formula_latex": sympy.latex(self.formula),
            "formula_scope": self.formula_scope,
            "substitutions": dict(self.symbols),
            "breakdown": self.breakdown,
            "breakdown_detail": [
                {"group": row.group, "modules": row.modules, "shape": row.shape, "params_each": row.params_each,
                 "substitution": row.substitution, "params": row.params}
                for row in self.rows
            ],
            "checkpoint": {"params": self.saved_params, "bytes": self.checkpoint_bytes()},
            "options": self.options,
            "notes": list(self.notes),
            "paper": self.paper,
            "peft_source": self.peft_source,
        }

"""A model family: one ``model_type``'s builder and every fact about it that other code needs.

A family file (``peftcalc/arch/families/<model_type>.py``) defines ``FAMILY = Family(...)``; one line in
``families/__init__.py`` registers it. The facts carried over from peft 0.21.2 (``utils/constants.py``:
default target modules per method) and from transformers 5.x (module names and shapes, tying, the head
classes) are data here, so nothing else matches module names to learn them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from peftcalc.arch.model import Arch

Head = Literal["causal_lm", "base", "seq_cls", "masked_lm", "seq2seq", "qa"]
# method keys of peft's default-target tables
METHOD_KEYS = ("lora", "vera", "adalora", "ia3", "ia3_feedforward", "ln_tuning")


@dataclass(frozen=True)
class Family:
    """``build(cfg, name, head)`` lists the modules of the ``architectures`` class whose head is ``head``."""

    model_type: str
    build: Callable[[Mapping[str, Any], str, Head], Arch]
    heads: Mapping[str, Head]                       # architectures class → head; the first is the default
    defaults: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # method key → peft's targets
    dropout: bool = False                           # the blocks apply dropout in training (masks are saved)
    summary: str = ""
    # how transformers implements the block, for the activation model: RMSNorm (else LayerNorm), an unfused
    # GELU (GPT-2's gelu_new keeps three more tensors), the eager softmax in the model dtype (else fp32 + a copy)
    rms_norm: bool = False
    unfused_gelu: bool = False
    softmax_in_model_dtype: bool = False
    # peft 0.21.2 (utils/transformers_weight_conversion.py) renames LoRA targets on the MoE models whose
    # layout transformers 5 converted: v4 leaf name → parameter, and the v4 names fused into one parameter
    moe_targets: Mapping[str, str] = field(default_factory=dict)
    moe_fused: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.defaults) - set(METHOD_KEYS)
        if unknown:
            raise ValueError(f"{self.model_type}: unknown method keys {sorted(unknown)}")

    @property
    def default_class(self) -> str:
        return next(iter(self.heads))

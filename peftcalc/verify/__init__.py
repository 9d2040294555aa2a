"""``peftcalc.verify``: the symbolic models checked against real torch tensors and the real peft.

Needs the ``torch`` extra (``pip install 'peftcalc[torch]'``); the peft cross-check needs ``hf``.
Importing this package does not import torch — :func:`run` does.

    >>> from peftcalc.verify import GROUP_NAMES
    >>> GROUP_NAMES[:3]
    ('counts', 'init', 'merge')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from peftcalc.arch.model import Arch
    from peftcalc.verify.checks import Check

GROUP_NAMES = ("counts", "init", "merge", "latency", "gradients", "quantization", "memory", "activations", "step", "cuda")
# presets whose shapes the default run counts on the meta device (one per architecture family)
DEFAULT_PRESETS = ("gpt2", "llama-2-7b", "llama-3-8b", "roberta-base", "t5-base")


def torch_missing() -> str | None:
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch is not installed: pip install 'peftcalc[torch]' (CPU: pip install torch==2.13.0)"
    return None


def run(groups: Iterable[str] = GROUP_NAMES, *, arch: Arch | None = None, method: str | None = None,
        options: Mapping[str, Any] | None = None, peft_configs: Iterable[tuple[str, Mapping[str, Any]]] = (),
        batch: int | None = None, seq: int | None = None,
        on_group: Callable[[str], None] | None = None) -> list[Check]:
    """Run the named check groups; with ``arch`` (and ``method``), counts and memory are checked on that
    architecture's exact shapes; ``peft_configs`` adds the cross-check with transformers + peft."""
    from peftcalc.arch.presets import load_preset
    from peftcalc.verify import checks

    out: list[Check] = []
    opts = dict(options or {})
    # QLoRA adds the same adapters as LoRA; its 4-bit base is what the quantization group checks
    count_method = "lora" if method == "qlora" else method
    for group in groups:
        if on_group:
            on_group(group)
        if group == "counts":
            if arch is not None:
                cases = ((count_method, opts),) if count_method else checks.COUNT_CASES
                out += checks.check_counts(arch, cases)
            else:
                out += checks.check_counts(checks.tiny_llama_arch())
                for name in DEFAULT_PRESETS:
                    out += checks.check_counts(load_preset(name))
        elif group == "memory" and arch is not None:
            out += checks.check_memory_accounting(arch, count_method, opts)
        elif group == "activations" and (batch or seq):
            out += checks.check_activations(batch=batch or 2, seq=seq or 64)
        elif group == "step" and (batch or seq):
            out += checks.check_step(batch=batch or 2, seq=seq or 128)
        elif group == "cuda" and (batch or seq):
            out += checks.check_cuda_memory(batch=batch or 4, seq=seq or 512)
        else:
            out += checks.GROUPS[group]()
    configs = list(peft_configs)
    if configs:
        from peftcalc.verify.hf_peft import crosscheck

        if on_group:
            on_group("peft")
        out += crosscheck(configs)
    return out

"""BitFit (Ben Zaken et al. 2022, arXiv 2106.10199): train the bias vectors only.

Formula: Σ numel of every bias of Linear/Conv1D/LayerNorm modules. No parameter is added. Models
without biases (llama, mistral, T5) have nothing to train. Not a peft tuner: peftcalc counts the
model's own bias tensors.
"""

from __future__ import annotations

from peftcalc.arch.model import Arch
from peftcalc.methods.base import Count, Method, MethodConfig, grouped_rows, total
from peftcalc.symbols import d


class BitFitConfig(MethodConfig):
    """BitFit has no options."""


def count(cfg: MethodConfig, arch: Arch) -> Count:
    modules = [m for m in arch.modules if m.bias_numel and m.tied_to is None]
    rows = grouped_rows(modules, lambda m: (m.bias_numel, f"d = {m.bias_numel}"))
    trainable = total(rows)
    notes = ("this architecture has no bias vectors: BitFit trains nothing",) if not trainable else ()
    return Count(trainable=trainable, added=0, saved=trainable, rows=rows, formula=d,
                 formula_scope="per bias vector (d = its length)", notes=notes)


METHOD = Method(
    name="bitfit",
    title="BitFit",
    config=BitFitConfig,
    count=count,
    formula=d,
    summary="only the existing bias vectors are trained",
    paper="Ben Zaken et al. 2022, BitFit: Simple Parameter-efficient Fine-tuning, arXiv:2106.10199",
    peft_source="not a peft tuner: every *.bias with requires_grad=True",
    matrix_level=False,
)

"""LoRA (Hu et al. 2021, arXiv 2106.09685): ΔW = B·A with B ∈ R^{d×r}, A ∈ R^{r×k}.

Formula (per targeted module): r*(d + k); ``lora_bias`` adds d (a bias on B); DoRA adds d (magnitude).
Source: peft 0.21 ``tuners/lora/layer.py: LoraLayer.update_layer`` and
``tuners/tuners_utils.py: _mark_only_adapters_as_trainable`` (``bias="all"`` makes every parameter
whose name contains "bias" trainable; ``"lora_only"`` the biases of adapted layers).
"""

from __future__ import annotations

from typing import Literal

import sympy
from pydantic import Field

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError
from peftcalc.methods import moe_lora
from peftcalc.methods import targets as tg
from peftcalc.methods.base import Count, Method, MethodConfig, Row, group_name, grouped_rows, substitute, total
from peftcalc.symbols import d, k, r

LORA_KINDS = frozenset({"linear", "conv1d", "embedding"})


class LoraConfig(MethodConfig):
    """Options of LoRA (names follow peft's ``LoraConfig``; ``alpha`` is ``lora_alpha``)."""

    r: int = Field(8, gt=0, le=1_000_000, description="rank of the update B·A")
    alpha: float = Field(8.0, gt=0, le=1e9, description="lora_alpha; scaling = alpha/r (alpha/√r with --rslora)")
    rslora: bool = Field(False, description="rank-stabilized scaling alpha/√r (changes no count)")
    targets: list[str] | None = Field(
        None, description="module names to adapt (suffix match), or all-linear; default: peft's per model type"
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="which existing biases become trainable")
    lora_bias: bool = Field(False, description="give lora_B a bias (adds out_features per module)")
    modules_to_save: list[str] | None = Field(
        None, description="modules trained in full as a copy (e.g. lm_head, classifier)"
    )


def check_rank(rank: int, modules: list[ModuleSpec], field: str = "--r", *, strict: bool = True) -> tuple[str, ...]:
    """A rank above min(in, out) of a targeted matrix is no longer low-rank. On the seeds' bare matrices
    (``strict``) that is an input error; on a real model peft builds it anyway (a 2-way classifier head
    under ``all-linear``), so it is counted and a note says so."""
    over = [mod for mod in modules if mod.kind != "embedding" and rank > min(mod.in_features, mod.out_features)]
    if not over:
        return ()
    mod = over[0]
    smallest = min(mod.in_features, mod.out_features)
    if strict:
        raise InputError(field, rank, f"a positive integer ≤ min(d, k) = {smallest} (for {mod.name}, "
                         f"{mod.in_features}→{mod.out_features})")
    return (f"{field[2:]} = {rank} exceeds min(in, out) of {len(over)} targeted module(s), e.g. {mod.name} "
            f"({mod.in_features}→{mod.out_features}): no longer low-rank there, but peft builds it",)


def scaling_note(cfg: LoraConfig) -> str:
    if cfg.rslora:
        return f"scaling = alpha/√r = {cfg.alpha:g}/√{cfg.r} = {cfg.alpha / cfg.r ** 0.5:.6g} (rsLoRA; no effect on counts)"
    return f"scaling = alpha/r = {cfg.alpha:g}/{cfg.r} = {cfg.alpha / cfg.r:.6g} (no effect on counts)"


def count_lora(cfg: LoraConfig, arch: Arch, *, dora: bool = False) -> Count:
    """Shared by LoRA and DoRA (in peft, DoRA is LoRA with ``use_dora=True``)."""
    formula = r * (d + k) + (d if cfg.lora_bias else 0) + (d if dora else 0)
    module_targets, wrapped = moe_lora.convert(arch, cfg.targets, cfg.r)
    if wrapped and dora:
        raise InputError("--targets", ", ".join(sorted({w.param for w in wrapped})), "linear modules only with DoRA: "
                         "peft's lora.ParamWrapper (LoRA on fused MoE parameters) does not work with use_dora=True")
    modules: list[ModuleSpec] = []
    if module_targets is None or module_targets or not wrapped:
        _, modules = tg.select(arch, module_targets, method_key="lora", method="LoRA", kinds=LORA_KINDS,
                               required=not wrapped)
    saved_copies = [m for m in arch.modules if cfg.modules_to_save and tg.matches(m.name, cfg.modules_to_save)]
    for name in cfg.modules_to_save or []:
        if not any(tg.matches(m.name, [name]) for m in arch.modules):
            leaves = ", ".join(sorted({m.leaf for m in arch.modules}))
            raise InputError("--modules-to-save", name, f"a module name in {arch.name}: {leaves}")
    modules = [m for m in modules if m not in saved_copies]  # peft never adapts a modules_to_save module
    rank_notes = check_rank(cfg.r, modules, strict=arch.model_type == "matrix")

    def per_module(mod: ModuleSpec) -> tuple[int, str]:
        values = {r: cfg.r, d: mod.out_features, k: mod.in_features}
        return int(formula.subs(values)), substitute(formula, values)

    rows = list(grouped_rows(modules, per_module)) + _parameter_rows(wrapped)
    adapter_params = total(rows)
    trainable = adapter_params
    notes = [scaling_note(cfg), *rank_notes]
    if wrapped:
        notes.append("fused MoE parameters adapted as peft 0.21 converts the targets (ParamWrapper: ρ·E·(d₁ + d₂) "
                     "per expert tensor; gate_up_proj at twice the rank)")
    if saved_copies:
        copy_rows = grouped_rows(saved_copies, lambda m: (m.numel, "numel"))
        rows += [Row(f"{row.group} (modules_to_save copy)", row.modules, row.params_each, row.substitution, row.shape)
                 for row in copy_rows]
        trainable += total(copy_rows)
        notes.append("modules_to_save: a trainable copy is added; peft's 'all' counts original and copy")
    bias_trainable = 0
    if cfg.bias == "all":
        # peft: every named parameter with "bias" in its name (T5's relative_attention_bias too).
        bias_trainable = sum(n for m in arch.modules if m.tied_to is None
                             for pname, n in m.params.items() if "bias" in f"{m.name}.{pname}")
        notes.append("bias='all': every parameter whose name contains 'bias' is trainable")
    elif cfg.bias == "lora_only":
        bias_trainable = sum(m.bias_numel for m in modules)
        notes.append("bias='lora_only': the biases of the adapted modules are trainable")
    if bias_trainable:
        rows.append(Row("existing biases (made trainable)", 1, bias_trainable, "numel"))
    added = trainable
    saved = trainable + bias_trainable
    return Count(
        trainable=trainable + bias_trainable, added=added, saved=saved, rows=tuple(rows),
        formula=formula, formula_scope="per targeted matrix (d = out_features, k = in_features)",
        notes=tuple(notes), symbols={"r": cfg.r},
    )


def _parameter_rows(wrapped: list[moe_lora.ParamTarget]) -> list[Row]:
    groups: dict[tuple[str, int, tuple[int, ...]], list[moe_lora.ParamTarget]] = {}
    for w in wrapped:
        groups.setdefault((f"{group_name(w.module.name)}.{w.param}", w.rank, w.shape), []).append(w)
    rows = []
    for (label, rank, shape), items in groups.items():
        *experts, d1, d2 = shape
        how = f"{rank}·{experts[0]}·({d1} + {d2})" if experts else f"{rank}·({d1} + {d2})"
        rows.append(Row(label, len(items), items[0].params, how, "×".join(map(str, shape))))
    return rows


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, LoraConfig)
    return count_lora(cfg, arch)


METHOD = Method(
    name="lora",
    title="LoRA",
    config=LoraConfig,
    count=count,
    formula=r * (d + k),
    summary="low-rank update B·A beside each targeted matrix; mergeable, no inference cost once merged",
    paper="Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models, arXiv:2106.09685",
    peft_source="peft/tuners/lora/layer.py: LoraLayer.update_layer",
)

"""``--via transformers``: any architecture, built by the installed transformers on the meta device (no
weights, no download), read module by module into an :class:`Arch`; the method formulas then apply
unchanged. For the model types with a family file the torch-free builders stay the default — and a test
checks that both paths agree. Needs ``pip install 'peftcalc[hf]'``; nothing here is imported otherwise.

Read from the live modules: ``nn.Linear`` (in, out), transformers' ``Conv1D`` (nx, nf), ``nn.Embedding``,
norms (a class name with "Norm"), anything else as bare parameters with their shapes; a parameter shared
with an earlier module (a tied head) is counted once; the output embedding is the head ``all-linear``
skips. peft's default targets come from the installed peft when there is one. Roles are not known on
this path: the activation model needs a family file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.family import METHOD_KEYS
from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError

_PEFT_TABLES = {"lora": "TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING",
                "vera": "TRANSFORMERS_MODELS_TO_VERA_TARGET_MODULES_MAPPING",
                "adalora": "TRANSFORMERS_MODELS_TO_ADALORA_TARGET_MODULES_MAPPING",
                "ia3": "TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING",
                "ia3_feedforward": "TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING",
                "ln_tuning": "TRANSFORMERS_MODELS_TO_LNTUNING_TARGET_MODULES_MAPPING"}


def build_model(cfg: Mapping[str, Any]) -> tuple[Any, str]:
    """The transformers model a config describes — its ``architectures`` class — on the meta device, and the
    peft task type that class takes."""
    import torch
    import transformers

    model_type = cfg["model_type"]
    kwargs = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("model_type", "architectures",
                                                                                 "auto_map", "quantization_config")}
    config = transformers.AutoConfig.for_model(model_type, **kwargs)
    classes = cfg.get("architectures") or []
    cls = getattr(transformers, classes[0], None) if classes else None
    with torch.device("meta"):
        if cls is not None:
            model = cls(config)
        elif model_type in ("bert", "roberta"):
            model = transformers.AutoModel.from_config(config)
        elif model_type == "t5":
            model = transformers.T5ForConditionalGeneration(config)
        else:
            model = transformers.AutoModelForCausalLM.from_config(config)
    name = type(model).__name__
    if name.endswith(("ForCausalLM", "LMHeadModel")):
        return model, "CAUSAL_LM"
    if name.endswith("ForConditionalGeneration"):
        return model, "SEQ_2_SEQ_LM"
    if name.endswith("ForSequenceClassification"):
        return model, "SEQ_CLS"
    if name.endswith("Model"):
        return model, "FEATURE_EXTRACTION"
    return model, "FEATURE_EXTRACTION"  # a masked LM: peft has no task type of its own for it


def _peft_defaults(model_type: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    try:
        from peft.utils import constants
    except ImportError:
        return ()
    out = []
    for key in METHOD_KEYS:
        table = getattr(constants, _PEFT_TABLES[key], {})
        if model_type in table:
            out.append((key, tuple(table[model_type])))
    return tuple(out)


def _moe_conversion(model_type: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    """peft's v4 → v5 MoE target renaming for this model type, read from the installed peft (see moe_lora)."""
    try:
        from peft.utils import transformers_weight_conversion as conv
    except ImportError:
        return (), ()
    if conv.get_checkpoint_conversion_mapping(model_type) is None:
        return (), ()
    base = conv._MODEL_TO_CONVERSION_PATTERN.get(model_type)
    targets, fused = conv._MOE_TARGET_MODULE_MAPPING.get(base, {}), conv._MOE_FUSED_TARGETS.get(base, {})
    if not targets or not fused:
        return (), ()
    return tuple(targets.items()), tuple((k, tuple(v)) for k, v in fused.items())


def _first(config: Any, *names: str, default: int = 0) -> int:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return default


def arch_via_transformers(cfg: Mapping[str, Any], *, name: str = "config.json") -> Arch:
    """The architecture transformers builds from ``cfg`` (its ``architectures`` class)."""
    try:
        import torch  # noqa: F401
        import transformers
    except ImportError as exc:
        raise InputError("--via", "transformers", f"usable once {exc.name} is installed (pip install 'peftcalc[hf]')") \
            from None
    from transformers.pytorch_utils import Conv1D

    try:
        model, _task = build_model(cfg)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # transformers' refusal of this config
        raise InputError(f"{name}: config", str(cfg.get("model_type")), f"a config transformers "
                         f"{transformers.__version__} can build ({type(exc).__name__}: {str(exc)[:120]})") from None
    head = model.get_output_embeddings()
    head_name = next((n for n, m in model.named_modules() if m is head), None) if head is not None else None
    seen: dict[int, str] = {}
    modules: list[ModuleSpec] = []
    for mname, mod in model.named_modules():
        own = list(mod.named_parameters(recurse=False))
        if not own:
            continue
        params: dict[str, int] = {}
        tied_to = None
        for pname, p in own:
            if id(p) in seen:
                tied_to = seen[id(p)].rsplit(".", 1)[0]
                continue
            seen[id(p)] = f"{mname}.{pname}"
            params[pname] = p.numel()
        if isinstance(mod, torch.nn.Linear):
            kind, fan_in, fan_out = "linear", mod.in_features, mod.out_features
        elif isinstance(mod, Conv1D):
            kind, fan_in, fan_out = "conv1d", mod.weight.shape[0], mod.weight.shape[1]
        elif isinstance(mod, torch.nn.Embedding):
            kind, fan_in, fan_out = "embedding", mod.num_embeddings, mod.embedding_dim
        elif "Norm" in type(mod).__name__:
            kind, fan_in, fan_out = "norm", own[0][1].numel(), own[0][1].numel()
        else:
            kind, fan_in, fan_out = "other", 0, 0
        shapes = tuple((pname, tuple(p.shape)) for pname, p in own) if kind == "other" else ()
        if tied_to is not None and not params:  # the whole module is another's weight (a tied head)
            params = {pname: p.numel() for pname, p in own}
        else:
            tied_to = None if params else tied_to
        modules.append(ModuleSpec(mname, kind, fan_in, fan_out, params, tied_to=tied_to, shapes=shapes))  # type: ignore[arg-type]
    config = model.config
    hidden = _first(config, "hidden_size", "n_embd", "d_model", "dim")
    heads = _first(config, "num_attention_heads", "n_head", "num_heads", "n_heads", default=1)
    kv_heads = _first(config, "num_key_value_heads", default=heads)
    head_dim = _first(config, "head_dim", default=hidden // heads if heads else 0)
    model_type = str(cfg.get("model_type"))
    moe_targets, moe_fused = _moe_conversion(model_type)
    keys = config.to_dict()
    # peft's prompt learning reads these keys of the config (utils/other.py: _prepare_prompt_learning_config)
    prompt_error = "" if any(k in keys for k in ("hidden_size", "n_embd", "d_model")) else \
        "peft finds no hidden_size, n_embd or d_model in this config (it asks for `token_dim`)"
    if not prompt_error and not any(k in keys for k in ("num_hidden_layers", "num_layers", "n_layer")):
        prompt_error = "peft finds no num_hidden_layers, num_layers or n_layer in this config (it asks for `num_layers`)"
    return Arch(
        name=name, model_type=model_type, hidden_size=hidden,
        num_layers=_first(config, "num_hidden_layers", "n_layer", "num_layers", "n_layers", "encoder_layers"),
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim,
        vocab_size=_first(config, "vocab_size"), intermediate_size=_first(config, "intermediate_size", "n_inner",
                                                                        "ffn_dim", "d_ff", "hidden_dim"),
        modules=tuple(modules), output_head=head_name, source=f"transformers {transformers.__version__}",
        peft_defaults=_peft_defaults(model_type), moe_targets=moe_targets, moe_fused=moe_fused,
        prefix_width=head_dim * kv_heads if "num_key_value_heads" in keys else hidden,
        prompt_learning_error=prompt_error,
        notes=(f"built by transformers {transformers.__version__} from the config on the meta device "
               "(--via transformers)",))

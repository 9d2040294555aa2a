"""Readings: which of the seeds' names and signatures a submission follows.

The seeds name some things twice (Section 9.6's merge_weights for the exercise's merge, Lesson 19's
LinearWithLoRA(linear, rank, alpha) for Chapter 24's LoRALayer(base, r, alpha) …). These helpers look at the
submission's own objects (hasattr, inspect.signature — which may run student code: fine here, in the jail),
use the one they find and store which, as plain data, for the judge to name the reading it graded. Candidates
come in the grader's order of preference: the exercise's own name first.

A helper is run by an ``exec`` op of a trusted plan, inside the jail, on the submission's objects; only plain data
it stores is ever returned (by ``return`` ops). Copied into the jail beside ops.py (jail.JAIL_FILES).
"""

from __future__ import annotations

from typing import Any

try:  # in the grader's process (benchmarks, tests)
    from grader.sandbox.ops import decode, MODULE
except ImportError:  # in the jail: the copies beside the harness
    from ops import decode, MODULE  # type: ignore[no-redef]


def _parameters(target: Any) -> tuple[list[str], bool]:
    """The names ``target`` (a class or a function) takes as keywords, and whether it takes ``**kwargs``; a
    signature that cannot be read is treated as ``**kwargs`` (the grader's names are passed and it may fail)."""
    import inspect

    try:
        params = list(inspect.signature(target).parameters.values())
        names = [str(p.name) for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        return names, any(p.kind is p.VAR_KEYWORD for p in params)
    except Exception:  # noqa: BLE001 - no signature (a builtin, a lying __signature__): unknown
        return [], True


def _keyword(target: Any, candidates: list[str], what: str) -> str:
    """The first of ``candidates`` that ``target`` takes as a keyword (``**kwargs``: the first candidate)."""
    names, var_kw = _parameters(target)
    found = [c for c in candidates if c in names]
    if found:
        return found[0]
    if var_kw:
        return candidates[0]
    raise TypeError(f"{what} takes none of the keywords {', '.join(candidates)} "
                    f"(its parameters: {', '.join(names) or 'none'})")


def _callables(target: Any, names: list[str]) -> list[str]:
    return [n for n in names if callable(getattr(target, n, None))]


def _new_reading(env: dict[str, Any], cls: str, args: list[Any], fixed: dict[str, Any], choices: list[Any],
                 store: str, reading: str) -> None:
    """``cls(*args, **fixed, **chosen)``: each choice is ``[value, [keyword, alias…]]`` and passes ``value`` under
    the first keyword the class's signature takes. Stores the keywords used: {exercise's name: name used}."""
    target = getattr(env[MODULE], cls)
    kwargs = dict(decode(fixed, env))
    used: dict[str, str] = {}
    for value, candidates in choices:
        name = _keyword(target, list(candidates), f"{cls}()")
        kwargs[name] = decode(value, env)
        used[candidates[0]] = name
    env[store] = target(*decode(args, env), **kwargs)
    env[reading] = used


def _call_reading(env: dict[str, Any], obj: str | None, names: list[str], args: list[Any], store: str,
                  reading: str) -> None:
    """Call the first of the methods (or, with ``obj`` None, functions) ``names`` the object defines. Stores
    {"name": the one called, "also": the others it defines too}; none of them is an AttributeError naming all."""
    target = env[obj] if obj else env[MODULE]
    found = _callables(target, names)
    if not found:
        what = "the submission" if not obj else type(target).__name__
        raise AttributeError(f"{what} defines none of {', '.join(names)}")
    env[store] = getattr(target, found[0])(*decode(args, env))
    env[reading] = {"name": found[0], "also": found[1:]}


def _lora_holder(layer: Any) -> Any:
    """The module that holds lora_A and lora_B: the layer itself or one of its submodules (``.lora``)."""
    for mod in [layer, *getattr(layer, "modules", lambda: [])()]:
        if hasattr(mod, "lora_A") and hasattr(mod, "lora_B"):
            return mod
    raise AttributeError(f"{type(layer).__name__} holds no lora_A and lora_B (nor does any of its submodules)")


def _wrap_linear_with_lora(env: dict[str, Any], linear: str, rank: int, alpha: float, store: str, holder: str,
                           reading: str) -> None:
    """24.11: wrap an nn.Linear the way the submission does. Chapter 24's reading (seed 002):
    ``LoRALayer(base, r, alpha)`` holds lora_A/lora_B and returns base(x) + the LoRA path; Lesson 19's (seed 004):
    ``LoRALayer(in_features, out_features, rank, alpha, dropout)`` is the LoRA path alone, and
    ``LinearWithLoRA(linear, rank, alpha)`` wraps the linear with one in ``.lora``. Told apart by LoRALayer's
    signature (``in_features``: Lesson 19's)."""
    module = env[MODULE]
    lora_cls, wrapper = getattr(module, "LoRALayer", None), getattr(module, "LinearWithLoRA", None)
    if lora_cls is not None and "in_features" in _parameters(lora_cls)[0]:
        if wrapper is None:
            raise TypeError("LoRALayer(in_features, out_features, …) is Lesson 19's LoRA path alone, and the "
                            "submission defines no LinearWithLoRA(linear, rank, alpha) to wrap an nn.Linear with it")
        cls, seed = wrapper, "004"
    elif lora_cls is not None:
        cls, seed = lora_cls, "002"
    elif wrapper is not None:
        cls, seed = wrapper, "004"
    else:
        raise AttributeError("the submission defines neither LoRALayer nor LinearWithLoRA")
    name = "LinearWithLoRA" if cls is wrapper else "LoRALayer"
    kw = {_keyword(cls, ["r", "rank"], f"{name}()"): rank, _keyword(cls, ["alpha", "lora_alpha"], f"{name}()"): alpha}
    env[store] = cls(env[linear], **kw)
    env[holder] = _lora_holder(env[store])
    env[reading] = {"seed": seed, "class": name, "keywords": list(kw)}


def _apply_lora(env: dict[str, Any], model: str, rank: int, alpha: float, store: str, reading: str) -> None:
    """24.11(c)/24.12: LoRA on every nn.Linear of ``model``, through the submission's function: Chapter 24's
    ``replace_linear_with_lora(model, r, alpha)`` or Lesson 19's ``apply_lora_to_model(model, rank, alpha,
    target_modules)``. A function that takes ``target_modules`` is given the names of every nn.Linear."""
    import torch

    module, net = env[MODULE], env[model]
    found = _callables(module, ["replace_linear_with_lora", "apply_lora_to_model"])
    if not found:
        raise AttributeError("the submission defines neither replace_linear_with_lora(model, r, alpha) nor "
                             "apply_lora_to_model(model, rank, alpha, target_modules)")
    fn = getattr(module, found[0])
    kw: dict[str, Any] = {_keyword(fn, ["r", "rank"], f"{found[0]}()"): rank,
                          _keyword(fn, ["alpha", "lora_alpha"], f"{found[0]}()"): alpha}
    if "target_modules" in _parameters(fn)[0]:
        kw["target_modules"] = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Linear)]
    result = fn(net, **kw)
    env[store] = net if result is None else result  # None: it changed the model in place
    env[reading] = {"name": found[0], "also": found[1:], "keywords": list(kw), "in_place": result is None}


def _fold_lora(env: dict[str, Any], model: str, functions: list[str], methods: list[str], reading: str) -> None:
    """24.12: merge (or unmerge) through the submission's model-level function — or, if it defines none, every
    LoRA layer's own method (Lesson 19's ``LinearWithLoRA.merge_weights()``). Stores what was called."""
    module, net = env[MODULE], env[model]
    found = _callables(module, functions)
    if found:
        getattr(module, found[0])(net)
        env[reading] = {"name": found[0], "layers": 0}
        return
    layers = [(m, _callables(m, methods)) for m in net.modules()]
    layers = [(m, names[0]) for m, names in layers if names]
    if not layers:
        raise AttributeError(f"the submission defines no {functions[0]}(model), and no layer of the model has a "
                             f"{' or '.join(methods)}() method")
    for m, name in layers:
        getattr(m, name)()
    env[reading] = {"name": f"{type(layers[0][0]).__name__}.{layers[0][1]}", "layers": len(layers)}


def _call_model_double_lora(env: dict[str, Any], model: str, x: str, store: str) -> None:
    """24.12: the output of a copy of the LoRA model with every lora_B doubled — what a merged model gives when
    its LoRA path is still on (ΔW counted twice). None if the model cannot be copied."""
    import copy

    import torch

    try:
        twin = copy.deepcopy(env[model])
        with torch.no_grad():
            for m in twin.modules():
                b = getattr(m, "lora_B", None)
                if isinstance(b, torch.Tensor):
                    b.mul_(2)
            env[store] = twin(env[x])
    except Exception:  # noqa: BLE001 - only a diagnosis: without it the judge names no cause
        env[store] = None


HELPERS = {
    "new_reading": _new_reading,
    "call_reading": _call_reading,
    "wrap_linear_with_lora": _wrap_linear_with_lora,
    "apply_lora": _apply_lora,
    "fold_lora": _fold_lora,
    "call_model_double_lora": _call_model_double_lora,
}

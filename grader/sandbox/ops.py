"""The checks' little language, run on a submission's module: each check is a list of ops, and only plain
data comes back.

Runs in the jail's forks on a student's module (untrusted) and, in the benchmarks, in-process on the
reference solution. Standard library, numpy and (when a plan needs it) torch only: in the jail this is a
copy beside the harness, and no grader package is visible.

Ops: ``new`` (instantiate a class), ``call`` (a function or a method), ``get``/``set`` (attributes),
``index``, ``exec`` (a named helper below, for trusted plans) and ``return`` (send a value back).
Arguments are JSON values, ``{"array": nested, "dtype": ...}``, ``{"b64": ..., "shape": [...]}`` (raw
float64), ``{"tensor": nested}`` (torch), ``{"ref": name}`` (an earlier result) or ``{"tuple": [...]}``.
Returned values: numbers, short strings, ``{"seq"}``/``{"dict"}`` of those (6 levels at most), arrays as
``{"b64", "shape"}``, or ``{"unencodable": why}``.
"""

from __future__ import annotations

import math
import sys
import traceback
import types
from typing import Any


def _np():
    import numpy

    return numpy


def decode(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if "b64" in value:  # raw little-endian float64, base64: ~10× cheaper than JSON lists of floats
            import base64

            arr = _np().frombuffer(base64.b64decode(value["b64"]), dtype="<f8").reshape(value["shape"]).copy()
            if value.get("tensor"):
                import torch

                return torch.from_numpy(arr).to(getattr(torch, value.get("dtype", "float32")))
            return arr
        if "array" in value:
            return _np().asarray(value["array"], dtype=value.get("dtype", "float64")).reshape(value["shape"])
        if "tensor" in value:
            import torch

            return torch.tensor(value["tensor"], dtype=getattr(torch, value.get("dtype", "float32"))).reshape(
                value["shape"])
        if "ref" in value:
            return env[value["ref"]]
        if "tuple" in value:
            return tuple(decode(v, env) for v in value["tuple"])
        return {k: decode(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, env) for v in value]
    return value


def encode(value: Any, depth: int = 0) -> Any:
    """Plain data only: numbers, strings, lists, dicts, arrays as float lists (NaN/inf as strings)."""
    if depth > 6:
        return {"unencodable": "nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) else value[:1000]
    if isinstance(value, int):
        return value if abs(value) < 2**63 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    if isinstance(value, (list, tuple)) and not _is_numeric_nested(value):
        return {"seq": [encode(v, depth + 1) for v in value[:64]]}
    if isinstance(value, dict):
        return {"dict": {str(k)[:100]: encode(v, depth + 1) for k, v in list(value.items())[:64]}}
    np = _np()
    try:
        arr = np.array(value, dtype=np.float64)
    except Exception as exc:  # an object that does not convert: say what it was
        return {"unencodable": f"{type(value).__name__}: {str(exc)[:200]}"}
    if arr.size > 2**20:
        return {"unencodable": f"array of {arr.size} values is too large"}
    import base64

    return {"b64": base64.b64encode(arr.astype("<f8").tobytes()).decode(), "shape": list(arr.shape)}


def _is_numeric_nested(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif not isinstance(v, (int, float)) or isinstance(v, bool):
            return False
    return True


def load_module(path: str) -> Any:
    """Compile and run the submission as module ``submission``, only ever inside a fork: compiling there
    puts it under the fork's time and memory limits (a source that is slow to compile costs its own time),
    and the jail's init allocates nothing for it — every page the init writes after a fork is a
    copy-on-write fault (microbenchmark: the init's faults per submission ~450 → ~30, the fork's +170).
    No bytecode cache is written."""
    with open(path, "rb") as fh:
        code = compile(fh.read(), path, "exec", dont_inherit=True)
    module = types.ModuleType("submission")
    module.__file__ = path
    sys.modules["submission"] = module
    exec(code, module.__dict__)  # noqa: S102 - the submission, inside the jail's fork
    return module


MODULE = "__submission__"  # the env key of the submission's module (never a check's store name)


def run_ops(module: Any, ops: list[dict[str, Any]]) -> list[Any]:
    """Execute one check's ops; returns the encoded values of its ``return`` ops."""
    env: dict[str, Any] = {MODULE: module}  # the helpers that detect a submission's reading look at it
    out: list[Any] = []
    for op in ops:
        kind = op["op"]
        if kind == "new":
            cls = getattr(module, op["cls"])
            env[op["store"]] = cls(*decode(op.get("args", []), env), **decode(op.get("kwargs", {}), env))
        elif kind == "call":
            target = env[op["obj"]] if op.get("obj") else module
            fn = getattr(target, op["func"])
            result = fn(*decode(op.get("args", []), env), **decode(op.get("kwargs", {}), env))
            if op.get("store"):
                env[op["store"]] = result
        elif kind == "get":
            value = env[op["obj"]]
            for part in op["attr"].split("."):
                value = value[part] if isinstance(value, dict) and part in value else getattr(value, part)
            env[op["store"]] = value
        elif kind == "set":
            target = env[op["obj"]]
            *path, last = op["attr"].split(".")
            for part in path:
                target = getattr(target, part)
            setattr(target, last, decode(op["value"], env))
        elif kind == "index":
            env[op["store"]] = env[op["obj"]][op["key"]]
        elif kind == "exec":  # trusted plans only: a named helper below (e.g. seeding)
            HELPERS[op["helper"]](env, *op.get("args", []))
        elif kind == "return":
            out.append(encode(env[op["ref"]]))
        else:
            raise ValueError(f"unknown op {kind!r}")
    return out


def run_all(module: Any, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per check, in order: its returned values, or what it raised."""
    out: list[dict[str, Any]] = []
    for check in checks:
        try:
            out.append({"id": check["id"], "ok": True, "values": run_ops(module, check["ops"])})
        except BaseException as exc:  # noqa: BLE001 - anything the student does is reported
            out.append({"id": check["id"], "ok": False, "error": describe_error(exc)})
    return out


def _seed(env: dict[str, Any], seed: int) -> None:
    _np().random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _torch_model(env: dict[str, Any], name: str, seed: int) -> None:
    """A small torch model to adapt (24.11/24.12): Linear → ReLU → Linear → ReLU → Linear."""
    import torch

    torch.manual_seed(seed)
    env[name] = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                    torch.nn.ReLU(), torch.nn.Linear(32, 8))


def _count_modules(env: dict[str, Any], model: str, store: str) -> None:
    m = env[model]
    env[store] = {"lora_layers": sum(type(x).__name__ == "LoRALayer" for x in m.modules()),
                  "trainable": sum(p.numel() for p in m.parameters() if p.requires_grad),
                  "total": sum(p.numel() for p in m.parameters())}


def _set_param(env: dict[str, Any], obj: str, name: str, value: Any) -> None:
    import torch

    with torch.no_grad():
        getattr(env[obj], name).copy_(decode(value, env))


def _perturb_lora_b(env: dict[str, Any], model: str, seed: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in env[model].modules():
            if type(m).__name__ == "LoRALayer":
                m.lora_B.copy_(torch.randn(m.lora_B.shape, generator=gen) * 0.1)


def _call_model(env: dict[str, Any], model: str, x: str, store: str) -> None:
    import torch

    with torch.no_grad():
        env[store] = env[model](env[x])


def _first_weight(env: dict[str, Any], model: str, store: str) -> None:
    """The weight of the first linear layer wherever the submission keeps it (base.weight, linear.weight…)."""
    import torch

    for mod in env[model].modules():
        for name, p in mod.named_parameters(recurse=False):
            if name == "weight" and p.dim() == 2 and tuple(p.shape) == (32, 16):
                env[store] = p.detach().clone()
                return
    raise AttributeError("no 32×16 weight found for the first layer")


def _set_fit(env: dict[str, Any], obj: str, attr: str, value: Any) -> None:
    """Set a weight in the submission's own layout: as given, or transposed if that is its shape."""
    target = env[obj]
    new = decode(value, env)
    old = getattr(target, attr, None)
    shape = getattr(old, "shape", None)
    if shape is not None and tuple(shape) == tuple(new.T.shape) and tuple(shape) != tuple(new.shape):
        new = new.T.copy()
    setattr(target, attr, new)


def _zero_if_present(env: dict[str, Any], obj: str, names: list[str]) -> None:
    target = env[obj]
    for name in names:
        old = getattr(target, name, None)
        if old is not None and hasattr(old, "shape"):
            setattr(target, name, _np().zeros(old.shape))


def _set_array_of_shape(env: dict[str, Any], obj: str, shape: list[int], value: Any) -> None:
    target = env[obj]
    for name, val in vars(target).items():
        if isinstance(val, _np().ndarray) and list(val.shape) == list(shape):
            setattr(target, name, decode(value, env))
            return
    raise AttributeError(f"no array attribute of shape {tuple(shape)}")


def _perturb_zero_arrays(env: dict[str, Any], obj: str, shape: list[int], seed: int, store: str) -> None:
    """Give every all-zero array of ``shape`` (LoRA's B) random values, searching one level of nesting."""
    np = _np()
    rng = np.random.default_rng(seed)
    count = 0
    stack = [env[obj]]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        members = item.items() if isinstance(item, dict) else (vars(item).items() if hasattr(item, "__dict__") else [])
        for name, val in list(members):
            if isinstance(val, np.ndarray):
                if list(val.shape) == list(shape) and not val.any():
                    new = rng.normal(size=val.shape) * 0.1
                    if isinstance(item, dict):
                        item[name] = new
                    else:
                        setattr(item, name, new)
                    count += 1
            elif isinstance(val, (dict, list)) or hasattr(val, "__dict__"):
                stack.extend(val if isinstance(val, list) else [val])
    env[store] = count


def _linear(env: dict[str, Any], name: str, fan_in: int, fan_out: int) -> None:
    import torch

    env[name] = torch.nn.Linear(fan_in, fan_out)


def _tensor_input(env: dict[str, Any], name: str, value: Any) -> None:
    env[name] = decode(value, env)


# ---- readings: which of the seeds' names and signatures a submission follows ------------------------------------
# The seeds name some things twice (Section 9.6's merge_weights for the exercise's merge, Lesson 19's
# LinearWithLoRA(linear, rank, alpha) for Chapter 24's LoRALayer(base, r, alpha) …). These helpers look at the
# submission's own objects (hasattr, inspect.signature — which may run student code: fine here, in the jail),
# use the one they find and store which, as plain data, for the judge to name the reading it graded. Candidates
# come in the grader's order of preference: the exercise's own name first.

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


def _manager_view(env: dict[str, Any], obj: str, layer: str, name: str, store: str) -> None:
    """9.11: what a LoRAManager shows after ``switch_adapter(name)``: its base_model[layer], and the attributes
    that name the adapter (the name itself, or the very object it keeps in ``adapters``)."""
    np = _np()
    mgr = env[obj]
    base = np.array(getattr(mgr, "base_model")[layer], dtype=np.float64)
    adapters = getattr(mgr, "adapters", None)
    weights = adapters.get(name) if type(adapters) is dict else None
    try:
        members = list(vars(mgr).items())
    except TypeError:  # __slots__: no attribute can be read back
        members = []
    marks = [str(attr) for attr, val in members
             if (type(val) is str and val == name) or (weights is not None and val is weights)]
    env[store] = {"base": base, "marks": marks}


def _probe_levels(env: dict[str, Any], q: str, scale: str, zero_point: str, store: str) -> None:
    """9.12: every level the submission's dequantize_4bit gives each weight — each 4-bit code in turn, in every
    position, with the submission's own scale and zero_point: {"codes", "levels" [code, *shape]} or {"error"}."""
    np = _np()
    codes = np.asarray(env[q])
    first = -8 if codes.size and codes.min() < 0 else 0   # the signed range [-8, 7] or the unsigned [0, 15]
    try:
        levels = [np.asarray(env[MODULE].dequantize_4bit(np.full_like(codes, c), env[scale], env[zero_point]),
                             dtype=np.float64) for c in range(first, first + 16)]
        env[store] = {"codes": [first, first + 15], "levels": np.stack(levels)}
    except Exception as exc:  # noqa: BLE001 - reported, the codes are still graded
        env[store] = {"error": describe_error(exc)}


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
def _block_model(env: dict[str, Any], name: str, n_layers: int, seed: int) -> None:
    """A model of ``n_layers`` blocks in ``model.layers`` (24.22), each Linear(4, 4) → LayerNorm(4): a block has
    weights, biases and norm parameters, so freezing "the block" means all of them."""
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Module()
    model.layers = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
                                       for _ in range(n_layers))
    env[name] = model


def _trainable_blocks(env: dict[str, Any], model: str, store: str) -> None:
    """Per block of ``model.layers``: 1 if every parameter requires grad, 0 if none does, 0.5 if some do."""
    out = []
    for block in env[model].layers:
        flags = [bool(p.requires_grad) for p in block.parameters()]
        out.append(1.0 if all(flags) else 0.5 if any(flags) else 0.0)
    env[store] = out


_CONFIG_KEYS = ("rank", "alpha", "lr", "targets")


def _table_objective(env: dict[str, Any], name: str, configs: list[dict[str, Any]], losses: list[float],
                     log: str) -> None:
    """objective(config) -> its validation loss, read from a table (24.23); each call appends the config's index
    to ``env[log]`` (each call stands for a training run, so the grader counts them)."""
    index = {tuple(c[k] for k in _CONFIG_KEYS): i for i, c in enumerate(configs)}
    calls = env.setdefault(log, [])

    def objective(config: Any) -> float:
        try:
            i = index[tuple(config[k] for k in _CONFIG_KEYS)]
        except (KeyError, TypeError, IndexError):
            raise TypeError("objective(config) takes one configuration of the space it was given "
                            "(a dict with rank, alpha, lr, targets)") from None
        calls.append(i)
        return float(losses[i])

    env[name] = objective


def _chunked(env: dict[str, Any], src: str, size: int, store: str) -> None:
    """A long sequence as {"n": its length, "chunks": lists of ``size`` items} (a returned list keeps 64 items)."""
    items = list(env[src])
    env[store] = {"n": len(items), "chunks": [items[i:i + size] for i in range(0, len(items), size)]}


HELPERS = {"seed": _seed, "linear": _linear, "tensor_input": _tensor_input, "set_param": _set_param, "perturb_lora_B": _perturb_lora_b, "set_fit": _set_fit, "zero_if_present": _zero_if_present,
           "set_array_of_shape": _set_array_of_shape, "perturb_zero_arrays": _perturb_zero_arrays, "torch_model": _torch_model, "count_modules": _count_modules, "call_model": _call_model,
           "first_weight": _first_weight, "new_reading": _new_reading, "call_reading": _call_reading,
           "manager_view": _manager_view, "probe_levels": _probe_levels,
           "wrap_linear_with_lora": _wrap_linear_with_lora, "apply_lora": _apply_lora, "fold_lora": _fold_lora, "call_model_double_lora": _call_model_double_lora}


# Chapter 24's LR finder, EWC and multi-LoRA checks (24.14, 24.16, 24.17)
def _quadratic_train_step(env: dict[str, Any], name: str, calls: str, curvatures: list[float],
                          start: list[float]) -> None:
    """A ``train_step(lr)`` for the LR finder: one SGD step on ½·Σ h_j·w_j², returning the loss before the
    step (a float); every lr it is called with is appended to ``env[calls]``. Plain floats, so that the judge
    replays the same arithmetic."""
    h = [float(c) for c in curvatures]
    w = [float(s) for s in start]
    record: list[float] = []
    env[calls] = record

    def train_step(lr: Any) -> float:
        lr = float(lr)
        record.append(lr)
        loss = 0.5 * sum(hj * wj * wj for hj, wj in zip(h, w))
        w[:] = [wj - lr * hj * wj for hj, wj in zip(h, w)]
        return loss

    env[name] = train_step


def _mlp(env: dict[str, Any], name: str, layers: list[list[Any]]) -> None:
    """Linear → ReLU → … → Linear from each linear's given (weight, bias): the judge knows every weight."""
    import torch

    mods: list[Any] = []
    for weight, bias in layers:
        w, b = decode(weight, env), decode(bias, env)
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(w)
            linear.bias.copy_(b)
        mods += [linear, torch.nn.ReLU()]
    env[name] = torch.nn.Sequential(*mods[:-1])


def _requires_grad(env: dict[str, Any], name: str) -> None:
    """Make every tensor of the dict ``env[name]`` record its gradient."""
    for tensor in env[name].values():
        tensor.requires_grad_(True)


def _backward_grads(env: dict[str, Any], loss: str, params: str, store: str) -> None:
    """Backpropagate ``env[loss]`` and store the gradient of each tensor of the dict ``env[params]`` (None
    where it got none) or, when the value has no autograd graph, a sentence saying so."""
    out = env[loss]
    if not hasattr(out, "backward") or not getattr(out, "requires_grad", False):
        env[store] = "no autograd graph"
        return
    out.backward()
    env[store] = {k: (None if v.grad is None else v.grad.detach().clone()) for k, v in env[params].items()}


HELPERS.update({"quadratic_train_step": _quadratic_train_step, "mlp": _mlp, "requires_grad": _requires_grad,
                "backward_grads": _backward_grads})

HELPERS.update({"block_model": _block_model, "trainable_blocks": _trainable_blocks, "table_objective": _table_objective,
                "chunked": _chunked})


# ---- section 9.6: arrays found by shape, repeated calls --------------------------------------------------------

_SHAPE_SEARCH_NODES = 10_000  # objects visited at most: a submission's own structure, never a library's


def _set_nested_of_shape(env: dict[str, Any], obj: str, shape: list[int], value: Any, store: str,
                         transposed: bool = False) -> None:
    """Set every array of exactly ``shape`` held by ``obj`` or by anything it holds — attributes of the
    submission's own classes, dicts, lists — to ``value``; with ``transposed``, an array of the reversed
    2-D shape is set to ``value.T`` (a weight kept out × in). Libraries' objects (numpy, modules) are never
    entered. ``store``: how many arrays were set (0: none of that shape)."""
    np = _np()
    new = np.asarray(decode(value, env), dtype=np.float64)
    want = tuple(shape)
    flipped = want[::-1] if transposed and len(want) == 2 and want[0] != want[1] else None
    count, visited = 0, 0
    stack, seen = [env[obj]], set()
    while stack and visited < _SHAPE_SEARCH_NODES:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        visited += 1
        if isinstance(item, dict):
            members = list(item.items())
        elif isinstance(item, list):
            members = list(enumerate(item))
        elif type(item).__module__ == "submission" and hasattr(item, "__dict__"):
            members = list(vars(item).items())
        else:
            continue
        for key, val in members:
            if isinstance(val, np.ndarray):
                got = tuple(val.shape)
                if got not in (want, flipped):
                    continue
                replacement = new.copy() if got == want else new.T.copy()
                if isinstance(item, (dict, list)):
                    item[key] = replacement
                else:
                    setattr(item, key, replacement)
                count += 1
            elif isinstance(val, (dict, list)) or type(val).__module__ == "submission":
                stack.append(val)
    env[store] = count


def _call_repeatedly(env: dict[str, Any], obj: str, func: str, args: list[Any], times: int, store: str) -> None:
    """Call ``obj.func(*args)`` ``times`` times (at most 10,000) and store the results stacked as one
    float64 array, first axis = the call: a random layer's samples cross back as one array."""
    np = _np()
    fn = getattr(env[obj], func)
    decoded = decode(args, env)

    def fresh() -> list[Any]:  # a copy per call: a forward that writes into its input spoils only its own call
        return [a.copy() if isinstance(a, np.ndarray) else a for a in decoded]

    env[store] = np.stack([np.asarray(fn(*fresh()), dtype=np.float64) for _ in range(min(int(times), 10_000))])


HELPERS["set_nested_of_shape"] = _set_nested_of_shape
HELPERS["call_repeatedly"] = _call_repeatedly


def describe_error(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "submission" in f.filename or
              f.filename.endswith("submission.py")]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"



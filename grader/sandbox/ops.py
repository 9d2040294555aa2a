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


def run_ops(module: Any, ops: list[dict[str, Any]]) -> list[Any]:
    """Execute one check's ops; returns the encoded values of its ``return`` ops."""
    env: dict[str, Any] = {}
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


HELPERS = {"seed": _seed, "linear": _linear, "tensor_input": _tensor_input, "set_param": _set_param, "perturb_lora_B": _perturb_lora_b, "set_fit": _set_fit, "zero_if_present": _zero_if_present,
           "set_array_of_shape": _set_array_of_shape, "perturb_zero_arrays": _perturb_zero_arrays, "torch_model": _torch_model, "count_modules": _count_modules, "call_model": _call_model,
           "first_weight": _first_weight}


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



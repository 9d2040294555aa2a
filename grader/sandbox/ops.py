"""The checks' little language, run on a submission's module: each check is a list of ops, and only plain
data comes back.

Runs in the jail's forks on a student's module (untrusted) and, in the benchmarks, in-process on the
reference solution. Standard library, numpy and (when a plan needs it) torch only: in the jail this is a
copy beside the harness, and no grader package is visible.

Ops: ``new`` (instantiate a class), ``call`` (a function or a method), ``get``/``set`` (attributes),
``index``, ``exec`` (a named helper of helpers_numpy, helpers_torch or readings, for trusted plans) and
``return`` (send a value back).
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


def describe_error(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "submission" in f.filename or
              f.filename.endswith("submission.py")]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


def _helpers() -> dict[str, Any]:
    """The named helpers ``exec`` ops may run, from their modules (imported last: they use decode and MODULE)."""
    try:  # in the grader's process
        from grader.sandbox import helpers_numpy, helpers_torch, readings
    except ImportError:  # in the jail: the copies beside the harness
        import helpers_numpy  # type: ignore[no-redef]
        import helpers_torch  # type: ignore[no-redef]
        import readings  # type: ignore[no-redef]
    out: dict[str, Any] = {}
    for module in (helpers_numpy, helpers_torch, readings):
        clash = set(out) & set(module.HELPERS)
        if clash:
            raise RuntimeError(f"helper names defined twice: {sorted(clash)}")
        out.update(module.HELPERS)
    return out


HELPERS = _helpers()

"""The child side of code grading: run a plan of calls on one module and send back plain data.

Runs twice per check: in the grader's process on the reference solution (trusted), and inside the
sandbox on a student's file (untrusted). Standalone on purpose — stdlib, numpy and (if a plan needs
it) torch only — because inside the sandbox the grader package is not visible.

Plan (JSON): ``{"module": path, "checks": [{"id", "ops": [...]}], "limits": {...}}``. Ops:
``new`` (instantiate a class), ``call`` (a function or a method), ``get``/``set`` (attributes),
``return`` (send a value back). Arguments are JSON values, ``{"array": nested, "dtype": ...}``,
``{"tensor": nested}`` (torch), ``{"ref": name}`` (an earlier result) or ``{"module_ref": name}``.
Results go back as one JSON line per check on a private file descriptor, never stdout:
``{"id", "ok", "values": [...], "error": str}``; arrays travel as ``{"array": list, "shape": [...]}``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import sys
import time
import traceback
from typing import Any

MAX_RESULT_BYTES = 8 * 2**20
# bound before any student code runs: patching os.write or json.dumps later cannot reach these
_write, _exit, _dumps = os.write, os._exit, json.JSONEncoder(allow_nan=False).encode


def _np():
    import numpy

    return numpy


def decode(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, dict):
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
    flat = [x if math.isfinite(x) else str(x) for x in arr.reshape(-1).tolist()]
    return {"array": flat, "shape": list(arr.shape)}


def _is_numeric_nested(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif not isinstance(v, (int, float)) or isinstance(v, bool):
            return False
    return True


_COMPILED: dict[str, Any] = {}
_FD_LIMIT = 1 << 16  # lowered to RLIMIT_NOFILE in main(): closing 65,536 descriptors per fork costs ~10 ms


def load_module(path: str) -> Any:
    if path in _COMPILED:  # compiled once in the harness parent (compiling runs nothing); executed per check
        import types

        module = types.ModuleType("submission")
        module.__file__ = path
        sys.modules["submission"] = module
        exec(_COMPILED[path], module.__dict__)  # noqa: S102 - the submission, inside the jail's fork
        return module
    spec = importlib.util.spec_from_file_location("submission", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
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
        elif kind == "exec":  # trusted plans only: a named helper of the harness (e.g. seeding)
            HELPERS[op["helper"]](env, *op.get("args", []))
        elif kind == "return":
            out.append(encode(env[op["ref"]]))
        else:
            raise ValueError(f"unknown op {kind!r}")
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


def _array_attrs(target: Any) -> list[tuple[str, Any]]:
    np = _np()
    found = []
    for name, val in list(vars(target).items()):
        if isinstance(val, np.ndarray):
            found.append((name, val))
        elif isinstance(val, dict):
            found += [(f"{name}[{k!r}]", v) for k, v in val.items() if isinstance(v, np.ndarray)]
    return found


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


def describe_error(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "submission" in f.filename or
              f.filename.endswith("submission.py")]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


def run_check_in_fork(module_path: str, check: dict[str, Any], timeout: float, channel: int) -> None:
    """Fork; the child imports the submission and runs one check; the parent enforces the time limit."""
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: student code runs only here
        # keep only stdio and this check's own result pipe: the grader's channel (and anything else the
        # harness holds) is out of the submission's reach
        os.closerange(3, w)
        os.closerange(w + 1, _FD_LIMIT)
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        try:
            module = load_module(module_path)
            payload = {"id": check["id"], "ok": True, "values": run_ops(module, check["ops"])}
        except BaseException as exc:  # noqa: BLE001 - anything the student does is reported
            payload = {"id": check["id"], "ok": False, "error": describe_error(exc)}
        try:
            data = (_dumps(payload) + "\n").encode()
        except (TypeError, ValueError):
            data = (_dumps({"id": check["id"], "ok": False, "error": "result could not be serialised"}) + "\n").encode()
        try:
            _write(w, data[:MAX_RESULT_BYTES])   # written last: the parent keeps the last record
        finally:
            _exit(0)
    os.close(w)
    chunks: list[bytes] = []
    size = 0
    deadline = start + timeout
    import select

    status = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([r], [], [], min(remaining, 0.05))
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            if size < MAX_RESULT_BYTES:
                chunks.append(chunk)
            size += len(chunk)
    timed_out = time.monotonic() >= deadline
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(r)
    _reap()
    text = b"".join(chunks).decode("utf-8", "replace")
    # the harness writes its record as the child's very last act; anything the submission wrote on the
    # pipe before (a forged record at import time) is superseded
    lines = [ln for ln in text.split("\n") if ln.strip()]
    line = lines[-1] if lines else ""
    record: dict[str, Any]
    try:
        record = json.loads(line) if line else {}
        if record.get("id") != check["id"]:
            raise ValueError("wrong id")
    except ValueError:
        if timed_out:
            record = {"id": check["id"], "ok": False, "error": f"time limit {timeout:g} s exceeded"}
        elif status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            record = {"id": check["id"], "ok": False, "error": f"crashed with signal {name}"}
        else:
            record = {"id": check["id"], "ok": False, "error": "the check ended without a result (exit mid-run?)"}
    record["seconds"] = round(time.monotonic() - start, 4)
    os.write(channel, (json.dumps(record) + "\n").encode())


def _reap() -> None:
    """As the jail's PID 1, orphans of the submission are ours: collect their exit statuses (no zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def apply_limits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        res = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if res is not None:
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass


def _not_dumpable() -> None:
    """PR_SET_DUMPABLE 0: processes of the same uid (the student's forks) cannot ptrace this one or open
    its /proc/PID/fd — so they cannot reach the results channel."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def main() -> None:
    """``python harness.py PLAN.json CHANNEL_FD``: every check of the plan, each in its own fork."""
    plan_path, channel = sys.argv[1], int(sys.argv[2])
    _not_dumpable()
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    for path in plan.get("sys_path", []):
        sys.path.insert(0, path)
    if plan.get("preload_torch"):
        import torch  # noqa: F401 - paid once, before the forks
    _np()
    apply_limits(plan.get("limits", {}))
    global _FD_LIMIT
    import resource

    _FD_LIMIT = min(_FD_LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    os.environ.clear()
    os.environ.update({"HOME": plan.get("workdir", "/tmp"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                       "OMP_NUM_THREADS": "1"})
    timeout = float(plan.get("timeout", 10))
    budget = float(plan.get("budget", 120))
    try:
        with open(plan["module"], "rb") as fh:
            _COMPILED[plan["module"]] = compile(fh.read(), plan["module"], "exec", dont_inherit=True)
    except (SyntaxError, ValueError, OSError):
        pass  # the import probe below reports it with the line
    started = time.monotonic()
    # import once on its own: a module that hangs, crashes or exits on import fails every check once,
    # instead of once per check
    probe = {"id": "__import__", "ops": []}
    r, w = os.pipe()
    run_check_in_fork(plan["module"], probe, timeout, w)
    os.close(w)
    verdict = json.loads(os.read(r, 1 << 20).decode().split("\n", 1)[0])
    os.close(r)
    for check in plan["checks"]:
        if not verdict.get("ok"):
            record = {"id": check["id"], "ok": False, "error": f"importing the submission failed: {verdict.get('error')}"}
            os.write(channel, (json.dumps(record) + "\n").encode())
            continue
        if time.monotonic() - started > budget:
            record = {"id": check["id"], "ok": False, "error": f"not run: the submission's time budget ({budget:g} s) "
                      "is spent"}
            os.write(channel, (json.dumps(record) + "\n").encode())
            continue
        run_check_in_fork(plan["module"], check, timeout, channel)
    os.write(channel, b'{"done": true}\n')


if __name__ == "__main__":
    main()
    os._exit(0)  # no interpreter teardown: the jail ends as soon as the results are out

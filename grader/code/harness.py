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

import importlib
import json
import math
import os
import signal
import sys
import time
import traceback
import types
from typing import Any

MAX_RESULT_BYTES = 8 * 2**20
# bound before any student code runs: patching os.write or json.dumps later cannot reach these
_write, _exit, _dumps = os.write, os._exit, json.JSONEncoder(allow_nan=False).encode


PRELOAD = ("numpy", "numpy.random", "numpy.linalg", "random", "math")


def _preload() -> None:
    """Import once in the jail's init what submissions and checks use, so no fork pays for it: numpy.random
    alone loads eight extension modules (~20 ms per fork). Each fork reseeds numpy's global generator, as a
    fresh import would (checks that need reproducibility seed explicitly)."""
    for name in PRELOAD:
        importlib.import_module(name)


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


_JOB_OUTPUT: tuple[str, str] | None = None  # warm jails: each job's stdout/stderr files
_FD_LIMIT = 1 << 16  # lowered to RLIMIT_NOFILE in main(): closing 65,536 descriptors per fork costs ~10 ms


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
        elif kind == "exec":  # trusted plans only: a named helper of the harness (e.g. seeding)
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


def describe_error(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "submission" in f.filename or
              f.filename.endswith("submission.py")]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


def _child_setup(w: int) -> None:
    """In a fork about to run student code: only stdio and the fork's own result pipe stay open (the
    grader's channel is out of reach), output goes to the job's files, and the fork leads its own group."""
    os.closerange(3, w)
    os.closerange(w + 1, _FD_LIMIT)
    if _JOB_OUTPUT:
        for fd, path in zip((1, 2), _JOB_OUTPUT):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(target, fd)
            os.close(target)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    if "numpy.random" in sys.modules:  # preloaded: without this every fork would draw the same numbers
        sys.modules["numpy.random"].seed(int.from_bytes(os.urandom(4), "little"))


def _read_child(r: int, pid: int, deadline: float) -> tuple[str, bool, int | None]:
    """Everything the fork wrote (bounded) until EOF or the deadline; then kill its group and reap it."""
    import select

    chunks: list[bytes] = []
    size = 0
    status = None

    def take(chunk: bytes) -> None:
        nonlocal size
        if size < MAX_RESULT_BYTES:
            chunks.append(chunk)
        size += len(chunk)

    # read until EOF or until the fork has exited (a grandchild it left behind may hold the pipe open)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([r], [], [], min(remaining, 0.02))
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            take(chunk)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            status = st
            while select.select([r], [], [], 0)[0]:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                take(chunk)
            break
    timed_out = status is None and time.monotonic() >= deadline
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if status is None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    os.close(r)
    _reap()
    return b"".join(chunks).decode("utf-8", "replace"), timed_out, status


def _flush() -> None:
    """What the submission printed reaches the output files (os._exit skips Python's buffers)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a replaced or broken stream is the submission's business
            pass


def run_batch_in_fork(module_path: str, checks: list[dict[str, Any]], limit: float) -> str | None:
    """Fast path: every check in one fork, which writes all records as one final line ``{"batch": [...]}``;
    returns that line once checked (valid JSON, one record per check, in order), to be forwarded as it is.
    None when the fork hangs, dies or leaves no well-formed final line — the caller then runs each check
    in its own fork."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child_setup(w)
        out: list[dict[str, Any]] = []
        try:
            try:
                module = load_module(module_path)
            except BaseException as exc:  # noqa: BLE001
                why = f"importing the submission failed: {describe_error(exc)}"
                out = [{"id": c["id"], "ok": False, "error": why} for c in checks]
            else:
                out = run_all(module, checks)
            data = (_dumps({"batch": out}) + "\n").encode()
            _flush()
        except BaseException:  # noqa: BLE001 - unserialisable results: let the careful path sort it out
            _exit(3)
        try:
            _write(w, data[:MAX_RESULT_BYTES])   # the final line supersedes anything written before
        finally:
            _exit(0)
    os.close(w)
    text, timed_out, status = _read_child(r, pid, time.monotonic() + limit)
    if timed_out or status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    lines = [ln for ln in text.split("\n") if ln.strip()]
    try:
        batch = json.loads(lines[-1])["batch"]
    except (IndexError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(batch, list) or [b.get("id") if isinstance(b, dict) else None for b in batch] != \
            [c["id"] for c in checks]:
        return None
    return lines[-1].strip()  # one valid JSON object without a newline: safe to embed in the channel line


def run_check_in_fork(module_path: str, check: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Fork; the child imports the submission and runs one check; the parent enforces the time limit."""
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: student code runs only here
        os.close(r)
        _child_setup(w)
        try:
            module = load_module(module_path)
            payload = {"id": check["id"], "ok": True, "values": run_ops(module, check["ops"])}
        except BaseException as exc:  # noqa: BLE001 - anything the student does is reported
            payload = {"id": check["id"], "ok": False, "error": describe_error(exc)}
        _flush()
        try:
            data = (_dumps(payload) + "\n").encode()
        except (TypeError, ValueError):
            data = (_dumps({"id": check["id"], "ok": False, "error": "result could not be serialised"}) + "\n").encode()
        try:
            _write(w, data[:MAX_RESULT_BYTES])   # written last: the parent keeps the last record
        finally:
            _exit(0)
    os.close(w)
    text, timed_out, status = _read_child(r, pid, start + timeout)
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
    return record


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


def grade_job(module_path: str, checks: list[dict[str, Any]], timeout: float, budget: float,
              emit: Any, emit_batch: Any) -> None:
    """All checks of one submission: the one-fork fast path (its line goes to ``emit_batch`` as it is),
    else import probe + one fork per check (each record to ``emit``)."""
    started = time.monotonic()
    batch = run_batch_in_fork(module_path, checks, timeout)
    if batch is not None:
        emit_batch(batch)
        return
    # careful path: import once on its own (a module that hangs, crashes or exits on import fails every
    # check once), then each check in its own fork with its own time limit
    verdict = run_check_in_fork(module_path, {"id": "__import__", "ops": []}, timeout)
    for check in checks:
        if not verdict.get("ok"):
            emit({"id": check["id"], "ok": False, "error": f"importing the submission failed: {verdict.get('error')}"})
        elif time.monotonic() - started > budget:
            emit({"id": check["id"], "ok": False,
                  "error": f"not run: the submission's time budget ({budget:g} s) is spent"})
        else:
            emit(run_check_in_fork(module_path, check, timeout))


def _prepare(plan: dict[str, Any]) -> None:
    _not_dumpable()
    for path in plan.get("sys_path", []):
        sys.path.insert(0, path)
    if plan.get("preload_torch"):
        import torch  # noqa: F401 - paid once, before the forks
    _preload()
    apply_limits(plan.get("limits", {}))
    global _FD_LIMIT
    import resource

    _FD_LIMIT = min(_FD_LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    os.environ.clear()
    os.environ.update({"HOME": plan.get("workdir", "/tmp"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                       "OMP_NUM_THREADS": "1"})


WIPE = ("/mnt/work", "/tmp", "/var/tmp", "/dev/shm", "/home", "/srv", "/work", "/run")


def _wipe() -> None:
    import shutil

    for base in WIPE:
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(base, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass


def _kill_everyone_else() -> None:
    """As the jail's PID 1: SIGKILL every other process in the namespace, and reap them all."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _tail(path: str, limit: int = 16384) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n… (truncated)" if len(data) > limit else "")


def serve(plan_path: str, control: int, channel: int) -> None:
    """Warm jail: numpy (and torch) imported once; each request is one submission, graded in forks; between
    submissions every process of the jail is killed and every writable folder emptied."""
    import base64

    global _JOB_OUTPUT
    with open(plan_path, encoding="utf-8") as fh:
        _prepare(json.load(fh))
    _wipe()  # and after each submission: the next one finds every writable folder empty
    checks: list[dict[str, Any]] = []
    reader = os.fdopen(control, "rb", buffering=0)
    buf = b""
    while True:
        chunk = reader.read(1 << 20)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            t0 = time.monotonic()
            job = json.loads(line)
            if "checks" in job:  # else the same checks as the last job (same key): sent once per run
                checks = job["checks"]
            token = job["job"]
            workdir = f"/mnt/work/job-{token}"
            os.mkdir(workdir, 0o700)
            module_path = f"{workdir}/submission.py"
            with open(module_path, "wb") as fh:
                fh.write(base64.b64decode(job["source"]))
            _JOB_OUTPUT = (f"{workdir}/.stdout", f"{workdir}/.stderr")
            os.chdir(workdir)

            def emit(record: dict[str, Any], token: str = token) -> None:
                os.write(channel, (json.dumps({**record, "job": token}) + "\n").encode())

            held: list[bytes] = []

            def emit_batch(line: str, token: str = token) -> None:
                # held back and written with "done": the grader wakes once per submission, not twice
                held.append(f'{{"job": "{token}", "result": {line}}}\n'.encode())

            t1 = time.monotonic()
            grade_job(module_path, checks, float(job["timeout"]), float(job["budget"]), emit, emit_batch)
            t2 = time.monotonic()
            _kill_everyone_else()
            done = {"job": token, "done": True, "stdout": _tail(_JOB_OUTPUT[0]), "stderr": _tail(_JOB_OUTPUT[1])}
            os.chdir("/")
            _wipe()
            done["seconds"] = {"setup": round(t1 - t0, 4), "checks": round(t2 - t1, 4),
                               "cleanup": round(time.monotonic() - t2, 4)}
            os.write(channel, b"".join(held) + (json.dumps(done) + "\n").encode())


def main() -> None:
    """``python harness.py PLAN.json CHANNEL_FD`` (one submission) or ``--serve PLAN.json CONTROL_FD CHANNEL_FD``."""
    if sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    plan_path, channel = sys.argv[1], int(sys.argv[2])
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    _prepare(plan)

    def emit(record: dict[str, Any]) -> None:
        os.write(channel, (json.dumps(record) + "\n").encode())

    def emit_batch(line: str) -> None:
        os.write(channel, f'{{"result": {line}}}\n'.encode())

    grade_job(plan["module"], plan["checks"], float(plan.get("timeout", 10)), float(plan.get("budget", 120)), emit,
              emit_batch)
    os.write(channel, b'{"done": true}\n')


if __name__ == "__main__":
    main()
    os._exit(0)  # no interpreter teardown: the jail ends as soon as the results are out

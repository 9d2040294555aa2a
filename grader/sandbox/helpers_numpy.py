"""Helpers of the numpy checks (and the plain-Python ones any check uses): seeding, setting a submission's arrays
where it keeps them, repeated calls, objectives and sequences built from plain data.

A helper is run by an ``exec`` op of a trusted plan, inside the jail, on the submission's objects; only plain data
it stores is ever returned (by ``return`` ops). Copied into the jail beside ops.py (jail.JAIL_FILES).
"""

from __future__ import annotations

import sys
from typing import Any

try:  # in the grader's process (benchmarks, tests)
    from grader.sandbox.ops import decode, _np, MODULE, describe_error
except ImportError:  # in the jail: the copies beside the harness
    from ops import decode, _np, MODULE, describe_error  # type: ignore[no-redef]


def _seed(env: dict[str, Any], seed: int) -> None:
    _np().random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


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


def _combination_view(env: dict[str, Any], obj: str, layer: str, returned: str, store: str) -> None:
    """9.11: where a LoRAManager may keep a combination of adapters — base_model[layer], each stored adapter's
    B @ A for that layer (in ``adapters``, 32 at most), and what combine_adapters returned."""
    np = _np()
    mgr = env[obj]
    deltas = []
    adapters = getattr(mgr, "adapters", None)
    for weights in list(adapters.values())[:32] if type(adapters) is dict else []:
        pair = weights.get(layer) if type(weights) is dict else None
        if type(pair) is dict and "A" in pair and "B" in pair:
            try:
                deltas.append(np.asarray(pair["B"], dtype=np.float64) @ np.asarray(pair["A"], dtype=np.float64))
            except (TypeError, ValueError):
                continue
    out = env.get(returned)
    if type(out) is dict:
        out = out.get(layer)
    base = getattr(mgr, "base_model", {})
    env[store] = {"deltas": deltas, "base": base.get(layer) if type(base) is dict else None,
                  "returned": out if hasattr(out, "shape") else None}


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


HELPERS = {
    "seed": _seed,
    "set_fit": _set_fit,
    "zero_if_present": _zero_if_present,
    "set_array_of_shape": _set_array_of_shape,
    "perturb_zero_arrays": _perturb_zero_arrays,
    "manager_view": _manager_view,
    "combination_view": _combination_view,
    "probe_levels": _probe_levels,
    "quadratic_train_step": _quadratic_train_step,
    "table_objective": _table_objective,
    "chunked": _chunked,
    "set_nested_of_shape": _set_nested_of_shape,
    "call_repeatedly": _call_repeatedly,
}

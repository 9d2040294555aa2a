"""The pieces a family's builder uses: typed reads of config keys, and a collector of leaf modules.

Every module gets its *role* here (what it does in the block), so that other code — the activation
model, the renderers — never guesses it from a module's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.model import ModuleSpec, Role
from peftcalc.errors import InputError

MAX_DIM = 10_000_000  # a sanity bound: no real config has a dimension near this


class Modules:
    """Collects ModuleSpecs in model order."""

    def __init__(self) -> None:
        self.items: list[ModuleSpec] = []

    def linear(self, name: str, fan_in: int, fan_out: int, *, bias: bool, role: Role, kind: str = "linear") -> None:
        params = {"weight": fan_in * fan_out, **({"bias": fan_out} if bias else {})}
        self.items.append(ModuleSpec(name, kind, fan_in, fan_out, params, role=role))  # type: ignore[arg-type]

    def embedding(self, name: str, num: int, dim: int, *, role: Role = "embedding") -> None:
        self.items.append(ModuleSpec(name, "embedding", num, dim, {"weight": num * dim}, role=role))

    def tied_embedding(self, name: str, num: int, dim: int, *, tied_to: str) -> None:
        """An embedding that is another module's weight (BART's per-stack embed_tokens and ``shared``)."""
        self.items.append(ModuleSpec(name, "embedding", num, dim, {"weight": num * dim}, tied_to=tied_to,
                                     role="embedding"))

    def norm(self, name: str, dim: int, *, bias: bool, weight: bool = True) -> None:
        params = {**({"weight": dim} if weight else {}), **({"bias": dim} if bias else {})}
        self.items.append(ModuleSpec(name, "norm", dim, dim, params, role="norm"))

    def head(self, name: str, fan_in: int, fan_out: int, *, tied_to: str | None, bias: bool = False) -> None:
        params = {"weight": fan_in * fan_out, **({"bias": fan_out} if bias else {})}
        self.items.append(ModuleSpec(name, "linear", fan_in, fan_out, params, tied_to=tied_to, role="head"))

    def lm_head(self, head: str, hidden: int, vocab: int, *, embedding: str, tied: bool) -> str | None:
        """A causal LM's ``lm_head`` (tied to ``embedding`` or not) when ``head`` is "causal_lm"; its name, or None."""
        if head != "causal_lm":
            return None
        self.head("lm_head", hidden, vocab, tied_to=embedding if tied else None)
        return "lm_head"

    def parameters(self, name: str, shapes: dict[str, tuple[int, ...]], *, role: Role, fan_in: int = 0,
                   fan_out: int = 0) -> None:
        """A module holding bare parameters (fused 3-D experts, a router's weight): no linear layer for peft."""
        params = {pname: _numel(shape) for pname, shape in shapes.items()}
        self.items.append(ModuleSpec(name, "other", fan_in, fan_out, params, role=role, shapes=tuple(shapes.items())))


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class Reader:
    """Typed access to config keys; every failure names the key."""

    def __init__(self, cfg: Mapping[str, Any], where: str) -> None:
        self.cfg = cfg
        self.where = where

    def int(self, *keys: str, default: int | None = None, minimum: int = 1) -> int:
        for key in keys:
            if key in self.cfg and self.cfg[key] is not None:
                value = self.cfg[key]
                if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_DIM:
                    raise InputError(f"{self.where}: {key}", value, f"an integer in [{minimum}, {MAX_DIM:,}]")
                return value
        if default is not None:
            return default
        raise InputError(f"{self.where}: {keys[0]}", "<missing>", "present in a config.json of this model type")

    def core(self) -> tuple[int, int, int, int]:
        """(hidden_size, num_attention_heads, num_hidden_layers, vocab_size): the keys most families share."""
        return (self.int("hidden_size"), self.int("num_attention_heads"), self.int("num_hidden_layers"),
                self.int("vocab_size"))

    def bool(self, key: str, default: bool) -> bool:
        value = self.cfg.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InputError(f"{self.where}: {key}", value, "true or false")
        return value

    def str(self, key: str, default: str) -> str:
        value = self.cfg.get(key, default)
        return default if value is None else str(value)


def attention_dims(rd: Reader) -> dict[str, int]:
    """hidden, heads, kv_heads, head_dim of a decoder config (GQA-aware; ``head_dim`` when the config sets it)."""
    hidden = rd.int("hidden_size")
    heads = rd.int("num_attention_heads")
    kv_heads = rd.int("num_key_value_heads", default=heads)
    head_dim = rd.int("head_dim", default=hidden // heads)
    if heads % kv_heads:
        raise InputError(f"{rd.where}: num_key_value_heads", kv_heads, f"a divisor of num_attention_heads = {heads}")
    return {"hidden": hidden, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim}

"""Helpers of the torch checks (Chapter 24): the small models the grader builds from its own weights, inputs,
parameters set and read, gradients.

A helper is run by an ``exec`` op of a trusted plan, inside the jail, on the submission's objects; only plain data
it stores is ever returned (by ``return`` ops). Copied into the jail beside ops.py (jail.JAIL_FILES).
"""

from __future__ import annotations

from typing import Any

try:  # in the grader's process (benchmarks, tests)
    from grader.sandbox.ops import decode
except ImportError:  # in the jail: the copies beside the harness
    from ops import decode  # type: ignore[no-redef]


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
    for mod in env[model].modules():
        for name, p in mod.named_parameters(recurse=False):
            if name == "weight" and p.dim() == 2 and tuple(p.shape) == (32, 16):
                env[store] = p.detach().clone()
                return
    raise AttributeError("no 32×16 weight found for the first layer")


def _linear(env: dict[str, Any], name: str, fan_in: int, fan_out: int) -> None:
    import torch

    env[name] = torch.nn.Linear(fan_in, fan_out)


def _tensor_input(env: dict[str, Any], name: str, value: Any) -> None:
    env[name] = decode(value, env)


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


HELPERS = {
    "linear": _linear,
    "tensor_input": _tensor_input,
    "set_param": _set_param,
    "perturb_lora_B": _perturb_lora_b,
    "torch_model": _torch_model,
    "count_modules": _count_modules,
    "call_model": _call_model,
    "first_weight": _first_weight,
    "mlp": _mlp,
    "requires_grad": _requires_grad,
    "backward_grads": _backward_grads,
    "block_model": _block_model,
    "trainable_blocks": _trainable_blocks,
}

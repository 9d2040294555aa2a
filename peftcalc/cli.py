"""``peftcalc`` command line: parse, call one library function, render. Nothing is computed here.

Errors the user can fix (``PeftcalcError``, bad flags) print one line on stderr and exit 2; anything
else is a bug: one line, exit 1 (``PEFTCALC_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal

from peftcalc.errors import PeftcalcError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2) instead of the usage block."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\n")


def strict_int(text: str) -> int:
    """An integer written as digits (``1e30`` or ``3.5`` are refused, not rounded)."""
    cleaned = text.replace("_", "").replace(",", "")
    try:
        return int(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def name_list(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"must be comma-separated names, got {text!r}")
    return items


def _add_pydantic_options(parser: argparse.ArgumentParser, config: Any) -> None:
    """One flag per field of a method's pydantic config: type, default and help come from the field."""
    for name, field in config.model_fields.items():
        flag = "--" + name.replace("_", "-")
        ann = field.annotation
        args = typing.get_args(ann)
        if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
            ann = next(a for a in args if a is not type(None))
            args = typing.get_args(ann)
        default = field.default
        helptext = f"{field.description} (default: {default})"
        if ann is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=helptext)
        elif ann is int:
            parser.add_argument(flag, type=strict_int, default=argparse.SUPPRESS, metavar="N", help=helptext)
        elif ann is float:
            parser.add_argument(flag, type=finite_float, default=argparse.SUPPRESS, metavar="X", help=helptext)
        elif typing.get_origin(ann) is Literal:
            parser.add_argument(flag, choices=list(args), default=argparse.SUPPRESS, help=helptext)
        elif typing.get_origin(ann) is list:
            parser.add_argument(flag, type=name_list, default=argparse.SUPPRESS, metavar="A,B", help=helptext)
        else:  # pragma: no cover - a new field type needs a parser here
            raise TypeError(f"no CLI parser for {name}: {ann}")


def _add_arch_options(parser: argparse.ArgumentParser, *, matrix: bool = True) -> None:
    group = parser.add_argument_group("model (one of)")
    group.add_argument("--model", metavar="NAME", help="a preset (peftcalc model --list), a Hugging Face id "
                       "(meta-llama/Llama-3.1-8B) or alias, or a model in the local Hugging Face cache (no downloads)")
    group.add_argument("--config", metavar="PATH", help="a Hugging Face config.json, or a model folder holding one")
    group.add_argument("--via", choices=("families", "transformers"), default=argparse.SUPPRESS,
                       help="how to read the model: peftcalc's own family files (default, no torch) or the installed "
                            "transformers on the meta device (any model type; needs peftcalc[hf])")
    if matrix:
        group.add_argument("--d", type=strict_int, metavar="N", help="matrix-level: rows of W (out_features)")
        group.add_argument("--k", type=strict_int, metavar="N", help="matrix-level: columns of W (in_features; default d)")
        group.add_argument("--layers", type=strict_int, metavar="N", help="matrix-level: layers (default 1)")
        group.add_argument("--matrices", type=strict_int, metavar="N", help="matrix-level: matrices per layer (default 1)")
        group.add_argument("--heads", type=strict_int, metavar="N", help="matrix-level: attention heads (default 1)")


def _arch_kwargs(ns: argparse.Namespace) -> dict[str, Any]:
    keys = ("model", "config", "d", "k", "layers", "matrices", "heads", "via")
    return {key: getattr(ns, key) for key in keys if hasattr(ns, key)}


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


# --- handlers: each parses nothing, calls the library, renders -----------------------------------

def _run_method(ns: argparse.Namespace) -> int:
    from peftcalc.calc import params
    from peftcalc.methods import REGISTRY

    config_cls = REGISTRY[ns.method].config
    options = {name: getattr(ns, name) for name in config_cls.model_fields if hasattr(ns, name)}
    result = params(ns.method, **_arch_kwargs(ns), **options)
    if ns.json:
        _print_json(result.to_json())
    elif ns.latex:
        import sympy

        sys.stdout.write(sympy.latex(result.formula) + "\n")
    else:
        from peftcalc.render import render_params

        render_params(result, _console())
    return EXIT_OK


def _run_compare(ns: argparse.Namespace) -> int:
    from peftcalc.calc import compare, resolve_arch
    from peftcalc.methods import REGISTRY
    from peftcalc.result import Result

    if ns.convention == "seed003":
        return _run_seed_compare(ns)

    arch = resolve_arch(**_arch_kwargs(ns))
    options = {k: v for k, v in (("r", ns.r), ("targets", ns.targets)) if v is not None}
    results = compare(options, **_arch_kwargs(ns))
    memory = _compare_memory(arch, results, options, ns.seq) if ns.memory else {}
    if ns.json:
        methods = {}
        for name, item in zip(REGISTRY, results, strict=True):
            methods[name] = item.to_json() if isinstance(item, Result) else {"error": str(item)}
            if name in memory:
                methods[name]["memory"] = memory[name]
        _print_json({"model": arch.name, "base_params": arch.total_params, "options": options, "methods": methods}
                    | ({"full_memory": memory["full"]} if "full" in memory else {}))
        return EXIT_OK
    from peftcalc.render import render_compare

    titled = [(REGISTRY[name].title, item) for name, item in zip(REGISTRY, results, strict=True)]
    render_compare(arch.name, titled, _console(), memory=[memory.get(name) for name in REGISTRY] if ns.memory else None, options=options)
    return EXIT_OK


def _compare_memory(arch: Any, results: list[Any], options: dict[str, Any], seq: int) -> dict[str, dict[str, int]]:
    """Each method's training memory at batch 1 (bf16 base, flash attention), the same options as its count."""
    from peftcalc.errors import PeftcalcError
    from peftcalc.methods import REGISTRY
    from peftcalc.result import Result
    from peftcalc.training import make_memory_config, training_memory

    out: dict[str, dict[str, int]] = {}
    for name, item in zip(REGISTRY, results, strict=True):
        if not isinstance(item, Result):
            continue
        fields = REGISTRY[name].config.model_fields
        mine = {k: v for k, v in options.items() if k in fields}
        try:
            est = training_memory(arch, make_memory_config(method=name, seq=seq), **(mine if name != "full" else {}))
        except PeftcalcError:
            continue  # a method the memory model cannot size here keeps its count
        out[name] = {"total_bytes": est.total_bytes, "device_bytes": est.device_bytes}
    return out


def _run_seed_compare(ns: argparse.Namespace) -> int:
    from peftcalc.matrix import SEED003_NOTE, seed_compare

    if ns.model or ns.config:
        from peftcalc.errors import InputError

        raise InputError("--convention", "seed003", "used with --d/--layers/--heads (the seed's d_model, num_layers, num_heads)")
    dims = {"d_model": ns.d or 4096, "num_layers": ns.layers or 32, "num_heads": ns.heads or 32}
    table = seed_compare(**dims)
    if ns.json:
        _print_json({"convention": "seed003", "note": SEED003_NOTE, **dims,
                     "methods": {name: {"params": n, "ratio": float(ratio)} for name, (n, ratio) in table.items()}})
        return EXIT_OK
    from peftcalc.render import render_seed_compare

    render_seed_compare(dims, table, SEED003_NOTE, _console())
    return EXIT_OK


def _run_model(ns: argparse.Namespace) -> int:
    from peftcalc.arch import list_presets, load_preset
    from peftcalc.arch.model import module_groups
    from peftcalc.arch.presets import preset_config

    if ns.list:
        rows = []
        for name in list_presets():
            arch = load_preset(name)
            rows.append({"name": name, "model_type": arch.model_type, "params": arch.total_params,
                         "hidden": arch.hidden_size, "layers": arch.num_layers + arch.num_decoder_layers,
                         "heads": f"{arch.num_attention_heads} ({arch.num_key_value_heads})",
                         "hub_id": str(preset_config(name).get("_name_or_path", ""))})
        if ns.json:
            _print_json({"presets": rows})
        else:
            from peftcalc.render import render_presets

            render_presets(rows, _console())
        return EXIT_OK
    from peftcalc.calc import resolve_arch

    arch = resolve_arch(model=ns.model, config=ns.config, via=getattr(ns, "via", "families"))
    groups = module_groups(arch)
    if ns.json:
        _print_json({
            "model": arch.name, "model_type": arch.model_type, "total_params": arch.total_params,
            "bias_params": arch.bias_params, "breakdown": {g["group"]: g["params"] for g in groups}, "modules": groups,
            "source": arch.source, "notes": list(arch.notes),
        })
    else:
        from peftcalc.render import render_model

        console = _console()
        render_model(arch, groups, console)
        for note in arch.notes:  # a head not modelled, the cache the config came from
            console.print(f"• {note}")
    return EXIT_OK


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``command``, only that method's options are built (the others get a
    bare subparser), so ``peftcalc lora …`` does not import every method module."""
    from peftcalc.methods import REGISTRY

    parser = _Parser(
        prog="peftcalc",
        description="Exact parameter counts for parameter-efficient fine-tuning, with the formula shown.",
        epilog="examples:\n  peftcalc lora --d 4096 --r 8\n  peftcalc lora --model llama-2-7b --r 16 --targets all-linear\n"
               "  peftcalc compare --model mistral-7b\n  peftcalc model --list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    wanted = command.replace("-", "_") if command else None
    for name in REGISTRY:
        aliases = [name.replace("_", "-")] if "_" in name else []
        if wanted in REGISTRY and name != wanted:
            sub.add_parser(name, aliases=aliases)
            continue
        method = REGISTRY[name]
        p = sub.add_parser(name, aliases=aliases, help=f"{method.title}: {method.summary}",
                           description=f"{method.title} — formula {method.formula}. {method.paper}.")
        _add_arch_options(p)
        _add_pydantic_options(p, method.config)
        out = p.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true", help="print one JSON object")
        out.add_argument("--latex", action="store_true", help="print the formula as LaTeX")
        p.set_defaults(handler=_run_method, method=name)
    p = sub.add_parser("compare", help="every method side by side on one model")
    _add_arch_options(p)
    p.add_argument("--r", type=strict_int, help="rank, for every method that has one (like for like)")
    p.add_argument("--targets", type=name_list, help="target modules, for every method that takes them")
    p.add_argument("--memory", action="store_true", help="also each method's training memory (batch 1, --seq)")
    p.add_argument("--seq", type=strict_int, default=2048, help="with --memory: tokens per sequence (default 2048)")
    p.add_argument("--convention", choices=["peft", "seed003"], default="peft",
                   help="peft: real counts (default); seed003: seed 003's compare_peft_methods "
                        "(full = attention weights only; defaults d=4096, 32 layers, 32 heads)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_run_compare)
    from peftcalc.cli_sizing import add_commands

    add_commands(sub, strict_int=strict_int, finite_float=finite_float, name_list=name_list, add_arch=_add_arch_options)
    from peftcalc.verify.cli import add_command as add_verify_command

    add_verify_command(sub, name_list=name_list, strict_int=strict_int, add_arch=_add_arch_options)
    from answers.cli import add_command as add_answer_command

    add_answer_command(sub)
    from peftcalc.experiments.cli import add_command as add_experiment_command

    add_experiment_command(sub, strict_int=strict_int, name_list=name_list)
    from grader.cli import add_command as add_grade_command

    add_grade_command(sub)
    p = sub.add_parser("model", help="an architecture's exact parameter count, by module")
    _add_arch_options(p, matrix=False)
    p.add_argument("--list", action="store_true", help="list the bundled presets")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_run_model)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # pydantic scans every installed distribution's entry points for plugins on first validation
    # (~17 ms of a ~1 s start); the CLI uses none. An explicit user setting wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args[0] if args else None)
    ns = parser.parse_args(args)
    handler: Callable[[argparse.Namespace], int] | None = getattr(ns, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_INPUT
    try:
        return handler(ns)
    except PeftcalcError as exc:
        sys.stderr.write(f"peftcalc {ns.command}: error: {exc}\n")
        return EXIT_INPUT
    except BrokenPipeError:  # e.g. `peftcalc model --list | head`
        return EXIT_OK
    except Exception as exc:  # a bug: say so in one line, keep the traceback for those who ask
        if os.environ.get("PEFTCALC_DEBUG"):
            raise
        sys.stderr.write(f"peftcalc: internal error: {exc.__class__.__name__}: {exc} (PEFTCALC_DEBUG=1 shows more)\n")
        return EXIT_INTERNAL


def entry_point() -> None:  # pragma: no cover - exercised by the subprocess tests
    """The ``peftcalc`` console script: run, flush, and leave without the interpreter's teardown.

    Tearing down sympy's and pydantic's module state costs ~150 ms after the answer is printed —
    as much as the calculation itself. Nothing of ours needs finalizers or atexit hooks.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry_point()

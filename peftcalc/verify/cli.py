"""``peftcalc verify``: parse, run the checks, print the report (no torch import until it runs)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from peftcalc.errors import InputError, PeftcalcError


def add_command(sub: Any, *, name_list: Any, strict_int: Any, add_arch: Any) -> None:
    from peftcalc.verify import GROUP_NAMES

    p = sub.add_parser("verify", help="check the formulas against real torch layers, memory and the real peft",
                       description="Build real torch modules and check peftcalc's symbolic models against them: "
                                   "counts, identity at init, merge equivalence, gradients, NF4 bytes, memory, "
                                   "activations; CUDA peak memory when a GPU is present; the real transformers + "
                                   "peft with --against-peft. Needs the torch extra.",
                       epilog="examples:\n  peftcalc verify\n  peftcalc verify --model llama-2-7b --method lora "
                              "--r 16 --targets all-linear\n  peftcalc verify --against-peft --model gpt2\n"
                              "  peftcalc verify --memory --json",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arch(p, matrix=False)
    p.add_argument("--method", choices=["lora", "qlora", "dora", "ia3", "adapter", "prefix_tuning", "prompt_tuning"],
                   help="with --model/--config: check this method's count (and memory) on that model")
    p.add_argument("--r", type=strict_int, help="LoRA/DoRA rank")
    p.add_argument("--targets", type=name_list, help="module names, or all-linear")
    p.add_argument("--tokens", type=strict_int, help="virtual tokens (prefix/prompt tuning)")
    p.add_argument("--bottleneck", type=strict_int, help="adapter bottleneck")
    p.add_argument("--batch", type=strict_int, default=None, help="sequences per step for the activation and CUDA "
                   "memory checks (default 2 on CPU, 4 on CUDA)")
    p.add_argument("--seq", type=strict_int, default=None, help="tokens per sequence for those checks (default 64 "
                   "on CPU, 512 on CUDA)")
    p.add_argument("--only", type=name_list, metavar="GROUP,…", help="run only these groups: " + ", ".join(GROUP_NAMES))
    p.add_argument("--memory", action="store_true", help="only the memory groups: memory, activations, step, cuda")
    p.add_argument("--against-peft", action="store_true",
                   help="also compare counts with the real transformers + peft (needs the hf extra); "
                        "the named model, or every preset")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    from peftcalc.verify import GROUP_NAMES, torch_missing

    missing = torch_missing()
    if missing:
        raise PeftcalcError(missing)
    from peftcalc.calc import resolve_arch

    arch = resolve_arch(model=ns.model, config=ns.config) if (ns.model or ns.config) else None
    if ns.method and arch is None:
        raise InputError("--method", ns.method, "used with --model or --config")
    options = {k: v for k, v in (("r", ns.r), ("targets", ns.targets), ("tokens", ns.tokens),
                                 ("bottleneck", ns.bottleneck)) if v is not None}
    if options and not ns.method:
        raise InputError("--" + next(iter(options)), next(iter(options.values())), "used with --method")
    groups = list(GROUP_NAMES)
    if ns.memory:
        groups = ["memory", "activations", "step", "cuda"]
    if ns.only:
        unknown = [g for g in ns.only if g not in GROUP_NAMES]
        if unknown:
            raise InputError("--only", unknown[0], "one of " + ", ".join(GROUP_NAMES))
        groups = [g for g in GROUP_NAMES if g in ns.only]
    if arch is not None and not ns.only and not ns.memory:
        groups = ["counts", "memory"]
    configs = _peft_configs(ns) if ns.against_peft else []
    from peftcalc.verify import run as run_checks

    progress = None if ns.json or not sys.stderr.isatty() else _progress()
    for name in ("batch", "seq"):
        value = getattr(ns, name)
        if value is not None and not 1 <= value <= 65536:
            raise InputError(f"--{name}", value, "between 1 and 65,536")
    checks = run_checks(groups, arch=arch, method=ns.method, options=options, peft_configs=configs,
                        batch=ns.batch, seq=ns.seq,
                        on_group=(lambda g: progress.update(f"checking {g}…")) if progress else None)
    if progress:
        progress.stop()
    failed = [c for c in checks if c.status == "fail"]
    if ns.json:
        import torch

        print(json.dumps({"ok": not failed, "device": _device(torch), "passed": sum(c.status == "pass" for c in checks),
                          "failed": len(failed), "skipped": sum(c.status == "skip" for c in checks),
                          "checks": [c.to_json() for c in checks]}, indent=2, default=str))
    else:
        _render(checks)
    return 1 if failed else 0


def _device(torch: Any) -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu (no CUDA device)"


def _peft_configs(ns: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    from peftcalc.arch.presets import list_presets, preset_config
    from peftcalc.verify.hf_peft import available

    why = available()
    if why:
        raise PeftcalcError(f"--against-peft needs the hf extra: {why}")
    if ns.config:
        with open(ns.config, encoding="utf-8") as fh:
            return [(ns.config, json.load(fh))]
    names = [ns.model] if ns.model else list_presets()
    return [(name, dict(preset_config(name))) for name in names]


class _progress:
    """A one-line status on stderr while the groups run."""

    def __init__(self) -> None:
        from rich.console import Console

        self.status = Console(stderr=True).status("starting…")
        self.status.start()

    def update(self, text: str) -> None:
        self.status.update(text)

    def stop(self) -> None:
        self.status.stop()


def _render(checks: list[Any]) -> None:
    import torch
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"peftcalc verify — {_device(torch)}, torch {torch.__version__}", title_justify="left")
    table.add_column("group")
    table.add_column("check", overflow="fold")
    table.add_column("result")
    table.add_column("numbers", overflow="fold")
    style = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]skip[/]"}
    for c in checks:
        table.add_row(c.group, c.name, style[c.status], c.detail)
    console.print(table)
    counts = {s: sum(c.status == s for c in checks) for s in ("pass", "fail", "skip")}
    console.print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")

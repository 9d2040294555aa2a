"""``peftcalc experiment NAME``: parse, run the experiment, render (torch is imported only when one runs)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from peftcalc.errors import InputError, PeftcalcError

MINIPROJECT_HELP = """\
Stage 9's mini-project, the staff's reference run. LoRA from scratch (a wrapper of nn.Linear with
merge/unmerge; the run checks merged == unmerged), a small llama-style transformer (2 layers, d_model 64,
rows of an image as tokens) PRETRAINED on next-row prediction over the digits 0-4, then FINE-TUNED to
classify the digits 5-9: full fine-tuning, LoRA r=4 and r=16 (the seed's table), the sweep
r = 1, 2, 4, 8, 16, 32, 64, and QLoRA (the frozen base in NF4). Accuracy is mean ± sample std over the
seeds on a held-out test split; every trainable count is checked against peftcalc's own.

Data: scikit-learn's bundled digits (sklearn.datasets.load_digits: 1,797 8x8 images, part of the
scikit-learn wheel; nothing is downloaded). Needs the torch extra: pip install 'peftcalc[torch]'
(torch 2.13.0 and scikit-learn). 4-7 minutes on 2 cores; --quick about half a minute."""


def add_command(sub: Any, *, strict_int: Any = int, name_list: Any = None) -> None:
    p = sub.add_parser("experiment", help="reference runs that train real models (needs the torch extra)",
                       description="Reference runs that train real models with torch. Needs the torch extra.")
    experiments = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=type(p))
    m = experiments.add_parser("miniproject", help="Stage 9 mini-project: LoRA vs full fine-tuning, rank sweep, QLoRA",
                               description=MINIPROJECT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                               epilog="examples:\n  peftcalc experiment miniproject --quick\n"
                                      "  peftcalc experiment miniproject --plot sweep.png\n"
                                      "  peftcalc experiment miniproject --json > miniproject.json")
    m.add_argument("--quick", action="store_true", help="3 seeds, fewer steps, ranks 1/4/16/64, QLoRA r=16 only, "
                   "no baselines (about half a minute on 2 cores)")
    m.add_argument("--seeds", type=strict_int, metavar="N", help="run seeds 0..N-1 (default 5; --quick 3)")
    m.add_argument("--targets", type=name_list or (lambda text: text.split(",")), metavar="A,B", help="modules LoRA adapts: names among q_proj, k_proj, v_proj, o_proj, "
                   "gate_proj, up_proj, down_proj, or all-linear (default q_proj,v_proj)")
    m.add_argument("--threads", type=strict_int, metavar="N", help="torch intra-op threads (default 1: results do not "
                   "depend on the machine)")
    m.add_argument("--plot", metavar="PATH", help="write the rank sweep as a PNG")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    m.set_defaults(handler=run_miniproject)
    p.set_defaults(handler=lambda ns: _no_experiment(p))


def _no_experiment(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_miniproject(ns: argparse.Namespace) -> int:
    from peftcalc.experiments import missing_dependency

    for name in ("seeds", "threads"):
        value = getattr(ns, name)
        if value is not None and not 1 <= value <= 64:
            raise InputError(f"--{name}", value, "between 1 and 64")
    missing = missing_dependency()
    if missing:
        raise PeftcalcError(missing)
    from peftcalc.experiments import miniproject

    settings = miniproject.settings_for(quick=ns.quick, seeds=ns.seeds, targets=ns.targets, threads=ns.threads)
    miniproject.validate(settings)  # InputError naming the flag
    progress = _Progress(settings.runs()) if sys.stderr.isatty() else None
    try:
        result = miniproject.run(settings, on_run=progress.advance if progress else None)
    finally:
        if progress:
            progress.stop()
    if ns.plot:
        from peftcalc.experiments.plot import write_sweep_png

        write_sweep_png(ns.plot, result)
        result["plot"] = ns.plot
    if ns.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        render(result)
    return 0


class _Progress:
    """A progress bar on stderr: one step per training run."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("training…", total=total)
        self.bar.start()

    def advance(self, label: str) -> None:
        self.bar.update(self.task, advance=1, description=label)

    def stop(self) -> None:
        self.bar.stop()


def _acc(row: dict[str, Any]) -> str:
    return f"{100 * row['accuracy']:.2f} ± {100 * row['accuracy_std']:.2f}"


def _range(row: dict[str, Any]) -> str:
    return f"{100 * row['accuracy_min']:.2f}–{100 * row['accuracy_max']:.2f}"


def render(result: dict[str, Any], console: Any = None) -> None:
    """The seed's table, the sweep, QLoRA and the baselines as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(highlight=False)
    model, data = result["model"], result["data"]
    seeds = result["rows"][0]["seeds"]
    finetune = data["finetune"]
    console.print(f"[bold]Stage 9 mini-project[/] — {data['package']} {data['version']} {data['loader']}: pretrain "
                  f"on digits 0–4 ({data['pretrain']['images']} images, next-row prediction), fine-tune to classify "
                  f"5–9 ({finetune['train']} train / {finetune['test']} test images). Model: llama, "
                  f"{model['config']['num_hidden_layers']} layers, d_model {model['config']['hidden_size']}, "
                  f"{model['total_params']:,} parameters. LoRA on {', '.join(model['lora_targets'])} "
                  f"(α = {model['lora_alpha']:g}; the score head trained in full).")
    total = model["total_params"]

    def table(title: str, rows: list[dict[str, Any]], first: str = "Method") -> Table:
        t = Table(title=title, title_justify="left")
        t.add_column(first)
        t.add_column("Params", justify="right")
        t.add_column("% model", justify="right")
        t.add_column("Accuracy %", justify="right")
        t.add_column("min–max", justify="right")
        for row in rows:
            t.add_row(row["title"], f"{row['params']:,}", f"{100 * row['params'] / total:.2f}", _acc(row), _range(row))
        return t

    console.print(table(f"The seed's table: trainable params (== peftcalc's count), test accuracy mean ± std "
                        f"over {len(seeds)} seeds", result["rows"]))
    console.print(table("Rank vs performance (LoRA)", result["sweep"], "Rank"))
    q = result["qlora"]
    if q["rows"]:
        b = q["base_bytes_detail"]
        console.print(table("QLoRA: the frozen base in NF4", q["rows"]))
        console.print(f"NF4 base: {b['total']:,} B ({b['nf4_data']:,} packed + {b['nf4_constants']:,} constants + "
                      f"{b['fp32_kept']:,} fp32 embedding/norms) vs {b['fp32_base']:,} B in fp32 "
                      f"({b['fp32_base'] / b['total']:.1f}× smaller; == peftcalc.quant)")
    if result["baselines"]:
        console.print(table("Baselines", result["baselines"]))
    merge = max(row["merge_max_abs_diff"] for row in result["sweep"])
    console.print(f"Merged == unmerged: max |Δlogit| {merge:.2g} over every LoRA run. {result['spread']}. "
                  f"{result['seconds']:.0f} s" + (f"; plot: {result['plot']}" if result.get("plot") else ""))

"""Rendering of the sizing commands: breakdown tables in GB and GiB, a terminal bar chart, verdicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from peftcalc.units import format_bytes, format_count

if TYPE_CHECKING:
    from rich.console import Console

    from peftcalc.arch.model import Arch
    from peftcalc.known import Verdict
    from peftcalc.training import MemoryEstimate
    from peftcalc.quant import ModelStorage
    from peftcalc.solve import Solution

_BAR_WIDTH = 24


def bar(value: int, largest: int) -> str:
    """A proportional bar of block characters (eighths for the last cell)."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = round(8 * _BAR_WIDTH * value / largest)
    full, rest = divmod(max(eighths, 1), 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")


def _gb(n: int) -> str:
    return f"{n / 1e9:,.3f}"


def _gib(n: int) -> str:
    return f"{n / 2**30:,.3f}"


def render_memory(est: MemoryEstimate, gpu: int | None, console: Console) -> None:
    from rich.table import Table

    where = f", at the step's peak: {est.peak_phase}" if est.peak_phase else ""
    table = Table(title=f"Training memory: {est.method} on {est.model} (per GPU{where})",
                  title_justify="left", show_footer=True)
    table.add_column("component", footer="total (peak allocated)", no_wrap=True)
    table.add_column("GB", justify="right", footer=_gb(est.total_bytes), no_wrap=True)
    table.add_column("GiB", justify="right", footer=_gib(est.total_bytes), no_wrap=True)
    table.add_column("", no_wrap=True)
    largest = max(est.breakdown.values(), default=0)
    for name, comp in est.components.items():
        table.add_row(name, _gb(comp.bytes), _gib(comp.bytes), f"[cyan]{bar(comp.bytes, largest)}[/cyan]")
    console.print(table)
    console.print(f"total {format_count(est.total_bytes)} bytes; trainable parameters "
                  f"{format_count(est.trainable_params)} of {format_count(est.base_params)}")
    for name, comp in est.components.items():
        console.print(f"  {name}: {comp.formula} = {format_count(comp.bytes)} B")
    _render_levels(est, console)
    if est.phases:
        console.print("phases of the step (peak allocated in each):")
        for phase in est.phases:
            mark = " ◀ peak" if phase.name == est.peak_phase else ""
            console.print(f"  {phase.name}: {format_bytes(phase.total_bytes)}{mark}")
    if gpu is not None:
        ok, headroom = est.fits(gpu)
        verdict = (f"[green]fits[/green], headroom {format_bytes(headroom)}" if ok
                   else f"[red]does not fit[/red], short by {format_bytes(-headroom)}")
        console.print(f"GPU {format_bytes(gpu)}: {verdict} (judged on the device level, context included)")
    for note in est.assumptions:
        console.print(f"[dim]• {note}[/dim]")


def _render_levels(est: MemoryEstimate, console: Console) -> None:
    from peftcalc.overheads import LEVELS

    for key, value in (("total_bytes", est.total_bytes), ("reserved_bytes", est.reserved_bytes),
                       ("device_bytes", est.device_bytes)):
        console.print(f"{key}: {format_bytes(value)} — {LEVELS[key]}")
    if est.host_bytes:
        console.print(f"host_bytes: {format_bytes(est.host_bytes)} — offloaded to CPU RAM")


def render_solution(sol: Solution, console: Console) -> None:
    if sol.estimate is None:
        console.print(f"[red]nothing fits[/red]: even {sol.name} = 1 needs "
                      f"{format_bytes(sol.next_estimate.device_bytes if sol.next_estimate else 0)} on the device, "
                      f"more than {format_bytes(sol.capacity_bytes)}")
        return
    console.print(f"largest {sol.name} that fits {format_bytes(sol.capacity_bytes)}: [bold]{sol.value:,}[/bold]"
                  + (f" ({sol.name} = {sol.value + 1:,} would need {format_bytes(sol.next_estimate.device_bytes)})"
                     if sol.next_estimate else ""))
    render_memory(sol.estimate, sol.capacity_bytes, console)


def memory_html(est: MemoryEstimate) -> str:
    """A notebook's view of an estimate: the breakdown and the three levels as an HTML table."""
    from html import escape

    rows = "".join(f"<tr><td>{escape(k)}</td><td style='text-align:right'>{v / 1e9:,.3f}</td></tr>"
                   for k, v in est.breakdown.items())
    levels = "".join(f"<tr><td><b>{k}</b></td><td style='text-align:right'>{v / 1e9:,.3f}</td></tr>"
                     for k, v in (("total_bytes", est.total_bytes), ("reserved_bytes", est.reserved_bytes),
                                  ("device_bytes", est.device_bytes)))
    return (f"<table><caption>{escape(est.method)} on {escape(est.model)}: peak at {escape(est.peak_phase)} "
            f"(GB)</caption>{rows}{levels}</table>")


def render_quant(arch: Arch, storage: ModelStorage, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{arch.name} weights in {storage.dtype}" + (" + double quantization" if storage.double_quant else ""),
                  title_justify="left", show_footer=True)
    table.add_column("part", footer="total")
    table.add_column("params", justify="right", footer=format_count(storage.quantized_params + storage.kept_params))
    table.add_column("bytes", justify="right", footer=format_count(storage.total_bytes))
    table.add_column("GB", justify="right", footer=_gb(storage.total_bytes))
    table.add_column("GiB", justify="right", footer=_gib(storage.total_bytes))
    if storage.quantized_params:
        table.add_row(f"linear weights ({storage.dtype})", format_count(storage.quantized_params),
                      format_count(storage.data_bytes), _gb(storage.data_bytes), _gib(storage.data_bytes))
        table.add_row("block constants (absmax / scales)", "", format_count(storage.constant_bytes),
                      _gb(storage.constant_bytes), _gib(storage.constant_bytes))
    table.add_row(f"kept in {storage.compute_dtype} (embeddings, head, norms, biases)" if storage.quantized_params
                  else f"all weights ({storage.compute_dtype})", format_count(storage.kept_params),
                  format_count(storage.kept_bytes), _gb(storage.kept_bytes), _gib(storage.kept_bytes))
    console.print(table)
    console.print(f"{float(storage.bits_per_param):.4f} bits per parameter over the whole model")
    if storage.dtype in ("nf4", "fp4"):
        from peftcalc.quant import seed_nf4_bytes

        flat = int(seed_nf4_bytes(arch.total_params))
        console.print(f"[dim]• seeds' convention (4.5 bits on every parameter): {format_bytes(flat)}; the exact "
                      f"figure differs because embeddings/head stay 16-bit and the constants are per block[/dim]")


def render_cost(out: dict[str, Any], console: Console) -> None:
    if "break_even" in out:
        be = out["break_even"]
        console.print(f"per query, prompted: {be['prompt_input_tokens']:,} input tokens → ${be['prompted_cost_usd']:.6g}")
        console.print(f"per query, fine-tuned: {be['finetuned_input_tokens']:,} input tokens → ${be['finetuned_cost_usd']:.6g}")
        console.print(f"saving per query: ${be['saving_per_query_usd']:.6g}")
        if be["break_even_queries"] is None:
            console.print("[red]fine-tuning never pays off: it saves nothing per query[/red]")
        else:
            console.print(f"break-even after [bold]{be['break_even_queries']:,}[/bold] queries"
                          + (f" = [bold]{be['break_even_days']:.4g}[/bold] days" if be["break_even_days"] is not None else ""))
    if "prompt_overhead" in out:
        po = out["prompt_overhead"]
        console.print(f"prompt overhead: {po['tokens_per_day']:,.0f} tokens/day (4/3 tokens per word) → "
                      f"${po['usd_per_day']:,.2f}/day, ${po['usd_per_year']:,.0f}/year")
    if "storage" in out:
        _render_storage(out["storage"], console)
    if "training" in out:
        tr = out["training"]
        console.print(f"training compute ({tr['method']}): {tr['flops_per_param_token']:.3g}·N·D = {tr['flops']:.4g} FLOPs "
                      f"(N = {tr['params']:,}, trained {tr['trainable_params']:,}, D = {tr['tokens']:,}) → "
                      f"{tr['gpu_hours']:,.1f} GPU-hours at {tr['peak_tflops']:g} TFLOP/s × MFU {tr['mfu']:g}, "
                      f"{tr['tokens_per_second']:,.0f} tokens/s" + (f" → ${tr['usd']:,.2f}" if tr["usd"] is not None else ""))


def _render_storage(st: dict[str, Any], console: Console) -> None:
    console.print(f"storage of {st['tasks']} tasks ({st['dtype']}): one base + {st['tasks']} adapters = "
                  f"{format_bytes(st['base_plus_adapters_bytes'])} vs {st['tasks']} full checkpoints = "
                  f"{format_bytes(st['full_checkpoints_bytes'])} ({st['ratio']:,.2f}× less)")


def render_inference(data: dict[str, Any], console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"Serving memory: {data['model']}", title_justify="left", show_footer=True)
    table.add_column("component", footer="total")
    table.add_column("bytes", justify="right", footer=format_count(data["total_bytes"]))
    table.add_column("GB", justify="right", footer=_gb(data["total_bytes"]))
    table.add_column("GiB", justify="right", footer=_gib(data["total_bytes"]))
    table.add_column("")
    largest = max(data["breakdown"].values())
    for name, n in data["breakdown"].items():
        table.add_row(name, format_count(n), _gb(n), _gib(n), f"[cyan]{bar(n, largest)}[/cyan]")
    console.print(table)
    if data["unmerged_lora_flop_overhead"] is not None:
        console.print(f"unmerged LoRA: +{data['unmerged_lora_flop_overhead'] * 100:.3f} % linear-layer FLOPs per token; "
                      "merged: +0 % (W + BA is one matrix)")
    console.print(f"weights in {data['weights_dtype']}; KV cache {format_count(data['kv_bytes_per_token'])} B per token; "
                  f"device (reserve + CUDA context) {format_bytes(data['device_bytes'])}")
    if "gpu" in data:
        g = data["gpu"]
        verdict = "[green]fits[/green]" if g["fits"] else "[red]does not fit[/red]"
        console.print(f"{verdict} in {format_bytes(g['capacity_bytes'])}: headroom {format_bytes(g['headroom_bytes'])}; "
                      f"the KV cache could hold {format_count(g['max_kv_tokens'])} tokens = "
                      f"{format_count(g['max_sequences'])} sequences of this length")


def render_known(verdicts: list[Verdict], console: Console) -> None:
    from rich.table import Table

    table = Table(title="Published figures reproduced by peftcalc", title_justify="left")
    for col in ("id", "claim", "source", "published", "model", "verdict"):
        table.add_column(col, overflow="fold")
    for v in verdicts:
        value = v.value
        shown = f"{float(value):,.6g}" if getattr(value, "denominator", 1) != 1 else f"{int(value):,}"
        colour = "green" if v.ok else "red"
        verdict = f"[{colour}]{v.verdict}[/{colour}]" + (f"\n[dim]{v.entry.explanation}[/dim]" if v.entry.explanation else "")
        table.add_row(v.entry.id, v.entry.claim, v.entry.source, v.entry.published, shown, verdict)
    console.print(table)
    failed = [v for v in verdicts if not v.ok]
    console.print(f"{len(verdicts) - len(failed)} of {len(verdicts)} reproduced" + (f"; FAILED: {', '.join(v.entry.id for v in failed)}" if failed else ""))

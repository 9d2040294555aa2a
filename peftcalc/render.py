"""Results → rich tables, JSON or LaTeX. No arithmetic happens here beyond formatting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from peftcalc.units import format_bytes, format_bytes_si, format_count

if TYPE_CHECKING:
    from rich.console import Console

    from peftcalc.arch.model import Arch
    from peftcalc.errors import PeftcalcError
    from peftcalc.result import Result


def percent(fraction: Any, digits: int = 6) -> str:
    """Exact fraction → percentage with trailing zeros trimmed: 1/256 → '0.390625 %'."""
    text = f"{float(fraction) * 100:.{digits}f}".rstrip("0").rstrip(".")
    return f"{text} %"


def short_group(label: str) -> str:
    """``model.layers.*.self_attn.q_proj`` → ``self_attn.q_proj``; keeps encoder/decoder apart."""
    if ".*." not in label:
        return label
    stack, rest = label.split(".*.", 1)
    top = stack.split(".", 1)[0]
    return f"{top}: {rest}" if top in {"encoder", "decoder"} else rest


def render_params(res: Result, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{res.title} on {res.model}", title_justify="left", show_footer=True)
    table.add_column("module group", footer="trainable", overflow="fold")
    table.add_column("in→out")
    table.add_column("×", justify="right")
    table.add_column("per module", footer=str(res.formula), overflow="fold")
    table.add_column("each", justify="right")
    table.add_column("params", justify="right", footer=format_count(res.trainable_params))
    for row in res.rows:
        table.add_row(short_group(row.group), row.shape, str(row.modules), row.substitution, format_count(row.params_each),
                      format_count(row.params))
    console.print(table)
    console.print(f"formula ({res.formula_scope}): [bold]{str(res.formula).replace('**', '^')}[/bold]")
    factor = res.reduction_factor
    fewer = f", {float(factor):,.6g}× fewer" if factor is not None else ""
    console.print(
        f"[bold]{format_count(res.trainable_params)}[/bold] trainable of {format_count(res.base_params)} base "
        f"({percent(res.trainable_fraction)}{fewer}); total with the method: {format_count(res.total_params)} "
        f"(peft's trainable% = {percent(res.peft_fraction)})"
    )
    sizes = ", ".join(f"{dt} {format_bytes(n)}" for dt, n in res.checkpoint_bytes().items())
    console.print(f"checkpoint: {format_count(res.saved_params)} params saved → {sizes}")
    for note in res.notes:
        console.print(f"[dim]• {note}[/dim]")


def render_compare(model: str, results: list[tuple[str, Result | PeftcalcError]], console: Console, *,
                   memory: list[dict[str, int] | None] | None = None, options: dict[str, Any] | None = None) -> None:
    from rich.table import Table

    from peftcalc.result import Result

    given = ", ".join(f"{k}={v}" for k, v in (options or {}).items()) or "default options"
    table = Table(title=f"Every method on {model} ({given})", title_justify="left")
    columns = [("method", "left"), ("trainable", "right"), ("% of base", "right"), ("checkpoint (fp16)", "right")]
    if memory is not None:
        columns += [("train peak", "right"), ("on device", "right")]
    for col, justify in columns + [("formula", "left")]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    problems = []
    for index, (title, item) in enumerate(results):
        mem = memory[index] if memory is not None else None
        extra = ([format_bytes_si(mem["total_bytes"]), format_bytes_si(mem["device_bytes"])] if mem
                 else ["—", "—"]) if memory is not None else []
        if isinstance(item, Result):
            table.add_row(title, format_count(item.trainable_params), percent(item.trainable_fraction, 4),
                          format_bytes_si(item.checkpoint_bytes()["fp16"]), *extra, str(item.formula).replace("**", "^"))
        else:
            table.add_row(title, "—", "—", "—", *extra, "[dim]not applicable (see below)[/dim]")
            problems.append(f"{title}: {item}")
    console.print(table)
    for line in problems:
        console.print(f"[dim]• {line}[/dim]")


def render_model(arch: Arch, rows: list[dict[str, Any]], console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{arch.name}: {format_count(arch.total_params)} parameters ({arch.model_type})",
                  title_justify="left", show_footer=True)
    table.add_column("module group", footer="total")
    table.add_column("kind")
    table.add_column("shape (in→out)")
    table.add_column("×", justify="right")
    table.add_column("params each", justify="right")
    table.add_column("params", justify="right", footer=format_count(arch.total_params))
    for row in rows:
        table.add_row(row["group"], row["kind"], row["shape"], str(row["modules"]), format_count(row["params_each"]),
                      format_count(row["params"]) + (" (tied)" if row["tied"] else ""))
    console.print(table)
    console.print(f"hidden {arch.hidden_size}, layers {arch.num_layers}"
                  + (f"+{arch.num_decoder_layers}" if arch.num_decoder_layers else "")
                  + f", heads {arch.num_attention_heads} (kv {arch.num_key_value_heads}, head_dim {arch.head_dim}), "
                  f"vocab {arch.vocab_size}; biases {format_count(arch.bias_params)}; fp16 weights "
                  f"{format_bytes(2 * arch.total_params)}")


def render_presets(rows: list[dict[str, Any]], console: Console) -> None:
    from rich.table import Table

    table = Table(title="Presets (peftcalc --model NAME)", title_justify="left")
    for col in ("name", "model_type", "params", "hidden", "layers", "heads (kv)", "source"):
        table.add_column(col, justify="right" if col in {"params", "hidden", "layers"} else "left",
                         no_wrap=col in {"name", "params"}, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["model_type"], format_count(row["params"]), str(row["hidden"]),
                      str(row["layers"]), row["heads"], row["hub_id"])
    console.print(table)


def render_seed_compare(dims: dict[str, int], table: dict[str, tuple[int, Any]], note: str, console: Console) -> None:
    from rich.table import Table

    out = Table(title=f"PEFT comparison, seed 003 convention (d={dims['d_model']}, L={dims['num_layers']}, "
                      f"heads={dims['num_heads']})", title_justify="left")
    out.add_column("method")
    out.add_column("params", justify="right")
    out.add_column("ratio", justify="right")
    for name, (n, ratio) in table.items():
        out.add_row(name, format_count(n), percent(ratio, 4))
    console.print(out)
    console.print(f"[dim]• {note}. For exact counts on a real model: peftcalc compare --model NAME[/dim]")

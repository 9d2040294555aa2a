"""Results → Gradescope results.json, a CSV gradebook, rich tables and a class summary."""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from typing import Any

from grader.analytic import SubmissionResult


def _num(x: Fraction) -> float:
    return round(float(x), 4)


def gradescope(result: SubmissionResult) -> dict[str, Any]:
    """Gradescope's results.json for one submission (``number`` = the part ID)."""
    tests = [{"name": p.id, "number": p.id, "score": _num(p.score), "max_score": _num(p.max_score),
              "status": "passed" if p.score == p.max_score else "failed", "output": p.feedback,
              "visibility": "visible", "tags": ["needs_review"] if p.needs_review else []}
             for p in result.parts]
    out: dict[str, Any] = {"score": _num(result.score), "max_score": _num(result.max_score),
                           "output": "\n".join(result.messages) or f"{result.assignment}: graded by peftcalc",
                           "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    if result.numbers:
        out["extra_data"] = {"variant": {k: v for k, v in result.numbers.items()}}
    return out


def gradescope_batch(results: list[SubmissionResult]) -> list[dict[str, Any]]:
    return [{"submission": r.submission, **gradescope(r)} for r in results]


def gradebook_csv(results: list[SubmissionResult]) -> str:
    ids = list(dict.fromkeys(p.id for r in results for p in r.parts))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", *ids, "total", "max", "needs_review"])
    for r in results:
        scores = {p.id: _num(p.score) for p in r.parts}
        writer.writerow([r.submission, *(scores.get(i, "") for i in ids), _num(r.score), _num(r.max_score),
                         sum(p.needs_review for p in r.parts)])
    return buf.getvalue()


def summary(results: list[SubmissionResult]) -> list[dict[str, Any]]:
    """Per part: mean share of the points, and how many got it fully right; hardest first."""
    by_part: dict[str, list[tuple[Fraction, Fraction]]] = {}
    for r in results:
        for p in r.parts:
            by_part.setdefault(p.id, []).append((p.score, p.max_score))
    rows = [{"part": pid, "mean": _num(sum((s / m for s, m in v if m), Fraction(0)) / len(v)),
             "full_marks": sum(1 for s, m in v if s == m), "students": len(v)} for pid, v in by_part.items()]
    return sorted(rows, key=lambda row: row["mean"])


def render_submission(result: SubmissionResult, console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{result.submission or 'answers'} — {result.assignment}: "
                        f"{float(result.score):g} / {float(result.max_score):g}", title_justify="left")
    table.add_column("part")
    table.add_column("points", justify="right")
    table.add_column("feedback", overflow="fold")
    for p in result.parts:
        mark = "" if not p.needs_review else " [yellow](review)[/]"
        color = "green" if p.score == p.max_score else ("yellow" if p.score else "red")
        table.add_row(p.id, f"[{color}]{float(p.score):g}/{float(p.max_score):g}[/]{mark}", p.feedback)
    console.print(table)
    for m in result.messages:
        console.print(f"[yellow]{m}[/]")
    if result.numbers:
        console.print("variant: " + ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                                              for k, v in result.numbers.items()))


def render_batch(results: list[SubmissionResult], console: Any) -> None:
    from rich.table import Table

    table = Table(title="class", title_justify="left")
    table.add_column("submission", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("review", justify="right")
    for r in results:
        table.add_row(r.submission, f"{float(r.score):g} / {float(r.max_score):g}",
                      str(sum(p.needs_review for p in r.parts)))
    console.print(table)
    hard = Table(title="hardest parts", title_justify="left")
    hard.add_column("part")
    hard.add_column("mean", justify="right")
    hard.add_column("full marks", justify="right")
    for row in summary(results)[:10]:
        hard.add_row(row["part"], f"{row['mean']:.0%}", f"{row['full_marks']}/{row['students']}")
    console.print(hard)

"""A blank answer file for an assignment: every part with its question, and, for a per-student variant,
that student's own numbers beside each question that uses them."""

from __future__ import annotations

from typing import Any

from grader import assignments
from peftcalc.errors import InputError


def variant_numbers(assignment: str, student: str | None, seed: str | None) -> dict[str, Any]:
    """The student's numbers ({} without a student); a student needs a seed, and lesson19 has no variants."""
    from grader.variants import student_numbers

    if student is None:
        if seed is not None:
            raise InputError("--student", "(none)", "a student ID with --seed (whose numbers?)")
        return {}
    if seed is None:
        raise InputError("--seed", "(none)", "the course seed the grader will use for this student's variant")
    if not assignments.get(assignment).variants:
        raise InputError("--student", student, f"no student ID: {assignment} has no per-student variants (its parts "
                         "are named by their numbers)")
    return student_numbers(assignment, student, seed)


def _given(inputs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in inputs.items())


def template(assignment: str, *, student: str | None = None, seed: str | None = None) -> str:
    """The answer file's text (YAML with comments)."""
    from grader.variants import inputs_for

    parts = assignments.get(assignment).parts()
    if not parts:
        raise InputError("--template", assignment, f"an assignment with analytical parts ({assignment}'s exercises "
                         f"are code: `peftcalc grade --spec {assignment}` lists their conventions)")
    numbers = variant_numbers(assignment, student, seed)
    shown = "".join(c if c.isprintable() else "?" for c in f"{student} (seed {seed})")  # the header stays one line
    who = f" — student {shown}" if numbers else ""
    lines = [f"# peftcalc answer file — assignment {assignment}{who}",
             # the examples are no part's answer (they once were: 84 GB and 0.39 % are 9.1a's and 9.2b's)
             "# Write each answer after its part ID. Numbers may carry units (12 GB, 1.5%, $0.02, 2.5 days),",
             "# suffixes (3.2M), working (2 GB + 3 GB = 5 GB: the value after the last '=' counts)",
             "# or be formulas (a*(b+c)); explanations are plain text (use quotes or | blocks)."]
    if numbers:
        lines.append("# Your numbers differ from the questions' where a part says 'your numbers': use yours.")
    lines.append("")
    for part in parts:
        lines.append(f"# {part.id} [{part.kind}] {part.question}")
        mine = inputs_for(part.defaults, numbers)
        if mine:
            lines.append(f"#   your numbers: {_given(mine)}")
        if part.kind == "group":
            lines.append(f'"{part.id}":')
            for name in part.described:  # what the student states; the values are graded against it
                example = dict(part.defaults).get(name)
                lines.append(f'  {name}: ""   # yours, e.g. {example!r}' if example is not None else f'  {name}: ""')
            for item in part.answer().items:
                lines.append(f'  {item.id.rsplit(".", 1)[1]}: ""   # {item.question}')
        else:
            lines.append(f'"{part.id}": ""')
        lines.append("")
    return "\n".join(lines)

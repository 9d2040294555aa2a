"""A blank answer sheet for an assignment — a YAML answer file or a Jupyter notebook — with every part and its
question, and, for a per-student variant, that student's own numbers beside each question that uses them."""

from __future__ import annotations

from dataclasses import dataclass
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


# the examples are no part's answer (they once were: 84 GB and 0.39 % are 9.1a's and 9.2b's)
NOTATION = ("Numbers may carry units (12 GB, 1.5%, $0.02, 2.5 days),",
            "suffixes (3.2M), working (2 GB + 3 GB = 5 GB: the value after the last '=' counts)",
            "or be formulas (a*(b+c)); explanations are plain text")
YOURS = "Your numbers differ from the questions' where a part says 'your numbers': use yours."


@dataclass(frozen=True)
class Question:
    """One part as a blank answer sheet shows it: its ID, kind and wording, the student's own numbers for it
    ('' when the question's printed ones are theirs) and, for a group part, what the student states first
    (sub-ID, an example or None: the values are graded against it) and its values (sub-ID, wording)."""
    id: str
    kind: str
    text: str
    yours: str
    described: tuple[tuple[str, Any], ...] = ()
    items: tuple[tuple[str, str], ...] = ()


def questions(assignment: str, *, student: str | None = None, seed: str | None = None) -> tuple[str, list[Question]]:
    """Whom the sheet is for (' — student alice (seed fall26)', or '' without a variant) and its questions."""
    from grader.variants import inputs_for

    parts = assignments.get(assignment).parts()
    if not parts:
        raise InputError("--template", assignment, f"an assignment with analytical parts ({assignment}'s exercises "
                         f"are code: `peftcalc grade --spec {assignment}` lists their conventions)")
    numbers = variant_numbers(assignment, student, seed)
    shown = "".join(c if c.isprintable() else "?" for c in f"{student} (seed {seed})")  # the header stays one line
    who = f" — student {shown}" if numbers else ""
    out = []
    for part in parts:
        mine = inputs_for(part.defaults, numbers)
        group = part.kind == "group"
        described = tuple((f"{part.id}.{name}", dict(part.defaults).get(name)) for name in part.described) \
            if group else ()
        items = tuple((item.id, item.question) for item in part.answer().items) if group else ()
        out.append(Question(part.id, part.kind, part.question, _given(mine) if mine else "", described, items))
    return who, out


def template(assignment: str, *, student: str | None = None, seed: str | None = None) -> str:
    """The answer file's text (YAML with comments)."""
    who, sheet = questions(assignment, student=student, seed=seed)
    lines = [f"# peftcalc answer file — assignment {assignment}{who}",
             f"# Write each answer after its part ID. {NOTATION[0]}", f"# {NOTATION[1]}",
             f"# {NOTATION[2]} (use quotes or | blocks)."]
    if who:
        lines.append(f"# {YOURS}")
    lines.append("")
    for q in sheet:
        lines.append(f"# {q.id} [{q.kind}] {q.text}")
        if q.yours:
            lines.append(f"#   your numbers: {q.yours}")
        if q.items:
            lines.append(f'"{q.id}":')
            for sub_id, example in q.described:  # what the student states; the values are graded against it
                name = sub_id.rsplit(".", 1)[1]
                lines.append(f'  {name}: ""   # yours, e.g. {example!r}' if example is not None else f'  {name}: ""')
            for sub_id, text in q.items:
                lines.append(f'  {sub_id.rsplit(".", 1)[1]}: ""   # {text}')
        else:
            lines.append(f'"{q.id}": ""')
        lines.append("")
    return "\n".join(lines)


def notebook_template(assignment: str, *, student: str | None = None, seed: str | None = None) -> str:
    """A Jupyter notebook to fill (nbformat 4 JSON, validated): the convention of :mod:`grader.notebook`, then
    each part's question and an answer cell that starts with its part ID; a code cell for the solution when the
    assignment has code exercises."""
    import nbformat
    from nbformat import v4

    from grader.notebook import answer_label

    who, sheet = questions(assignment, student=student, seed=seed)
    declared = assignments.get(assignment)
    title = [f"# peftcalc answers — assignment {assignment}{who}", "",
             f"Answer each part in the markdown cell below its question, after its part ID and the colon: "
             f"`{sheet[0].id}: your answer`. The grader reads only markdown cells that start with a part ID; keep "
             f"the ID and write the answer after it (a longer explanation may go on over the next lines). "
             f"{' '.join(NOTATION)}."]
    if who:
        title += ["", YOURS]
    if declared.has_code:
        title += ["", f"Code cells are your solution to the implementation exercises "
                      f"({', '.join(declared.exercise_ids)}): `peftcalc grade --spec {assignment}` lists what the "
                      f"grader calls. Outputs are never graded, and IPython magics and shell escapes (`%matplotlib`, "
                      f"`!pip`) are dropped."]
    cells = [v4.new_markdown_cell("\n".join(title), id="title")]
    for q in sheet:
        slug = q.id.replace(".", "-")
        text = [f"### Question {q.id} ({q.kind})", "", q.text]
        if q.yours:
            text += ["", f"*Your numbers:* {q.yours}"]
        if q.described:
            text += ["", "State yours first; the values are graded against what you state:",
                     *(f"- `{sub}`" + (f": e.g. `{example}`" if example is not None else "")
                       for sub, example in q.described)]
        if q.items:
            text += ["", "Give each value after its own ID:", *(f"- `{sub}`: {what}" for sub, what in q.items)]
        cells.append(v4.new_markdown_cell("\n".join(text), id=f"q-{slug}"))
        labels = [answer_label(sub) for sub, _ in (*q.described, *q.items)] or [answer_label(q.id)]
        cells.append(v4.new_markdown_cell("\n".join(labels), id=f"a-{slug}"))
    if declared.has_code:
        cells.append(v4.new_markdown_cell(f"## Implementation exercises {', '.join(declared.exercise_ids)}",
                                          id="code-title"))
        cells.append(v4.new_code_cell(f"# Your solution: the classes and functions of `peftcalc grade --spec "
                                      f"{assignment}`, in code cells\n# like this one (top-level code runs when "
                                      f"graded, so keep demos quick).\n", id="solution"))
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nbformat.writes(nb)

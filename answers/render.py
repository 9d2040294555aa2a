"""Worked answers → terminal text or Markdown (LaTeX formulas). Formatting only: no arithmetic."""

from __future__ import annotations

from answers.format import fmt
from answers.key import Answer, Part


def headline(ans: Answer) -> str:
    if ans.kind == "group":
        return "; ".join(f"{item.question}: {fmt(item.value, item.unit)}" for item in ans.items)
    if ans.value is None:
        return "see the model answer"
    return fmt(ans.value, ans.unit)


def _accepted_lines(ans: Answer) -> list[str]:
    return [f"{a.label}: {fmt(a.value, a.unit or ans.unit)} — {a.reason}" for a in ans.accepted]


def render_text(ans: Answer) -> str:
    """The worked answer for a terminal."""
    lines = [f"{ans.id}  {ans.question}", f"  answer: {headline(ans)}"]
    if ans.text:
        lines.append(f"  {ans.text}")
    for label, items in (("assumptions", ans.assumptions), ("notes", ans.notes)):
        lines += [f"  {label}:"] + [f"    - {x}" for x in items] if items else []
    if ans.formula:
        lines.append(f"  formula (LaTeX): {ans.formula}")
    if ans.substitution:
        lines.append(f"  substitution: {ans.substitution}")
    if len(ans.accepted) > 1 or ans.kind == "choice":
        lines += ["  accepted:"] + [f"    - {x}" for x in _accepted_lines(ans)]
    if ans.mistakes:
        lines += ["  known mistakes:"] + [f"    - {m.label} ({fmt(m.value, m.unit or ans.unit)}): {m.explanation}"
                                         for m in ans.mistakes]
    if ans.rubric:
        lines += ["  rubric:"] + [f"    - {r.point}" for r in ans.rubric]
    for item in ans.items:
        lines += ["  " + line for line in render_text(item).splitlines()]
    if ans.inputs:
        lines.append("  inputs: " + ", ".join(f"{k}={v}" for k, v in ans.inputs))
    return "\n".join(lines)


def render_list(parts: list[Part]) -> str:
    width = max(len(p.id) for p in parts)
    return "\n".join(f"{p.id:<{width}}  {p.kind:<10}  {p.question}" for p in parts)


def _md_answer(ans: Answer, level: int) -> list[str]:
    out = [f"{'#' * level} {ans.id}", "", f"*{ans.question}*", ""]
    if ans.value is not None or ans.items:
        out += [f"**Answer: {headline(ans)}**", ""]
    if ans.text:
        out += [("**Model answer.** " if ans.value is None and not ans.items else "") + ans.text, ""]
    if ans.formula:
        out += [f"$$ {ans.formula} $$", ""]
    if ans.substitution:
        out += [f"Substitution: `{ans.substitution}`", ""]
    if ans.assumptions:
        out += ["Assumptions:", ""] + [f"- {x}" for x in ans.assumptions] + [""]
    if len(ans.accepted) > 1 or ans.kind == "choice":
        out += ["Accepted answers:", ""] + [f"- {x}" for x in _accepted_lines(ans)] + [""]
    if ans.mistakes:
        out += ["Common mistakes:", ""] + [f"- {m.label} ({fmt(m.value, m.unit or ans.unit)}): {m.explanation}"
                                          for m in ans.mistakes] + [""]
    if ans.notes:
        out += [f"> **Note.** {note}" for note in ans.notes] + [""]
    if ans.rubric:
        out += ["Rubric (each point earns credit):", ""] + [f"- {r.point}" for r in ans.rubric] + [""]
    for item in ans.items:
        out += _md_answer(item, level + 1)
    return out


_TITLES = {"9.": "Stage 9 (seeds 000/001) — Exercises 9.1–9.4 and the mini-project's Params column",
           "19.": "Lesson 19, PEFT unified (seed 004) — Exercises 1–4",
           "24.": "Chapter 24 (seed 002) — Exercises 24.1–24.10",
           "seed": "Figures printed in the seeds (seed 003 demo output, seed 004 tables)"}


def render_markdown(answers: list[Answer]) -> str:
    """The whole key as one Markdown document (regenerate: ``peftcalc answer --all --format markdown``)."""
    out = ["# peftcalc answer key", "",
           "Worked answers to every analytical question of the course seeds, computed by `peftcalc` "
           "(`answers/`), not typed in. Regenerate with `python scripts/refresh_docs.py`; "
           "a test fails when this copy is stale. GB = 10⁹ B, GiB = 2³⁰ B.", ""]
    section = None
    for ans in answers:
        prefix = next(k for k in _TITLES if ans.id.startswith(k))
        if prefix != section:
            section = prefix
            out += [f"## {_TITLES[prefix]}", ""]
        out += _md_answer(ans, 3)
    return "\n".join(out).rstrip() + "\n"

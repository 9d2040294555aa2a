"""``peftcalc grade``: parse, grade, write reports. Grading itself is in :mod:`grader.analytic`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from peftcalc.errors import InputError

GRADESCOPE_SUBMISSION = Path("/autograder/submission")
GRADESCOPE_RESULTS = Path("/autograder/results/results.json")


def add_command(sub: Any) -> None:
    p = sub.add_parser("grade", help="grade answer files (a student or a class) against the answer key",
                       description="Grade analytical answers (YAML/JSON/TOML: part ID → answer) for an assignment "
                                   "(stage9, chapter24, lesson19). Numbers in any unit and notation, formulas, "
                                   "choices; prose against the key's rubric (marked for review).",
                       epilog="examples:\n  peftcalc grade --template stage9 > answers.yaml\n"
                              "  peftcalc grade alice/answers.yaml --assignment stage9\n"
                              "  peftcalc grade subs/ --assignment chapter24 --json results.json --csv gradebook.csv\n"
                              "  peftcalc grade --variant stage9 --student s1234567 --seed fall26",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", type=Path, help="answer files, or folders of them (one per student)")
    p.add_argument("--assignment", help="stage9, chapter24 or lesson19")
    p.add_argument("--template", metavar="ASSIGNMENT", help="print a blank answer file with every part and question")
    p.add_argument("--variant", metavar="ASSIGNMENT", help="print a student's own numbers and their key")
    p.add_argument("--student", help="student ID (with --variant, or to grade one file against its variant)")
    p.add_argument("--seed", help="course seed for per-student variants (grading: each submission's name is the ID)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write Gradescope results.json ('-' for stdout)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write a CSV gradebook")
    p.add_argument("--gradescope", action="store_true",
                   help=f"read {GRADESCOPE_SUBMISSION}, write {GRADESCOPE_RESULTS} (inside an autograder image)")
    p.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    if ns.template:
        return _template(ns.template)
    if ns.variant:
        return _variant(ns.variant, ns.student, ns.seed)
    if not ns.assignment:
        raise InputError("--assignment", "(none)", "one of stage9, chapter24, lesson19")
    from grader.assignments import spec as make_spec

    spec = make_spec(ns.assignment)
    paths = [GRADESCOPE_SUBMISSION] if ns.gradescope else ns.paths
    if not paths:
        raise InputError("PATH", "(none)", "answer files or folders (or --gradescope)")
    submissions = list(_submissions(paths))
    if not submissions:
        raise InputError("PATH", " ".join(map(str, paths)), "files ending in .yaml, .yml, .json or .toml")
    from grader.analytic import grade_file
    from grader.report import gradebook_csv, gradescope, gradescope_batch, render_batch, render_submission

    results = []
    progress = _progress(len(submissions)) if len(submissions) > 1 and sys.stderr.isatty() else None
    for name, path in submissions:
        student = ns.student or (name if ns.seed else None)
        results.append(grade_file(path, ns.assignment, student=student, seed=ns.seed, spec=spec))
        results[-1].submission = name
        if progress:
            progress.advance()
    if progress:
        progress.stop()
    if ns.gradescope:
        GRADESCOPE_RESULTS.parent.mkdir(parents=True, exist_ok=True)
        GRADESCOPE_RESULTS.write_text(json.dumps(gradescope(results[0]), indent=2))
        return 0
    if ns.json:
        payload = gradescope(results[0]) if len(results) == 1 else gradescope_batch(results)
        _write(ns.json, json.dumps(payload, indent=2))
    if ns.csv:
        _write(ns.csv, gradebook_csv(results))
    if str(ns.json) != "-":
        from rich.console import Console

        console = Console()
        if len(results) == 1:
            render_submission(results[0], console)
        else:
            render_batch(results, console)
    return 0


def _write(path: Path, text: str) -> None:
    if str(path) == "-":
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    else:
        path.write_text(text, encoding="utf-8")


def _submissions(paths: list[Path]) -> list[tuple[str, Path]]:
    """(student name, answer file): a file is one student; a folder holds one file or one subfolder per student."""
    from grader.loader import SUFFIXES

    out: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_file():
            out.append((path.stem if path.parent.name in ("", ".") or len(paths) > 1 else path.stem, path))
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file() and child.suffix.lower() in SUFFIXES:
                    out.append((child.stem, child))
                elif child.is_dir():
                    files = sorted(f for f in child.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES)
                    if files:
                        out.append((child.name, files[0]))
            if path == GRADESCOPE_SUBMISSION and out:
                out = out[:1]
        else:
            raise InputError("PATH", str(path), "an existing file or folder")
    return out


def _template(assignment: str) -> int:
    import answers

    parts = answers.assignment(assignment)
    lines = [f"# peftcalc answer file — assignment {assignment}",
             "# Write each answer after its part ID. Numbers may carry units (84 GB, 0.39%, $0.0185, 3.3 days),",
             "# suffixes (4.19M) or be formulas (r*(d+k)); explanations are plain text (use quotes or | blocks).", ""]
    for part in parts:
        lines.append(f"# {part.id} [{part.kind}] {part.question}")
        if part.kind == "group":
            lines.append(f'"{part.id}":')
            for item in part.answer().items:
                lines.append(f'  {item.id.rsplit(".", 1)[1]}: ""   # {item.question}')
        else:
            lines.append(f'"{part.id}": ""')
        lines.append("")
    sys.stdout.write("\n".join(lines))
    return 0


def _variant(assignment: str, student: str | None, seed: str | None) -> int:
    import answers
    from answers.render import headline
    from grader.variants import inputs_for, student_numbers

    if not student:
        raise InputError("--student", "(none)", "a student ID, with --variant")
    if assignment == "lesson19":
        raise InputError("--variant", assignment, "stage9 or chapter24 (lesson19's parts are named by their "
                         "numbers, e.g. lora_r8_params, so they have no variants)")
    seed = seed if seed is not None else os.environ.get("PEFTCALC_SEED", "peftcalc")
    numbers = student_numbers(assignment, student, seed)
    answers.assignment(assignment)
    print(f"{assignment} variant for {student} (seed {seed!r}):")
    for part in answers.assignment(assignment):
        inputs = inputs_for(part.defaults, numbers)
        if not inputs:
            continue
        ans = part.answer(**inputs)
        given = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in inputs.items())
        print(f"  {part.id:<24} {given:<48} key: {headline(ans)}")
    return 0


class _progress:
    def __init__(self, total: int) -> None:
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.task = self.bar.add_task("grading", total=total)
        self.bar.start()

    def advance(self) -> None:
        self.bar.advance(self.task)

    def stop(self) -> None:
        self.bar.stop()

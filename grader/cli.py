"""``peftcalc grade``: parse, grade, write reports. Grading itself is in :mod:`grader.analytic`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader import assignments
from peftcalc.errors import InputError

AUTOGRADER_ROOT = Path("/autograder")  # Gradescope's; $AUTOGRADER_ROOT overrides it (a dry run)


def autograder_root() -> Path:
    return Path(os.environ.get("AUTOGRADER_ROOT") or AUTOGRADER_ROOT)


def add_command(sub: Any) -> None:
    p = sub.add_parser("grade", help="grade answer files (a student or a class) against the answer key",
                       description="Grade analytical answers (YAML/JSON/TOML: part ID → answer) for an assignment "
                                   f"({assignments.choices()}). Numbers in any unit and notation, formulas, "
                                   "choices; prose against the key's rubric (marked for review).",
                       epilog="examples:\n  peftcalc grade --template stage9 > answers.yaml\n"
                              "  peftcalc grade --template stage9 --student alice --seed fall26 > alice.yaml\n"
                              "  peftcalc grade --student-pack packs/alice --assignment stage9 --student alice --seed fall26\n"
                              "  peftcalc grade alice/answers.yaml --assignment stage9\n"
                              "  peftcalc grade subs/ --assignment chapter24 --json results.json --csv gradebook.csv\n"
                              "  peftcalc grade --variant stage9 --student s1234567 --seed fall26",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", type=Path, help="answer files, or folders of them (one per student)")
    p.add_argument("--assignment", help=f"one of {assignments.choices()}")
    p.add_argument("--template", metavar="ASSIGNMENT",
                   help="print a blank answer file with every part and question (with --student and --seed: "
                        "that student's numbers)")
    p.add_argument("--format", choices=("yaml", "ipynb"), default="yaml",
                   help="with --template: a YAML answer file (default) or a Jupyter notebook to fill")
    p.add_argument("--student-pack", type=Path, metavar="DIR",
                   help="write a student pack for --assignment into DIR: the template (with --student/--seed, "
                        "that student's numbers) and a self-check that reads answers as the grader does, "
                        "with no answer key")
    p.add_argument("--variant", metavar="ASSIGNMENT", help="print a student's own numbers and their key")
    p.add_argument("--student", help="student ID (with --variant, --template, --student-pack, or to grade one file "
                                     "against its variant)")
    p.add_argument("--seed", help="course seed for per-student variants (grading: each submission's name is the ID)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write Gradescope results.json ('-' for stdout)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write a CSV gradebook")
    p.add_argument("--spec", metavar="ASSIGNMENT", help="print the student-facing conventions of the code exercises")
    p.add_argument("--coverage", action="store_true",
                   help="print what is graded, how, and what deliberately is not (Markdown, every assignment)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N submissions in parallel (default 1)")
    p.add_argument("--db", type=Path, metavar="FILE", help="record each result in this SQLite gradebook as it finishes")
    p.add_argument("--regrade", action="store_true", help="grade again submissions already in --db with the same content")
    p.add_argument("--run-seed", type=int, metavar="N", help="seed of the hidden test inputs (default: fresh per run)")
    p.add_argument("--gradescope", action="store_true",
                   help=f"read {AUTOGRADER_ROOT}/submission, write {AUTOGRADER_ROOT}/results/results.json (inside "
                        "an autograder image; $AUTOGRADER_ROOT moves both)")
    p.add_argument("--autograder", metavar="ASSIGNMENT",
                   help="write a Gradescope autograder zip for ASSIGNMENT (setup.sh, run_autograder) to --output")
    p.add_argument("--output", type=Path, metavar="FILE", help="where --autograder writes (default autograder.zip)")
    p.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    if ns.template:
        from grader.template import notebook_template, template

        blank = notebook_template if ns.format == "ipynb" else template
        sys.stdout.write(blank(ns.template, student=ns.student, seed=ns.seed) + "\n")
        return 0
    if ns.student_pack:
        from grader.student_pack import write_pack

        if not ns.assignment:
            raise InputError("--assignment", "(none)", f"the assignment of the pack ({assignments.choices()})")
        files = write_pack(ns.student_pack, ns.assignment, student=ns.student, seed=ns.seed)
        print(f"wrote {len(files)} files to {ns.student_pack}: hand the folder to the student; "
              f"they fill in answers.yaml and run `python selfcheck.py` (no key inside)")
        return 0
    if ns.variant:
        return _variant(ns.variant, ns.student, ns.seed)
    if ns.autograder:
        from grader.autograder import write_zip

        output = ns.output or Path("autograder.zip")
        assignments.get(ns.autograder)  # an unknown ID is refused before anything is written
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            names = write_zip(ns.autograder, output)
        except OSError as exc:
            raise InputError("--output", str(output), f"a file that can be written ({exc.strerror})") from None
        print(f"wrote {output} ({len(names)} files): upload it as the autograder of a Gradescope programming "
              f"assignment; students submit their .py, notebook or answer file")
        return 0
    if ns.coverage:
        from grader.coverage import coverage_markdown

        sys.stdout.write(coverage_markdown())
        return 0
    if ns.spec:
        sys.stdout.write(assignments.get(ns.spec).spec_text())
        return 0
    if not ns.assignment:
        raise InputError("--assignment", "(none)", f"one of {assignments.choices()}")
    assignments.get(ns.assignment)  # an unknown ID is refused before anything is read
    if not 1 <= ns.jobs <= 64:
        raise InputError("--jobs", ns.jobs, "between 1 and 64")
    paths = [autograder_root() / "submission"] if ns.gradescope else ns.paths
    if not paths:
        raise InputError("PATH", "(none)", "answer files, .py files or folders (or --gradescope)")
    if ns.gradescope:
        from grader.batch import grade_submission
        from grader.report import gradescope

        # always a results.json: Gradescope shows nothing useful for a run that wrote none
        result = grade_submission(paths[0], ns.assignment, name="submission", run_seed=ns.run_seed)
        results = autograder_root() / "results" / "results.json"
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(gradescope(result), indent=2))
        return 0
    submissions = _submissions(paths)
    if not submissions:
        raise InputError("PATH", " ".join(map(str, paths)), "files ending in .py, .ipynb, .yaml, .yml, .json or .toml")
    if len(submissions) == 1:
        _gradable(submissions[0][1])
    if ns.student and len(submissions) == 1:
        submissions = [(ns.student, submissions[0][1])]
    from grader.batch import grade_class
    from grader.report import gradebook_csv, gradescope, gradescope_batch, render_batch, render_submission

    db = None
    if ns.db:
        from grader.gradebook import Gradebook

        db = Gradebook(ns.db)
    progress = _progress(len(submissions)) if len(submissions) > 1 and sys.stderr.isatty() else None
    skipped: list[str] = []

    def done(name: str, result: Any) -> None:
        if result is None:
            skipped.append(name)
        if progress:
            progress.advance()

    try:
        results = grade_class(submissions, ns.assignment, jobs=ns.jobs, db=db, regrade=ns.regrade, seed=ns.seed,
                              run_seed=ns.run_seed, on_done=done)
    finally:
        if progress:
            progress.stop()
        if db is not None:
            db.close()
    if ns.json:
        payload = gradescope(results[0]) if len(results) == 1 and len(submissions) == 1 else gradescope_batch(results)
        _write(ns.json, json.dumps(payload, indent=2))
    if ns.csv:
        _write(ns.csv, gradebook_csv(results))
    if str(ns.json) != "-":
        from rich.console import Console

        console = Console()
        if skipped:
            console.print(f"skipped {len(skipped)} already graded (same content; --regrade to grade again)")
        if len(results) == 1 and len(submissions) == 1:
            render_submission(results[0], console)
        elif results:
            render_batch(results, console)
    return 0


def _write(path: Path, text: str) -> None:
    if str(path) == "-":
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    else:
        path.write_text(text, encoding="utf-8")


def _submissions(paths: list[Path]) -> list[tuple[str, Path]]:
    """(student name, path): a file is one student; a folder of files/subfolders is a class, and a folder
    holding only files of one student (no subfolders, one .py, notebook or answer file each) is that student."""
    from grader.submission import GRADED as gradable

    out: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_file():
            out.append((path.stem, path))
        elif path.is_dir() and _one_student(path):
            out.append((path.name, path))
        elif path.is_dir():
            # every sub-folder is a student, whatever it holds: one whose files cannot be graded (a FIFO, a
            # link, nothing) gets its result with the reason, never silence; a top-level file counts when its
            # suffix is gradable, or when it is not a regular file (a link or FIFO named like one is refused)
            for child in sorted(path.iterdir()):
                if child.suffix.lower() in gradable and (child.is_symlink() or not child.is_dir()):
                    out.append((child.stem, child))
                elif child.is_dir() or child.is_symlink():
                    out.append((child.name, child))
        else:
            raise InputError("PATH", str(path), "an existing file or folder")
    return out


def _one_student(folder: Path) -> bool:
    """A folder without subfolders holding at most one file of each kind (.py, notebook, answer file), of
    two kinds at least, is one student's submission (a folder of one kind is a class)."""
    from grader.loader import SUFFIXES
    from grader.submission import NOTEBOOK

    entries = list(folder.iterdir())
    if any(e.is_dir() for e in entries):
        return False
    kinds = [[e for e in entries if e.suffix == ".py"], [e for e in entries if e.suffix.lower() == NOTEBOOK],
             [e for e in entries if e.suffix.lower() in SUFFIXES]]
    return all(len(k) <= 1 for k in kinds) and sum(bool(k) for k in kinds) >= 2


def _gradable(path: Path) -> None:
    """A lone submission with nothing to grade is the caller's mistake (in a class it is that student's)."""
    from grader.submission import printable, read_submission
    from peftcalc.errors import PeftcalcError

    why = read_submission(path).ungradable_reason()
    if why:
        raise PeftcalcError(f"nothing to grade in {printable(str(path))}: {why}")


def _variant(assignment: str, student: str | None, seed: str | None) -> int:
    from answers.render import headline
    from grader.variants import inputs_for, student_numbers

    if not student:
        raise InputError("--student", "(none)", "a student ID, with --variant")
    declared = assignments.get(assignment)
    if not declared.variants:
        raise InputError("--variant", assignment, "an assignment with per-student numbers: "
                         + ", ".join(a for a in assignments.ids() if assignments.get(a).variants and assignments.get(a).parts()))
    seed = seed if seed is not None else os.environ.get("PEFTCALC_SEED", "peftcalc")
    numbers = student_numbers(assignment, student, seed)
    print(f"{assignment} variant for {student} (seed {seed!r}):")
    for part in declared.parts():
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

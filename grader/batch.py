"""Grading one submission (code and/or answer files) or a whole class, in parallel, into the gradebook."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from grader.analytic import SubmissionResult, grade_file
from grader.loader import SUFFIXES

CODE_ASSIGNMENTS = ("stage9", "chapter24")


def submission_files(path: Path) -> tuple[list[Path], list[Path]]:
    """(.py files, answer files) of a submission (a file or a folder)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    code = [p for p in files if p.suffix == ".py"]
    answers = [p for p in files if p.suffix.lower() in SUFFIXES]
    return code, answers


def content_hash(path: Path, assignment: str) -> str:
    digest = hashlib.sha256(assignment.encode())
    code, answers = submission_files(path)
    for p in code + answers:
        digest.update(p.name.encode() + b"\0" + p.read_bytes()[:10 * 2**20] + b"\0")
    return digest.hexdigest()


def grade_submission(path: Path, assignment: str, *, name: str | None = None, student: str | None = None,
                     seed: str | int | None = None, run_seed: int | None = None,
                     isolation: str | None = None, time_limits: dict[str, float] | None = None,
                     jails: Any = None) -> SubmissionResult:
    """Answer files against the key; .py files in the sandbox (stage9 and chapter24 only)."""
    code, answers = submission_files(path)
    name = name or path.stem
    parts, messages = [], []
    if answers:
        res = grade_file(answers[0], assignment, student=student, seed=seed)
        parts += res.parts
        messages += res.messages
        if len(answers) > 1:
            messages.append(f"graded {answers[0].name}; ignored {len(answers) - 1} other answer file(s)")
    if code and assignment in CODE_ASSIGNMENTS:
        from grader.code.runner import grade_source

        source = b"\n\n".join(p.read_bytes() for p in code[:20])
        res = grade_source(source, assignment, submission=name, seed=run_seed, isolation=isolation, jail=jails,
                           **(time_limits or {}))
        parts += res.parts
        messages += res.messages
    elif code:
        messages.append(f"{assignment} has no implementation exercises: .py files ignored")
    if not answers and not code:
        messages.append("no .py or answer file found in the submission")
    return SubmissionResult(name, assignment, parts, messages, {})


def _warm_jails(assignment: str, jobs: int, isolation: str | None, paths: list[Path]) -> Any:
    """``jobs`` warm jails when several code submissions are graded with namespace isolation."""
    from grader.code.sandbox import JailPool, isolation_available

    code = sum(1 for p in paths if submission_files(p)[0])
    if assignment not in CODE_ASSIGNMENTS or code < 2 or (isolation or isolation_available()) != "namespace":
        return None
    return JailPool(min(jobs, code), preload_torch=assignment == "chapter24")


def grade_class(submissions: list[tuple[str, Path]], assignment: str, *, jobs: int = 1, db: Any = None,
                regrade: bool = False, seed: str | int | None = None, run_seed: int | None = None,
                isolation: str | None = None, time_limits: dict[str, float] | None = None,
                on_done: Callable[[str, SubmissionResult | None], None] | None = None) -> list[SubmissionResult]:
    """Grade every submission (``jobs`` at a time); each result is recorded in ``db`` as it finishes."""
    from grader.report import gradescope

    todo: list[tuple[str, Path, str]] = []
    for name, path in submissions:
        digest = content_hash(path, assignment)
        if db is not None and not regrade and db.known_hash(name, assignment) == digest:
            if on_done:
                on_done(name, None)
            continue
        todo.append((name, path, digest))
    results: list[SubmissionResult] = []
    jails = _warm_jails(assignment, jobs, isolation, [p for _, p, _ in todo])
    # ``jobs`` submissions run at a time; with warm jails twice as many workers, so that while one worker
    # builds a plan or judges a result (Python, in this process) the jail it used already runs the next
    # submission. Workers mostly wait on jails: a short GIL switch interval lets a worker whose jail
    # answered resume at once instead of waiting up to 5 ms for another worker's Python.
    workers = max(1, jobs) * (2 if jails is not None else 1)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(grade_submission, path, assignment, name=name, student=name if seed else None,
                                   seed=seed, run_seed=run_seed, isolation=isolation, time_limits=time_limits,
                                   jails=jails): (name, digest)
                       for name, path, digest in todo}
            for future in as_completed(futures):
                name, digest = futures[future]
                result = future.result()
                if db is not None:
                    db.record(name, assignment, digest, gradescope(result))
                results.append(result)
                if on_done:
                    on_done(name, result)
    finally:
        sys.setswitchinterval(switch)
        if jails is not None:
            jails.close()
    order = {name: i for i, (name, _) in enumerate(submissions)}
    return sorted(results, key=lambda r: order.get(r.submission, 0))

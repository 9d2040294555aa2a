"""Grading one submission (code and/or answer files) or a whole class, in parallel, into the gradebook."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
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


@dataclass
class _Submission:
    """One submission on its way: what its answer files scored, and its code ready to run (if any)."""
    name: str
    assignment: str
    digest: str
    parts: list[Any]
    messages: list[str]
    code: Any = None  # grader.code.runner.Prepared


def _open(path: Path, assignment: str, name: str, digest: str = "", *, student: str | None = None,
          seed: str | int | None = None, run_seed: int | None = None,
          time_limits: dict[str, float] | None = None) -> _Submission:
    """Grade the answer files of a submission and prepare its code (stage9 and chapter24 only)."""
    code, answers = submission_files(path)
    sub = _Submission(name, assignment, digest, [], [])
    if answers:
        res = grade_file(answers[0], assignment, student=student, seed=seed)
        sub.parts += res.parts
        sub.messages += res.messages
        if len(answers) > 1:
            sub.messages.append(f"graded {answers[0].name}; ignored {len(answers) - 1} other answer file(s)")
    if code and assignment in CODE_ASSIGNMENTS:
        from grader.code.runner import prepare

        source = b"\n\n".join(p.read_bytes() for p in code[:20])
        sub.code = prepare(source, assignment, submission=name, seed=run_seed, **(time_limits or {}))
    elif code:
        sub.messages.append(f"{assignment} has no implementation exercises: .py files ignored")
    if not answers and not code:
        sub.messages.append("no .py or answer file found in the submission")
    return sub


def _close(sub: _Submission, box: Any) -> SubmissionResult:
    """The submission's result, once its code (if any) came back from the jail as ``box``."""
    parts, messages = list(sub.parts), list(sub.messages)
    if sub.code is not None:
        from grader.code.runner import score

        res = score(sub.code, box)
        parts += res.parts
        messages += res.messages
    return SubmissionResult(sub.name, sub.assignment, parts, messages, {})


def grade_submission(path: Path, assignment: str, *, name: str | None = None, student: str | None = None,
                     seed: str | int | None = None, run_seed: int | None = None,
                     isolation: str | None = None, time_limits: dict[str, float] | None = None,
                     jail: Any = None) -> SubmissionResult:
    """Answer files against the key; .py files in the sandbox (stage9 and chapter24 only): in ``jail``
    (anything with ``run(plan, source)``, e.g. a warm jail) or else a fresh jail."""
    sub = _open(path, assignment, name or path.stem, student=student, seed=seed, run_seed=run_seed,
                time_limits=time_limits)
    box = None
    if sub.code is not None:
        from grader.code.runner import run_prepared

        box = run_prepared(sub.code, isolation=isolation, jail=jail)
    return _close(sub, box)


def _warm_jails(assignment: str, jobs: int, isolation: str | None, code: int) -> Any:
    """``jobs`` warm jails when several (``code``) code submissions are graded with namespace isolation."""
    from grader.code.sandbox import JailPool, isolation_available

    if assignment not in CODE_ASSIGNMENTS or code < 2 or (isolation or isolation_available()) != "namespace":
        return None
    return JailPool(min(jobs, code), preload_torch=assignment == "chapter24")


def _drive(jails: list[Any], todo: list[tuple[str, Path, str]], open_one: Callable[[str, Path, str], _Submission],
           done: Callable[[_Submission, SubmissionResult], None]) -> None:
    """Keep every jail busy from this one thread: the next submissions are prepared while the jails run,
    a jail that answers gets the next one at once, and only then is its result judged. (Worker threads
    would fight over the GIL for building and judging: measured 40–60 % more CPU in this process.)"""
    import select

    waiting = deque(todo)
    ready: deque[_Submission] = deque()
    running: dict[Any, _Submission] = {}

    def refill() -> None:
        while waiting and len(ready) < len(jails):
            sub = open_one(*waiting.popleft())
            if sub.code is None or sub.code.plan is None:
                done(sub, _close(sub, None))  # nothing to run
            else:
                ready.append(sub)

    def start(jail: Any) -> None:
        sub = ready.popleft()
        jail.submit(sub.code.plan, sub.code.source)
        running[jail] = sub

    refill()
    while ready or running:
        for jail in jails:
            if jail not in running and ready:
                start(jail)
        finished = [(jail, box) for jail in list(running) if (box := jail.poll()) is not None]
        for jail, box in finished:
            sub = running.pop(jail)
            if ready:  # the jail starts on the next submission before this one is judged
                start(jail)
            done(sub, _close(sub, box))
        refill()
        if running and not finished:
            select.select(list(running), [], [], 0.1)


def grade_class(submissions: list[tuple[str, Path]], assignment: str, *, jobs: int = 1, db: Any = None,
                regrade: bool = False, seed: str | int | None = None, run_seed: int | None = None,
                isolation: str | None = None, time_limits: dict[str, float] | None = None,
                on_done: Callable[[str, SubmissionResult | None], None] | None = None) -> list[SubmissionResult]:
    """Grade every submission (``jobs`` at a time); each result is recorded in ``db`` as it finishes.
    The hidden inputs of the code checks are drawn once for the run (``run_seed``)."""
    from grader.report import gradescope

    todo: list[tuple[str, Path, str]] = []
    for name, path in submissions:
        digest = content_hash(path, assignment)
        if db is not None and not regrade and db.known_hash(name, assignment) == digest:
            if on_done:
                on_done(name, None)
            continue
        todo.append((name, path, digest))
    code = sum(1 for _, p, _ in todo if submission_files(p)[0])
    if run_seed is None and code:
        from grader.code.runner import fresh_seed

        run_seed = fresh_seed()  # the whole class meets the same hidden inputs
    results: list[SubmissionResult] = []

    def done(name: str, digest: str, result: SubmissionResult) -> None:
        if db is not None:
            db.record(name, assignment, digest, gradescope(result))
        results.append(result)
        if on_done:
            on_done(name, result)

    def open_one(name: str, path: Path, digest: str) -> _Submission:
        return _open(path, assignment, name, digest, student=name if seed else None, seed=seed, run_seed=run_seed,
                     time_limits=time_limits)

    pool = _warm_jails(assignment, jobs, isolation, code)
    if pool is not None:
        try:
            _drive(pool.jails, todo, open_one, lambda sub, result: done(sub.name, sub.digest, result))
        finally:
            pool.close()
    else:  # answer files only, one code submission, or no namespaces: each in its own fresh jail
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as workers:
            futures = {workers.submit(grade_submission, path, assignment, name=name, student=name if seed else None,
                                      seed=seed, run_seed=run_seed, isolation=isolation,
                                      time_limits=time_limits): (name, digest)
                       for name, path, digest in todo}
            for future in as_completed(futures):
                name, digest = futures[future]
                done(name, digest, future.result())
    order = {name: i for i, (name, _) in enumerate(submissions)}
    return sorted(results, key=lambda r: order.get(r.submission, 0))

"""Grading one submission (code and/or answer files) or a whole class, in parallel, into the gradebook.

A submission is read once through :mod:`grader.submission` (regular files only, nothing followed); what
it refused is in its feedback. Its code runs in a jail (:mod:`grader.sandbox`): a whole class in ``jobs``
jails driven from one thread, one submission in a jail of its own — the same jail either way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from grader import assignments
from grader.analytic import SubmissionResult, grade_answers, grade_file
from grader.sandbox.protocol import DEFAULT_LIMITS, Limits
from grader.submission import Snapshot, odd_name, printable, read_submission

def content_hash(path: Path, assignment: str) -> str:
    """The gradebook's hash of a submission: of exactly what would be graded (see ``Snapshot.digest``)."""
    return read_submission(path).digest(assignment)


@dataclass
class _Submission:
    """One submission on its way: what its answer files scored, and its code ready to run (if any)."""
    name: str
    assignment: str
    digest: str
    parts: list[Any]
    messages: list[str]
    code: Any = None  # grader.code.runner.Prepared


def _open(snap: Snapshot, assignment: str, name: str, *, student: str | None = None,
          seed: str | int | None = None, run_seed: int | None = None, limits: Limits = DEFAULT_LIMITS) -> _Submission:
    """Grade the answers of a submission (an answer file or a notebook's answer cells) and prepare its code
    (.py files and notebooks' code cells; for an assignment with code exercises)."""
    why = snap.ungradable_reason()
    if why:  # the reason names what was refused
        return _Submission(name, assignment, snap.digest(assignment), [], [*snap.notes(), f"nothing to grade: {why}"])
    code, answers = snap.code(), snap.answer_sets()
    sub = _Submission(name, assignment, snap.digest(assignment), [], [*snap.refused, *snap.notes()])
    if answers:
        rel, given = answers[0]
        try:
            res = grade_file(given, assignment, student=student, seed=seed) if isinstance(given, Path) else \
                grade_answers(assignment, given, submission=str(snap.path_of(rel)), student=student, seed=seed)
        except Exception as exc:  # noqa: BLE001 - one submission's data costs that submission only
            # a bug of ours that this file's data reached: 0 on its parts with the error, for staff to report
            why = f"the grader failed on this answer file ({type(exc).__name__}: {str(exc)[:200]}); flagged for review"
            res = SubmissionResult(name, assignment, nothing_graded(assignment, why, code=False, status="unreadable",
                                                                    needs_review=True), [why], {})
        sub.parts += res.parts
        sub.messages += res.messages
        if len(answers) > 1:
            sub.messages.append(f"graded {printable(rel)}; ignored {len(answers) - 1} other answer file(s)")
    if code and assignments.get(assignment).has_code:
        from grader.code.runner import prepare

        source = b"\n\n".join(data for _, data in code[:20])
        sub.code = prepare(source, assignment, submission=name, seed=run_seed, limits=limits)
    elif code:
        sub.messages.append(f"{assignment} has no implementation exercises: .py files and code cells ignored")
    return sub


def _close(sub: _Submission, box: Any) -> SubmissionResult:
    """The submission's result, once its code (if any) came back from the jail as ``box``."""
    parts, messages = list(sub.parts), list(sub.messages)
    if sub.code is not None:
        from grader.code.runner import score

        res = score(sub.code, box)
        parts += res.parts
        messages += res.messages
    if not parts:  # nothing gradable: every part and exercise at 0, so the score reads 0 of the assignment's total
        why = "; ".join(sub.messages) or "nothing gradable in the submission"
        parts = nothing_graded(sub.assignment, f"not graded: {why}")
    return SubmissionResult(sub.name, sub.assignment, parts, messages, {})


def nothing_graded(assignment: str, feedback: str, *, code: bool = True, status: str = "missing",
                   needs_review: bool = False) -> list[Any]:
    """The result of a submission in which nothing could be graded: 0 on every part (and, with ``code``, every
    exercise), each with ``feedback``."""
    from grader.result import PartResult

    declared = assignments.get(assignment)
    blank = grade_answers(assignment, {}).parts if declared.parts() else []
    points = declared.points() if declared.has_code and code else {}
    return [replace(r, feedback=feedback, status=status, needs_review=needs_review) for r in blank] + \
        [PartResult(ex, Fraction(0), points[ex], feedback, status, needs_review) for ex in points]


def grade_submission(path: Path, assignment: str, *, name: str | None = None, student: str | None = None,
                     seed: str | int | None = None, run_seed: int | None = None, isolation: str | None = None,
                     limits: Limits = DEFAULT_LIMITS, jail: Any = None) -> SubmissionResult:
    """Answer files against the key; .py files in a jail (assignments with code exercises): in ``jail`` (anything
    with ``run(plan, source)``) or else a jail of its own."""
    snap = read_submission(path)
    sub = _open(snap, assignment, printable(name or path.stem), student=student, seed=seed, run_seed=run_seed,
                limits=limits)
    box = None
    if sub.code is not None:
        from grader.code.runner import run_prepared

        box = run_prepared(sub.code, isolation=isolation, jail=jail)
    return _close(sub, box)


def _drive(jails: list[Any], todo: list[tuple[str, Path]], open_one: Callable[[str, Path], _Submission],
           done: Callable[[_Submission, SubmissionResult], None]) -> None:
    """Keep every jail busy from this one thread: the next submissions are prepared while the jails run,
    a jail that answers gets the next one at once, and only then is its result judged. (Worker threads
    would fight over the GIL for building and judging: measured 40–60 % more CPU in this process.)
    A jail replaces itself and regrades when it fails (``Jail.poll``): nothing to do here."""
    import select

    waiting = deque(todo)
    ready: deque[_Submission] = deque()
    running: dict[Any, _Submission] = {}

    def refill() -> None:
        while waiting and len(ready) < max(1, len(jails)):
            sub = open_one(*waiting.popleft())
            if sub.code is None or sub.code.plan is None or not jails:
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
            select.select([fd for jail in running for fd in jail.fds()], [], [], 0.1)


def grade_class(submissions: list[tuple[str, Path]], assignment: str, *, jobs: int = 1, db: Any = None,
                regrade: bool = False, seed: str | int | None = None, run_seed: int | None = None,
                isolation: str | None = None, limits: Limits = DEFAULT_LIMITS,
                on_done: Callable[[str, SubmissionResult | None], None] | None = None) -> list[SubmissionResult]:
    """Grade every submission (``jobs`` at a time); each result is recorded in ``db`` as it finishes, with
    the hash of what was graded. The hidden inputs of the code checks are drawn once for the run
    (``run_seed``). A submission whose name is not valid UTF-8 is recorded under an escaped name."""
    from grader.report import gradescope

    todo: list[tuple[str, Path]] = []
    code = 0
    for raw_name, path in submissions:
        name, snap = printable(raw_name), read_submission(path)
        if db is not None and not regrade and db.known_hash(name, assignment) == snap.digest(assignment):
            if on_done:
                on_done(name, None)
            continue
        todo.append((raw_name, path))
        code += bool(snap.code())
    if run_seed is None and code:
        from grader.code.runner import fresh_seed

        run_seed = fresh_seed()  # the whole class meets the same hidden inputs
    results: list[SubmissionResult] = []
    order = {printable(name): i for i, (name, _) in enumerate(submissions)}

    def done(sub: _Submission, result: SubmissionResult) -> None:
        if db is not None:
            db.record(sub.name, assignment, sub.digest, gradescope(result))
        results.append(result)
        if on_done:
            on_done(sub.name, result)

    def open_one(raw_name: str, path: Path) -> _Submission:
        snap = read_submission(path)
        if odd_name(raw_name):  # the student's own name: refused like any odd name, under its escaped form
            snap.files, snap.refused = [], [f"{printable(raw_name)}: not graded ({odd_name(raw_name)})"]
        name = printable(raw_name)
        return _open(snap, assignment, name, student=name if seed else None, seed=seed, run_seed=run_seed,
                     limits=limits)

    pool = None
    declared = assignments.get(assignment)
    if declared.has_code and code:
        from grader.sandbox import JailPool

        pool = JailPool(min(jobs, code), preload_torch=declared.needs_torch, isolation=isolation, limits=limits)
    try:
        _drive(pool.jails if pool else [], todo, open_one, done)
    finally:
        if pool is not None:
            pool.close()
    return sorted(results, key=lambda r: order.get(r.submission, 0))

"""Hostile submissions graded in one batch with a correct one: none scores more than a submission that
implements nothing, the correct one keeps full marks, nothing is left running or written, the gradebook
is intact. Runs in the real sandbox (namespaces as root; otherwise the weaker process isolation, where
the isolation-specific assertions are skipped).

The leftover checks look only at what this batch started — the jail uids this process handed out, this
process's descendants, box folders under the batch's own temp root — so another test suite or a real
grading run on the same machine cannot make them fail."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from grader.batch import grade_class
from grader.sandbox import Limits, isolation_available, issued_uids
from grader.gradebook import Gradebook

HERE = Path(__file__).parent
# stored as .py.txt so that no tool (pytest --doctest-modules, linters) ever imports them by accident
ATTACKS = sorted(p for p in (HERE / "attacks").glob("*.py.txt") if not p.name.startswith("empty"))
REFERENCE = HERE.parents[2] / "grader" / "reference" / "stage9.py"
MARKERS = [Path("/tmp/peftcalc-attack-marker"), Path("/work/attack-marker"), Path("/tmp/peftcalc-pwned")]


def _stray_processes() -> list[str]:
    """Processes under one of this process's jail uids, or descended from this process."""
    table: dict[int, tuple[int, int, str]] = {}  # pid → (ppid, uid, command line)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited while we looked
            continue
        table[int(entry.name)] = (int(fields["PPid"]), int(fields["Uid"].split()[0]), cmd)

    def descends_from_us(pid: int) -> bool:
        while pid > 1:
            pid = table.get(pid, (0, 0, ""))[0]
            if pid == os.getpid():
                return True
        return False

    uids = issued_uids()
    return [f"{pid} uid={uid} {cmd}" for pid, (_, uid, cmd) in table.items()
            if uid in uids or descends_from_us(pid)]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    if isolation_available() != "namespace":
        pytest.skip("needs root and util-linux unshare/setpriv for the namespace sandbox")
    for m in MARKERS:
        m.unlink(missing_ok=True)
    subs = tmp_path_factory.mktemp("class")
    for attack in ATTACKS:
        shutil.copy(attack, subs / attack.name.removesuffix(".txt"))
    shutil.copy(HERE / "attacks" / "empty.py.txt", subs / "empty.py")
    shutil.copy(REFERENCE, subs / "correct.py")
    box_root = tmp_path_factory.mktemp("boxes")  # the grader's temp root for this batch alone
    db = Gradebook(subs / "grades.sqlite")
    submissions = [(p.stem, p) for p in sorted(subs.glob("*.py"))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(box_root))
        results = grade_class(submissions, "stage9", jobs=2, db=db, run_seed=7,
                              limits=Limits(check_seconds=1.5, budget_seconds=6))
    rows = db.rows("stage9")
    db.close()
    return {r.submission: r for r in results}, rows, box_root, submissions


def test_there_are_enough_attacks():
    assert len(ATTACKS) >= 15


def test_correct_keeps_full_marks_and_attacks_gain_nothing(batch):
    results, _, _, _ = batch
    assert results["correct"].score == results["correct"].max_score > 0
    floor = results["empty"].score
    over = {name: float(r.score) for name, r in results.items() if name not in ("correct", "empty") and r.score > floor}
    assert over == {}


def test_attacks_are_reported(batch):
    results, _, _, _ = batch
    text = {name: "\n".join(p.feedback for p in r.parts) + "\n".join(r.messages) for name, r in results.items()}
    assert "time limit" in text["infinite_loop"] and "time limit" in text["sigterm_ignore"]
    assert "SIGSEGV" in text["segfault"] or "signal" in text["segfault"]
    assert any(w in text["memory_bomb"] for w in ("MemoryError", "signal", "time limit"))
    assert "SystemExit" in text["sys_exit"]
    assert "truncated" in text["huge_output"]


def test_nothing_left_behind(batch):
    _, _, box_root, _ = batch
    assert issued_uids()  # the check below looks at something
    # a SIGKILLed process can take a moment to finish exiting (a memory bomb frees gigabytes): allow that,
    # but nothing may still exist 10 s after the batch returned
    deadline = time.monotonic() + 10
    while _stray_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _stray_processes() == []
    assert list(box_root.iterdir()) == []
    assert [m for m in MARKERS if m.exists()] == []


def test_gradebook_intact(batch):
    _, rows, _, submissions = batch
    assert sorted(r["submission"] for r in rows) == sorted(name for name, _ in submissions)
    correct = next(r for r in rows if r["submission"] == "correct")
    assert correct["score"] == correct["max_score"] and correct["result"]["tests"]


def test_regrade_skips_unchanged(batch, tmp_path):
    _, _, _, submissions = batch
    db = Gradebook(tmp_path / "g.sqlite")
    one = [s for s in submissions if s[0] == "correct"]
    assert len(grade_class(one, "stage9", db=db, run_seed=1)) == 1
    assert grade_class(one, "stage9", db=db, run_seed=1) == []          # same content: skipped
    assert len(grade_class(one, "stage9", db=db, run_seed=1, regrade=True)) == 1
    db.close()

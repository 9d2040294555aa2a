"""Hostile submissions graded in one batch with a correct one: none scores more than a submission that
implements nothing, the correct one keeps full marks, nothing is left running, written, mounted or in
the kernel's IPC tables, the gradebook is intact, and no feedback holds a classmate's code or a host
file. Runs in the real sandbox (namespaces as root; the module is skipped otherwise).

Two kinds of attack: code (``attacks/*.py.txt``, run in the jail) and hostile submission *folders*
(links, FIFOs, devices, odd names, huge, unreadable or deeply nested files, built by
:func:`_hostile_folders`), aimed at the grader that reads them as root outside the jail.

The leftover checks look only at what this batch started — the jail uids this process handed out, this
process's descendants, box folders under the batch's own temp root — so another test suite or a real
grading run on the same machine cannot make them fail."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import stat
import tempfile
import time
from pathlib import Path

import pytest

from grader import assignments
from grader.batch import grade_class
from grader.sandbox import Limits, isolation_available, issued_uids
from grader.gradebook import Gradebook

HERE = Path(__file__).parent
# stored as .py.txt so that no tool (pytest --doctest-modules, linters) ever imports them by accident
ATTACKS = sorted(p for p in (HERE / "attacks").glob("*.py.txt") if not p.name.startswith("empty"))
REFERENCES = HERE.parents[2] / "grader" / "reference"
# the attacks aim at stage9's names; section9.6's checks call some of the same (LoRALayer), and its judges
# (shape searches, repeated calls, statistics) must hold against them too
ASSIGNMENTS = ("stage9", "section9.6", "chapter24")  # chapter24: torch, with every new check loaded
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


def _hostile_folders(subs: Path, secret_file: Path, reference_file: Path) -> list[tuple[str, Path]]:
    """Submissions whose folder (or file) attacks the grader that reads it: each would score full marks,
    or leak a host file, if the grader followed, opened or read what it must not."""
    reference = reference_file.read_bytes()
    made: list[tuple[str, Path]] = []

    def folder(name: str) -> Path:
        path = subs / name
        path.mkdir()
        made.append((name, path))
        return path

    (folder("symlink_classmate") / "solution.py").symlink_to("../correct.py")
    (folder("symlink_host_file") / "solution.py").symlink_to(secret_file)
    (subs / "symlink_host_file" / "answers.yaml").symlink_to("/etc/shadow")
    (folder("symlink_folder") / "lib").symlink_to(subs)
    (subs / "linked_file.py").symlink_to(subs / "correct.py")
    made.append(("linked_file", subs / "linked_file.py"))
    odd = folder("odd_names")
    (odd / os.fsdecode(b"solution\xff.py")).write_bytes(reference)
    (odd / "line\nbreak.py").write_bytes(reference)
    odd_top = subs / os.fsdecode(b"student\xfe.py")
    odd_top.write_bytes(reference)
    made.append((odd_top.stem, odd_top))
    fifo = folder("fifo")
    os.mkfifo(fifo / "solution.py")
    os.mkfifo(fifo / "answers.yaml")
    os.mkfifo(subs / "fifo_file.py")
    made.append(("fifo_file", subs / "fifo_file.py"))
    os.mknod(folder("device") / "solution.py", stat.S_IFCHR | 0o644, os.makedev(1, 1))  # /dev/mem
    with open(folder("huge_file") / "solution.py", "wb") as fh:
        fh.truncate(3 * 2**30)  # sparse: 3 GB that nobody should read
    unreadable = folder("unreadable") / "solution.py"
    unreadable.write_bytes(reference)
    unreadable.chmod(0)
    deep = folder("deep_folders")
    inner = deep.joinpath(*["d"] * 20)
    inner.mkdir(parents=True)
    (inner / "solution.py").write_bytes(reference)
    many = folder("many_entries")
    for i in range(600):
        (many / f"a{i:04d}.txt").write_text("")
    (many / "zzz.py").write_bytes(reference)
    return made


def _ipc_objects() -> set[tuple[str, str]]:
    """SysV IPC objects on the host created under one of this process's jail uids."""
    uids = {str(u) for u in issued_uids()}
    found = set()
    for kind in ("shm", "sem", "msg"):
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        header = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[0].split()
        for line in lines:
            row = dict(zip(header, line.split()))
            if row.get("cuid") in uids or row.get("uid") in uids:
                found.add((kind, row.get("key", "")))
    return found


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def batch(request, tmp_path_factory):
    if isolation_available() != "namespace":
        pytest.skip("needs root and util-linux unshare/setpriv for the namespace sandbox")
    for m in MARKERS:
        m.unlink(missing_ok=True)
    aid = request.param
    reference_file = REFERENCES / assignments.get(aid).reference
    subs = tmp_path_factory.mktemp("class")
    for attack in ATTACKS:
        shutil.copy(attack, subs / attack.name.removesuffix(".txt"))
    shutil.copy(HERE / "attacks" / "empty.py.txt", subs / "empty.py")
    classmate_secret = f"classmate-secret-{os.urandom(8).hex()}"
    (subs / "correct.py").write_text(reference_file.read_text() + f"\n# {classmate_secret}\n")
    host_secret = f"host-secret-{os.urandom(8).hex()}"
    secret_file = Path("/root") / f".peftcalc-test-{os.getpid()}"
    secret_file.write_text(f"# {host_secret}\n" + reference_file.read_text())
    secret_file.chmod(0o600)
    box_root = tmp_path_factory.mktemp("boxes")  # the grader's temp root for this batch alone
    db = Gradebook(subs / "grades.sqlite")
    submissions = [(p.stem, p) for p in sorted(subs.glob("*.py")) if p.is_file() and not p.is_symlink()]
    submissions += _hostile_folders(subs, secret_file, reference_file)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tempfile, "tempdir", str(box_root))
            started = time.monotonic()
            results = grade_class(submissions, aid, jobs=2, db=db, run_seed=7,
                                  limits=Limits(check_seconds=1.5, budget_seconds=6))
            seconds = time.monotonic() - started
    finally:
        secret_file.unlink()
    rows = db.rows(aid)
    db.close()
    return {"aid": aid, "results": {r.submission: r for r in results}, "rows": rows, "box_root": box_root,
            "submissions": submissions, "secrets": (classmate_secret, host_secret), "db": subs / "grades.sqlite",
            "seconds": seconds}


def test_there_are_enough_attacks():
    assert len(ATTACKS) >= 33  # 18 from the first red team, 15+ of the second round's classes


def test_correct_keeps_full_marks_and_attacks_gain_nothing(batch):
    results = batch["results"]
    assert results["correct"].score == results["correct"].max_score > 0
    floor = results["empty"].score
    over = {name: float(r.score) for name, r in results.items() if name not in ("correct", "empty") and r.score > floor}
    assert over == {}
    assert len(results) == len(batch["submissions"])  # the batch finished: everyone has a result


def _text(result) -> str:
    return "\n".join(p.feedback for p in result.parts) + "\n".join(result.messages)


def test_attacks_are_reported(batch):
    if batch["aid"] == "chapter24":  # the code attacks hide in stage9's names, which chapter24's checks never call
        pytest.skip("chapter24's batch checks only that the attacks gain nothing and leave nothing behind")
    text = {name: _text(r) for name, r in batch["results"].items()}
    assert "time limit" in text["infinite_loop"] and "time limit" in text["sigterm_ignore"]
    assert "SIGSEGV" in text["segfault"] or "signal" in text["segfault"]
    assert any(w in text["memory_bomb"] for w in ("MemoryError", "signal", "time limit"))
    assert "SystemExit" in text["sys_exit"]
    assert "truncated" in text["huge_output"]
    assert "no grader" in text["import_reference"] and "imported" not in text["import_reference"]
    assert "jail was replaced" in text["ipc_left_behind"]
    assert "broke the result protocol: nested deeper" in text["deep_json_channel"]  # its bytes hurt only itself
    assert "DROP TABLE" in text["corrupt_gradebook"] and "\\x1b]0;owned\\x07" in text["corrupt_gradebook"]
    assert not any(c in text["corrupt_gradebook"] for c in "\x1b\x07\x00\r")  # shown, escaped, never obeyed
    if platform.machine() == "x86_64":  # the seccomp filter: no user namespace, no mount
        assert "unshare user+mount: -1" in text["escape_root"] and "mount b'/mnt/site' 0" not in text["escape_root"]


def test_hostile_folders_are_refused_with_a_reason(batch):
    text = {name: _text(r) for name, r in batch["results"].items()}
    assert "symbolic link" in text["symlink_classmate"] and "symbolic link" in text["symlink_host_file"]
    assert "symbolic link" in text["symlink_folder"] and "symbolic link" in text["linked_file"]
    assert "not valid UTF-8" in text["odd_names"] and "control characters" in text["odd_names"]
    assert "not valid UTF-8" in text["student\\xfe"]
    assert "FIFO" in text["fifo"] and "FIFO" in text["fifo_file"]
    assert "a device" in text["device"]
    assert "3,221,225,472 bytes" in text["huge_file"]
    assert "unreadable" in text["unreadable"]
    assert "nested deeper" in text["deep_folders"]
    assert "more than 500 entries" in text["many_entries"]


def test_no_feedback_holds_a_classmate_or_a_host_file(batch):
    classmate, host = batch["secrets"]
    for name, result in batch["results"].items():
        text = _text(result)
        assert host not in text, name
        assert "root:x:0:0" not in text and "root:*:" not in text, name  # /etc/passwd, /etc/shadow
        if name != "correct":
            assert classmate not in text, name


def test_nothing_left_behind(batch):
    box_root = batch["box_root"]
    assert issued_uids()  # the checks below look at something
    # a SIGKILLed process can take a moment to finish exiting (a memory bomb frees gigabytes): allow that,
    # but nothing may still exist 10 s after the batch returned
    deadline = time.monotonic() + 10
    while _stray_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _stray_processes() == []
    assert list(box_root.iterdir()) == []
    assert [m for m in MARKERS if m.exists()] == []
    assert _ipc_objects() == set()
    assert [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(box_root) in line] == []


def test_gradebook_intact(batch):
    rows, submissions = batch["rows"], batch["submissions"]
    assert sorted(r["submission"] for r in rows) == sorted(batch["results"])
    assert len(rows) == len(submissions)
    correct = next(r for r in rows if r["submission"] == "correct")
    assert correct["score"] == correct["max_score"] and correct["result"]["tests"]
    with sqlite3.connect(batch["db"]) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_regrade_skips_unchanged(batch, tmp_path):
    db = Gradebook(tmp_path / "g.sqlite")
    one = [s for s in batch["submissions"] if s[0] == "correct"]
    aid = batch["aid"]
    assert len(grade_class(one, aid, db=db, run_seed=1)) == 1
    assert grade_class(one, aid, db=db, run_seed=1) == []          # same content: skipped
    assert len(grade_class(one, aid, db=db, run_seed=1, regrade=True)) == 1
    db.close()

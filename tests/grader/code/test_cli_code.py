"""`peftcalc grade` on code: one file, a class folder with a gradebook, the published specs."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from peftcalc.cli import main

REFERENCE = Path(__file__).resolve().parents[3] / "grader" / "reference"


def test_one_file_gradescope_json(capsys):
    assert main(["grade", str(REFERENCE / "stage9.py"), "--assignment", "stage9", "--json", "-", "--run-seed", "5"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == data["max_score"] == 38
    assert [t["number"] for t in data["tests"]] == ["9.5", "9.6", "9.7", "9.8", "9.9", "9.10", "9.11", "9.12"]


def test_class_folder_with_gradebook_and_regrade(tmp_path, capsys):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    shutil.copy(REFERENCE / "stage9.py", subs / "alice" / "lora.py")
    (subs / "bob.py").write_text("import numpy as np\n")
    db = tmp_path / "grades.sqlite"
    args = ["grade", str(subs), "--assignment", "stage9", "--db", str(db), "--jobs", "2", "--run-seed", "1"]
    assert main(args) == 0
    rows = dict(sqlite3.connect(db).execute("SELECT submission, score FROM results").fetchall())
    assert rows == {"alice": 38.0, "bob": 0.0}
    capsys.readouterr()
    assert main(args) == 0
    assert "skipped 2 already graded" in capsys.readouterr().out
    assert main([*args, "--regrade"]) == 0


def test_mixed_submission_grades_code_and_answers(tmp_path, capsys):
    sub = tmp_path / "carol"
    sub.mkdir()
    shutil.copy(REFERENCE / "stage9.py", sub / "code.py")
    (sub / "answers.yaml").write_text("9.2a: 65536\n")
    assert main(["grade", str(sub), "--assignment", "stage9", "--json", "-", "--run-seed", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    numbers = {t["number"]: t["score"] for t in data["tests"]}
    assert numbers["9.2a"] == 2 and numbers["9.5"] == 11


def test_specs_are_published(capsys):
    assert main(["grade", "--spec", "stage9"]) == 0
    text = capsys.readouterr().out
    assert "9.5" in text and "9.12" in text and "x @ W.T" in text
    assert main(["grade", "--spec", "chapter24"]) == 0
    assert "ties_merge" in capsys.readouterr().out
    assert main(["grade", "--spec", "lesson19"]) == 0  # analytical only: the spec says so, and how to answer
    assert "--template lesson19" in capsys.readouterr().out
    assert main(["grade", "--spec", "stage10"]) == 2


def test_gradebook_survives_a_kill_mid_batch(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    subs = tmp_path / "subs"
    subs.mkdir()
    n = 40  # enough that the batch is still running when the poll below sees the first rows (~15 ms each)
    for i in range(n):
        shutil.copy(REFERENCE / "stage9.py", subs / f"s{i:02d}.py")
    db = tmp_path / "grades.sqlite"
    cmd = [sys.executable, "-m", "peftcalc", "grade", str(subs), "--assignment", "stage9", "--db", str(db),
           "--run-seed", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    rows = 0
    while time.monotonic() < deadline and rows < 2:
        time.sleep(0.01)
        if db.exists():
            try:
                rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    recorded = con.execute("SELECT submission, score, result_json FROM results").fetchall()
    assert 2 <= len(recorded) < n
    assert all(score == 38 and json.loads(blob)["score"] == 38 for _, score, blob in recorded)
    con.close()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"skipped {len(recorded)} already graded" in done.stdout
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM results").fetchone()[0] == n
    # the killed grader could not clean its jail folders; the next run removes them
    import tempfile

    assert list(Path(tempfile.gettempdir()).glob(f"peftcalc-*-{proc.pid}-*")) == []


def test_one_seed_per_run_reported_and_reproducible(tmp_path):
    """Without --run-seed a batch draws one seed: every submission meets the same hidden inputs, the report
    names the seed, and grading again with it reproduces the feedback word for word."""
    import re

    from grader.batch import grade_class, grade_submission

    subs = []
    for i in range(3):
        p = tmp_path / f"s{i}.py"
        shutil.copy(REFERENCE / "stage9.py", p)
        subs.append((p.stem, p))
    broken = tmp_path / "s3.py"  # a classic mistake, so that the feedback carries numbers drawn from the seed
    broken.write_text((REFERENCE / "stage9.py").read_text().replace("self.scaling = alpha / rank", "self.scaling = alpha"))
    subs.append(("s3", broken))
    results = grade_class(subs, "stage9", jobs=2)
    seeds = {m for r in results for m in r.messages if m.startswith("hidden inputs")}
    assert len(seeds) == 1, seeds
    seed = int(re.search(r"--run-seed (\d+)", seeds.pop()).group(1))
    assert [r.score for r in results] == [38, 38, 38, results[3].score] and results[3].score < 38
    again = grade_submission(broken, "stage9", name="s3", run_seed=seed)
    assert [p.feedback for p in again.parts] == [p.feedback for p in results[3].parts]
    from grader.code.runner import prepare  # and the seed is what decides the hidden inputs

    source = broken.read_bytes()
    assert prepare(source, "stage9", seed=seed).plan.checks == prepare(source, "stage9", seed=seed).plan.checks
    assert prepare(source, "stage9", seed=seed).plan.checks != prepare(source, "stage9", seed=seed + 1).plan.checks


def test_checks_are_built_once_per_run_and_shared_safely():
    # one (assignment, seed) → one set of checks for every submission of the run; judged in any order,
    # a submission gets the same score (the shared judges keep no state)
    from grader.code.runner import grade_source, prepare

    good = (REFERENCE / "stage9.py").read_bytes()
    bad = good.replace(b"self.scaling = alpha / rank", b"self.scaling = alpha")
    first, second = prepare(good, "stage9", seed=11), prepare(bad, "stage9", seed=11)
    assert first.checks is second.checks and first.plan.checks is second.plan.checks
    assert prepare(good, "stage9", seed=12).checks is not first.checks
    bad_before = grade_source(bad, "stage9", seed=11).score
    assert grade_source(good, "stage9", seed=11).score == 38
    assert grade_source(bad, "stage9", seed=11).score == bad_before < 38

"""The jail's channel protocol and a warm jail that dies between submissions."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from grader.code.runner import grade_source
from grader.code.sandbox import WarmJail, isolation_available, take_records

REFERENCE = Path(__file__).resolve().parents[3] / "grader" / "reference"


def test_take_records_reads_single_records_and_fast_path_batches():
    records: dict = {}
    take_records({"id": "a", "ok": True, "values": [1]}, records)
    take_records({"job": "t", "result": {"batch": [{"id": "b", "ok": True}, {"id": "a", "ok": False}]}}, records)
    assert records["a"]["values"] == [1]  # the first record of an id wins
    assert records["b"]["ok"] is True
    for junk in (5, "x", None, [1], {"result": {"batch": "nope"}}, {"result": {"batch": [3, {"id": 7}]}}):
        take_records(junk, records)
    assert set(records) == {"a", "b"}


@pytest.mark.skipif(isolation_available() != "namespace", reason="warm jails need root (namespaces)")
def test_a_warm_jail_that_died_is_reported_and_restarted():
    source = (REFERENCE / "stage9.py").read_bytes()
    jail = WarmJail()
    try:
        assert grade_source(source, "stage9", seed=3, jail=jail).score == 38
        os.killpg(jail.proc.pid, signal.SIGKILL)  # the whole jail, between two submissions
        jail.proc.wait()
        lost = grade_source(source, "stage9", seed=3, jail=jail)
        assert lost.score == 0
        assert any("jail" in m and ("not running" in m or "ended unexpectedly" in m) for m in lost.messages)
        assert grade_source(source, "stage9", seed=3, jail=jail).score == 38  # restarted, checks sent again
    finally:
        jail.close()


def test_a_syntax_error_fails_every_check_and_names_the_line():
    # the submission is compiled inside the jail's fork (bounded by its limits), never by the jail's init
    source = (REFERENCE / "stage9.py").read_bytes() + b"\n\ndef broken(:\n    pass\n"
    line = source.count(b"\n") - 1
    result = grade_source(source, "stage9", seed=3)
    assert result.score == 0 and result.max_score == 38
    feedback = "\n".join(part.feedback for part in result.parts)
    assert feedback.count("importing the submission failed: SyntaxError") == feedback.count("✗")
    assert f"line {line})" in feedback

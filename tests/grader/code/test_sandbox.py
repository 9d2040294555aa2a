"""The jail's protocol (bounded codec, validated schema) and a jail that dies, is left dirty or is probed."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import pytest

from grader.code.runner import grade_source, prepare
from grader.sandbox import Jail, Limits, ProtocolError, isolation_available
from grader.sandbox.protocol import LineReader, check_depth, decode_line, record_from

REFERENCE = Path(__file__).resolve().parents[3] / "grader" / "reference"
ATTACKS = Path(__file__).parent / "attacks"
needs_namespaces = pytest.mark.skipif(isolation_available() != "namespace", reason="jails need root (namespaces)")


def test_deep_nesting_is_refused_before_any_parser_recurses():
    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(ProtocolError, match="nested deeper"):
        decode_line(deep)
    check_depth(json.dumps({"a": [[1, {"b": "[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]]}))  # brackets in strings do not count
    with pytest.raises(ProtocolError):
        check_depth("[" * 30 + "]" * 30, max_depth=24)


def test_lines_are_bounded_and_checked():
    with pytest.raises(ProtocolError, match="bytes"):
        decode_line(b"1" * 100, max_bytes=10)
    with pytest.raises(ProtocolError, match="UTF-8"):
        decode_line(b'"\xff"')
    reader = LineReader(max_bytes=64, max_total=200)
    out = reader.feed(b'{"a": 1}\nnot json\n')
    assert out[0] == {"a": 1} and isinstance(out[1], ProtocolError)
    with pytest.raises(ProtocolError, match="longer than"):
        reader.feed(b"x" * 100)
    with pytest.raises(ProtocolError, match="more than 200"):
        LineReader(max_total=200).feed(b"1\n" * 101)


def test_records_are_validated():
    assert record_from({"id": "9.5.a", "ok": True, "values": [1]}).values == [1]
    for bad in (5, {"id": 3, "ok": True}, {"id": "x", "ok": "yes"}, {"id": "x", "ok": True, "values": "v"},
                {"id": "", "ok": True}, {"id": "x", "ok": False, "error": ["e"]}, {"id": "x", "ok": True, "seconds": True}):
        with pytest.raises(ProtocolError):
            record_from(bad)


def test_limits_are_defined_once_and_derived():
    limits = Limits().with_times(check_seconds=2, budget_seconds=5)
    assert limits.job_seconds == 5 + 2 * 2 + 15
    assert prepare(b"x = 1", "stage9", seed=1, limits=limits).plan.limits is limits
    assert "as" not in Limits().rlimits(torch=True) and Limits().rlimits(torch=False)["as"] == Limits().memory_bytes


@needs_namespaces
def test_a_jail_that_died_is_replaced_and_the_submission_regraded_once():
    source = (REFERENCE / "stage9.py").read_bytes()
    with Jail() as jail:
        assert grade_source(source, "stage9", seed=3, jail=jail).score == 38
        os.killpg(jail.proc.pid, signal.SIGKILL)  # the whole jail, between two submissions
        jail.proc.wait()
        again = grade_source(source, "stage9", seed=3, jail=jail)
        assert again.score == 38  # not the student's fault: regraded in a fresh jail
        assert any("regraded in a fresh jail" in m for m in again.messages)
        assert jail.restarts == 1


@needs_namespaces
def test_the_next_submission_never_pays_for_a_dirty_jail():
    # unreadable folders, full tmpfs, SysV shared memory: the jail is wiped or replaced before the next one
    dirty = (ATTACKS / "unwipeable_jail.py.txt").read_bytes()
    source = (REFERENCE / "stage9.py").read_bytes()
    with Jail() as jail:
        first = grade_source(dirty, "stage9", seed=3, jail=jail)
        assert first.score == 0
        assert any("jail was replaced" in m for m in first.messages)
        assert jail.restarts == 1
        assert grade_source(source, "stage9", seed=3, jail=jail).score == 38


@needs_namespaces
def test_a_later_submission_cannot_find_an_earlier_one_in_memory():
    token = os.urandom(16).hex()
    earlier = (REFERENCE / "stage9.py").read_bytes() + f"\n# secret {token}\n".encode()
    scan = (ATTACKS / "scan_init_memory.py.txt").read_text().replace("TOKEN_PREFIX", token[:16])
    own = f"SECRET = '# secret {token}'\n" + scan  # the control: the scan does find what is in its own memory
    with Jail() as jail:
        control = "\n".join(grade_source(own.encode(), "stage9", seed=3, jail=jail).messages)
        assert grade_source(earlier, "stage9", seed=3, jail=jail).score == 38
        later = grade_source(scan.encode(), "stage9", seed=3, jail=jail)
    assert f"leaked {token[16:]}" in control
    text = "\n".join(later.messages)
    assert re.search(r"scanned [1-9]\d* regions, found 0", text) and token[16:] not in text


def test_a_syntax_error_fails_every_check_and_names_the_line():
    # the submission is compiled inside the jail's fork (bounded by its limits), never by the jail's init
    source = (REFERENCE / "stage9.py").read_bytes() + b"\n\ndef broken(:\n    pass\n"
    line = source.count(b"\n") - 1
    result = grade_source(source, "stage9", seed=3)
    assert result.score == 0 and result.max_score == 38
    feedback = "\n".join(part.feedback for part in result.parts)
    assert feedback.count("importing the submission failed: SyntaxError") == feedback.count("✗")
    assert f"line {line})" in feedback


@needs_namespaces
def test_the_jail_sees_only_the_interpreter_and_the_packages_the_checks_import():
    # what a non-editable install would add (grader/, answers/, peftcalc/ beside numpy) cannot appear: the
    # jail's /mnt/site holds exactly the packages the harness imports, every other site folder is empty
    probe = b"""
import os, sys
print("root", sorted(os.listdir("/")))
print("site", sorted(os.listdir("/mnt/site")))
print("prefix-site", os.listdir(sys.base_prefix + "/lib/python%d.%d/site-packages" % sys.version_info[:2]))
for name in ("grader", "answers", "peftcalc"):
    try:
        __import__(name)
        print("imported", name)
    except ImportError:
        pass
print("etc", sorted(os.listdir("/etc")), "hostfs", [p for p in ("/work", "/home", "/root/.bashrc") if os.path.exists(p)])
"""
    out = "\n".join(grade_source(probe, "stage9", seed=3).messages)
    assert "site ['numpy', 'numpy.libs']" in out
    assert "prefix-site []" in out and "imported" not in out
    root = set(ast.literal_eval(re.search(r"root (\[.*\])", out).group(1)))
    allowed = {".old", "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "mnt", "proc", "sbin", "tmp", "usr"}
    prefix_top = Path(sys.base_prefix).resolve().parts[1]  # the interpreter's prefix, at its own path
    assert {"mnt", "usr", "proc", "tmp"} <= root <= allowed | {prefix_top}
    assert re.search(r"etc (\['ld.so.cache'\]|\[\]) hostfs \[\]", out)  # no passwd, no host folders


def test_what_the_jail_gets_imports_only_the_standard_library_numpy_and_torch():
    # the jail has no grader package: its copies of these files must stand alone
    from grader.sandbox.jail import HERE, JAIL_FILES

    allowed = set(sys.stdlib_module_names) | {"numpy", "torch", "__future__"} | {Path(f).stem for f in JAIL_FILES}
    for name in JAIL_FILES:
        tree = ast.parse((HERE / name).read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.module and not n.module.startswith("grader.sandbox")}
        assert imported <= allowed, (name, imported - allowed)


@needs_namespaces
def test_a_jail_that_fails_twice_gives_zero_with_the_reason(monkeypatch):
    from grader.sandbox import jail as jail_module

    monkeypatch.setattr(jail_module, "namespace_command", lambda *a, **k: ["/bin/false"])  # never starts
    with Jail() as jail:
        result = grade_source((REFERENCE / "stage9.py").read_bytes(), "stage9", seed=3, jail=jail)
        assert jail.restarts == 2  # replaced for the regrade, and again for the next submission: no loop
    assert result.score == 0
    # whether the jail's pipes were still open when the request was written is a race: either reason is right
    failed = [m for m in result.messages if "again in a fresh jail" in m]
    assert len(failed) == 1 and ("not running" in failed[0] or "ended unexpectedly" in failed[0])


_USER_PROBE = '''
import os
def probe(path, write):
    try:
        if write:
            open(path, "w").write("forged")
            return "wrote"
        return open(path).read()
    except OSError as exc:
        return type(exc).__name__
print("probe", os.getuid(), probe(SECRET, False), probe(RESULTS, True))
'''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="the 'user' jail needs root and setpriv")
def test_without_namespaces_root_still_drops_to_a_jail_uid(tmp_path):
    """Gradescope's container has no namespaces: the jail then runs under a jail uid with seccomp, so a
    submission can neither read root's files nor write the results folder, and it still grades."""
    secret = tmp_path / "secret"
    secret.write_text("key")
    secret.chmod(0o600)
    results = tmp_path / "results"
    results.mkdir(mode=0o755)
    source = f"SECRET = {str(secret)!r}\nRESULTS = {str(results / 'results.json')!r}\n" + _USER_PROBE
    res = grade_source(source.encode(), "stage9", seed=3, isolation="user")
    printed = next(m for m in res.messages if m.startswith("stdout"))
    uid, read, wrote = printed.split("probe ", 1)[1].split()[:3]
    assert int(uid) != 0 and read == "PermissionError" and wrote == "PermissionError"
    assert not (results / "results.json").exists()
    assert any("jail uid" in m for m in res.messages)
    reference = (Path(__file__).resolve().parents[3] / "grader" / "reference" / "stage9.py").read_bytes()
    full = grade_source(reference, "stage9", seed=3, isolation="user")
    assert full.score == full.max_score

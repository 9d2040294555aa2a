"""Reading a submission without trusting it: nothing is followed, only regular files are opened."""

from __future__ import annotations

import os
import stat

import pytest

from grader import submission
from grader.loader import LoadError, load_answers
from grader.submission import odd_name, printable, read_submission


def test_a_folder_is_read_in_path_order_and_other_files_are_not_opened(tmp_path):
    (tmp_path / "b.py").write_text("b = 2")
    (tmp_path / "a.py").write_text("a = 1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "answers.yaml").write_text("9.1a: 3")
    (tmp_path / "README.md").write_text("not graded")
    snap = read_submission(tmp_path)
    assert [n for n, _ in snap.files] == ["a.py", "b.py", "sub/answers.yaml"]
    assert snap.code() == [("a.py", b"a = 1"), ("b.py", b"b = 2")] and snap.refused == []
    assert snap.path_of("sub/answers.yaml") == tmp_path / "sub" / "answers.yaml"


def test_links_fifos_and_devices_are_refused_without_being_opened(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1")
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "link.py").symlink_to(secret)
    (folder / "dir").symlink_to(tmp_path)
    os.mkfifo(folder / "fifo.py")  # opening it for reading would block until a writer comes
    os.mknod(folder / "dev.py", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    snap = read_submission(folder)
    assert snap.files == []
    assert sorted(snap.refused) == [
        "dev.py: not read (a device)", "dir: not read (a symbolic link; links are not followed)",
        "fifo.py: not read (a FIFO)", "link.py: not read (a symbolic link; links are not followed)"]
    assert read_submission(folder / "link.py").refused == [
        "link.py: not read (a symbolic link; links are not followed)"]


def test_odd_names_are_refused_and_shown_escaped(tmp_path):
    (tmp_path / os.fsdecode(b"x\xff.py")).write_text("x = 1")
    (tmp_path / "tab\there.py").write_text("x = 1")
    snap = read_submission(tmp_path)
    assert snap.files == []
    assert snap.refused == ["tab\\x09here.py: not read (its name holds control characters)",
                            "x\\xff.py: not read (its name is not valid UTF-8)"]
    assert odd_name("normal-name_1.py") == "" and printable(os.fsdecode(b"a\xffb")) == "a\\xffb"


def test_huge_unreadable_and_deep_files_are_refused(tmp_path):
    with open(tmp_path / "huge.py", "wb") as fh:
        fh.truncate(submission.MAX_FILE_BYTES + 1)
    (tmp_path / "locked.py").write_text("x = 1")
    (tmp_path / "locked.py").chmod(0)
    deep = tmp_path.joinpath(*["d"] * (submission.MAX_DEPTH + 1))
    deep.mkdir(parents=True)
    (deep / "deep.py").write_text("x = 1")
    refused = "\n".join(read_submission(tmp_path).refused)
    assert f"huge.py: not read ({submission.MAX_FILE_BYTES + 1:,} bytes" in refused
    assert "locked.py: not read (unreadable" in refused
    assert "nested deeper than" in refused


def test_a_file_swapped_between_lstat_and_open_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("a = 1")
    real_fstat = os.fstat

    def other_file(fd):  # what fstat would say had the entry been replaced after lstat
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, st.st_ino + 1, *tuple(st)[2:]))

    monkeypatch.setattr(submission.os, "fstat", other_file)
    assert read_submission(tmp_path).refused == ["a.py: not read (it changed while it was read)"]


def test_the_digest_frames_every_file_so_different_submissions_never_collide(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    # the old digest hashed name + NUL + bytes + NUL: these two framed to the same bytes
    (one / "a.py").write_bytes(b"x\0b.py\0y")
    (two / "a.py").write_bytes(b"x")
    (two / "b.py").write_bytes(b"y")
    assert read_submission(one).digest("stage9") != read_submission(two).digest("stage9")
    assert read_submission(one).digest("stage9") == read_submission(one).digest("stage9")
    assert read_submission(one).digest("stage9") != read_submission(one).digest("chapter24")


def test_the_answer_loader_refuses_links_and_fifos(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text("9.1a: 3")
    (tmp_path / "link.yaml").symlink_to(real)
    os.mkfifo(tmp_path / "fifo.yaml")
    assert load_answers(real) == {"9.1a": "3"}
    with pytest.raises(LoadError, match="symbolic link"):
        load_answers(tmp_path / "link.yaml")
    with pytest.raises(LoadError, match="FIFO"):
        load_answers(tmp_path / "fifo.yaml")

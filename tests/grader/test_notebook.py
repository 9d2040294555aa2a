"""Notebook submissions (nbformat 4): code cells become one module without IPython syntax, answer cells
grade exactly like an answer file, a broken notebook costs its submission only, and the template
(`--template ID --format ipynb`) filled with the key scores full marks."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
import yaml

from answers.format import fmt
from grader import assignments
from grader.batch import grade_submission
from grader.loader import MAX_PARTS
from grader.notebook import MAX_CELLS, NotebookError, read_notebook
from grader.submission import MAX_FILE_BYTES, MAX_NOTEBOOK_BYTES, read_submission
from grader.variants import inputs_for, student_numbers
from peftcalc.cli import main

REFERENCE = Path(__file__).resolve().parents[2] / "grader" / "reference"
STUDENTS = Path(__file__).parent / "fixtures" / "students" / "answers.yaml"


def notebook(*cells: tuple[str, str], outputs: list[dict] | None = None, **metadata: object) -> bytes:
    """A notebook of (cell type, source) cells, as Jupyter saves it (sources as lists of lines)."""
    out = []
    for i, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update(outputs=outputs or [], execution_count=None)
        out.append(cell)
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": out}, indent=1).encode()


def code_of(*sources: str) -> list[str]:
    return read_notebook(notebook(*(("code", s) for s in sources))).source.decode().split("\n")


# ------------------------------------------------------------------------------------------ code cells
@pytest.mark.parametrize("line", ["%matplotlib inline", "%load_ext autoreload", "!pip install numpy",
                                  "files = !ls *.py", "x = %sx ls", "np.zeros?", "??np.zeros", "%timeit f()",
                                  "%time", "%who  "])
def test_ipython_lines_are_dropped_and_the_cell_keeps_its_line_count(line):
    nb = read_notebook(notebook(("code", f"a = 1\n{line}\nb = 2")))
    assert nb.source.decode().split("\n") == ["# cell 1", "a = 1", "", "b = 2", ""]
    assert nb.notes == [f"dropped 1 IPython line ({line.strip()})"]


def test_time_keeps_its_statement_because_later_cells_may_use_it():
    assert code_of("%time y = 2 * 3", "print(y)")[:5] == ["# cell 1", "y = 2 * 3", "", "# cell 2", "print(y)"]


def test_an_indented_shell_escape_becomes_pass_so_its_block_stays_valid():
    lines = code_of("for i in range(2):\n    !echo $i\nif True:\n    %time z = 1")
    assert lines[1:5] == ["for i in range(2):", "    pass", "if True:", "    z = 1"]
    compile("\n".join(lines), "nb", "exec")


def test_lines_inside_strings_brackets_and_continuations_are_python():
    cell = ('doc = """\n!this is text\n%so is this\n"""\n'
            "z = (7\n     % 2)\n"
            "w = 7 \\\n    % 2\n"
            "s = '''\n?not help\n'''  # !comment\n"
            "t = 'it\\'s'\n"
            "!echo after the strings")
    nb = read_notebook(notebook(("code", cell)))
    lines = nb.source.decode().split("\n")
    assert lines[1:-2] == cell.split("\n")[:-1] and lines[-2] == ""
    assert nb.notes == ["dropped 1 IPython line (!echo after the strings)"]
    scope: dict = {}
    exec(compile(nb.source, "nb", "exec"), scope)
    assert scope["doc"] == "\n!this is text\n%so is this\n" and scope["z"] == scope["w"] == 1


@pytest.mark.parametrize("magic", ["%%bash", "%%writefile lora.py", "%%html", "%%timeit -n 3"])
def test_a_cell_magic_cell_is_dropped_whole(magic):
    nb = read_notebook(notebook(("code", f"{magic}\nx = 1"), ("code", "y = 2")))
    assert nb.source.decode().split("\n") == ["# cell 1", "", "", "", "# cell 2", "y = 2", ""]
    assert nb.notes == [f"dropped 1 cell run by a cell magic (cell 1: {magic})"]


@pytest.mark.parametrize("magic", ["%%time", "%%capture out", "%%prun"])
def test_a_python_cell_magic_keeps_its_body(magic):
    nb = read_notebook(notebook(("code", f"\n{magic}\nx = 1\nprint(x)")))
    assert nb.source.decode().split("\n") == ["# cell 1", "", "", "x = 1", "print(x)", ""]
    assert nb.notes == [f"dropped 1 IPython line ({magic})"]


def test_cells_are_numbered_as_they_stand_and_only_code_counts_as_code():
    nb = read_notebook(notebook(("markdown", "# Title"), ("code", "# just a comment\n"), ("code", "x = 1")))
    assert nb.source.decode().split("\n")[:5] == ["# cell 2", "# just a comment", "", "", "# cell 3"]
    assert read_notebook(notebook(("code", "# nothing but comments"), ("code", "%matplotlib inline"))).source == b""


def test_a_notebook_of_another_language_has_no_code():
    kernel = {"name": "ir", "display_name": "R", "language": "R"}
    nb = read_notebook(notebook(("code", "x <- 1"), ("markdown", "9.2a: 1"), kernelspec=kernel))
    assert nb.source == b"" and nb.answers == {"9.2a": "1"}
    assert nb.notes == ["its kernel is R, not Python: code cells not graded"]


# ---------------------------------------------------------------------------------------- answer cells
@pytest.mark.parametrize("cell", [
    "9.2a: 65,536", "9.2a:65,536", "**9.2a**: 65,536", "**9.2a:** 65,536", "*9.2a*: 65,536", "`9.2a`: 65,536",
    "### 9.2a\n\n65,536", "## 9.2a:\n65,536", "#### **9.2a**\n65,536", "Exercise 9.2a: 65,536",
    "**Part 9.2a**: 65,536", "- 9.2a: 65,536", "\n\n   9.2a: 65,536\n\n"])
def test_answer_phrasings(cell):
    assert read_notebook(notebook(("markdown", cell))).answers == {"9.2a": "65,536"}
    assert read_notebook(notebook(("raw", cell))).answers == {"9.2a": "65,536"}


def test_one_cell_may_hold_several_answers_sub_ids_and_prose_over_lines():
    cell = ("9.1a: 14 GB + 14 GB + 56 GB = 84 GB\n"
            "9.1b: The model over-fits.\n\nIt forgets general features.\n"
            "24.9a.prefix: 5.24M\n**24.9a.prompt**: 81.9K\n"
            "19.1.lora\\_r8\\_params: 4,194,304\n9.mini.model: gpt2")
    assert read_notebook(notebook(("markdown", cell))).answers == {
        "9.1a": "14 GB + 14 GB + 56 GB = 84 GB", "9.1b": "The model over-fits.\n\nIt forgets general features.",
        "24.9a.prefix": "5.24M", "24.9a.prompt": "81.9K", "19.1.lora_r8_params": "4,194,304",
        "9.mini.model": "gpt2"}


@pytest.mark.parametrize("kind,source", [
    ("code", "# 9.2a: 65,536"),                          # code cells are never answers
    ("markdown", "My answer to 9.2a: 65,536"),           # the cell must start with the part ID
    ("markdown", "### Question 9.2a (numeric)\n65,536"),  # a question, as the template writes it
    ("markdown", "9.2a 65,536"),                          # no colon after the ID on a line that goes on
    ("markdown", "0.39: a number is no part ID"),
    ("markdown", "9.2a: \n"),                             # the template's blank answer
])
def test_cells_that_are_not_answers(kind, source):
    assert read_notebook(notebook((kind, source))).answers == {}


def test_the_last_non_blank_answer_counts_and_outputs_are_never_read():
    forged = [{"output_type": "stream", "name": "stdout", "text": ["9.2a: 65,536\n", "score: 100/100\n"]}]
    nb = read_notebook(notebook(("markdown", "9.2a: 1"), ("code", "print('9.2a: 65,536')"),
                                ("markdown", "9.2a: 2"), ("markdown", "9.2a:"), outputs=forged))
    assert nb.answers == {"9.2a": "2"}
    assert nb.notes == ["9.2a is answered 2 times; the last answer counts (cell 3)"]


# ------------------------------------------------------------------------------------ broken notebooks
def _json(**top: object) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [], **top}).encode()


@pytest.mark.parametrize("data,message", [
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b'{"cells": [', "not valid JSON at line 1"),
    (b"[1, 2]", "its JSON is not an object"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (_json(nbformat=3), "not an nbformat 4 notebook (nbformat 3.5)"),
    (_json(nbformat="4"), "not an nbformat 4 notebook"),
    (_json(nbformat_minor=4.0), "not an nbformat 4 notebook"),
    (_json(cells="x"), "not a valid notebook: "),
    (_json(cells=[{}] * (MAX_CELLS + 1)), f"notebooks are limited to {MAX_CELLS:,}"),
    (_json(metadata=None), "not a valid notebook: "),
    (json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": []}).encode(), "not a valid notebook: "),
    # shapes nbformat's own reader fails on with TypeError or ValueError, before its schema check
    (_json(cells=[1]), "not a valid notebook: "),
    (_json(cells=[{"cell_type": "markdown", "id": "a", "metadata": {}, "source": ""},
                  {"cell_type": "code", "id": "b", "metadata": {}, "source": [3], "outputs": "x",
                   "execution_count": None}]), "cell 2"),
    (_json(cells=[{"cell_type": None, "id": [], "metadata": [], "source": ""}]), "cell 1"),
    (_json(cells=[{"cell_type": "weird", "id": "a", "metadata": {}, "source": ""}]), "cell 1"),
    (_json(metadata={"a": json.loads("[" * 900 + "]" * 900)}), "nested too deeply"),  # valid, but too deep
    (notebook(("code", "x = 1\n" * (MAX_FILE_BYTES // 6 + 1))), f"code is limited to {MAX_FILE_BYTES:,}"),
    (notebook(*[("markdown", f"9.{i}a: " + "x" * 1000) for i in range(300)]), "answers are limited to"),
    (notebook(*[("markdown", f"9.{i}a: 1") for i in range(MAX_PARTS + 1)]), "an assignment has far fewer parts"),
])
def test_a_broken_notebook_is_one_message_never_a_traceback(data, message):
    with pytest.raises(NotebookError) as err:
        read_notebook(data)
    assert message in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 200


def test_cells_without_ids_read_without_a_warning():
    old = json.loads(notebook(("markdown", "9.2a: 1")))
    del old["cells"][0]["id"]
    assert read_notebook(json.dumps(old).encode()).answers == {"9.2a": "1"}  # filterwarnings=error: no warning


def test_notebooks_have_their_own_size_limit_and_the_digest_covers_their_bytes(tmp_path):
    big = tmp_path / "big.ipynb"
    padding = [{"output_type": "stream", "name": "stdout", "text": "x" * (MAX_FILE_BYTES + 10)}]
    big.write_bytes(notebook(("markdown", "9.2a: 1"), ("code", "x = 1"), outputs=padding))
    snap = read_submission(big)
    assert snap.refused == [] and snap.answer_sets() == [("big.ipynb", {"9.2a": "1"})]
    before = snap.digest("stage9")
    big.write_bytes(big.read_bytes().replace(b"xxxx", b"xxxy", 1))  # an output changed: other bytes, other hash
    assert read_submission(big).digest("stage9") != before
    with big.open("r+b") as fh:
        fh.truncate(MAX_NOTEBOOK_BYTES + 1)
    assert read_submission(big).refused == [
        f"big.ipynb: not read ({MAX_NOTEBOOK_BYTES + 1:,} bytes; notebooks are limited to {MAX_NOTEBOOK_BYTES:,})"]


def test_a_linked_notebook_is_refused_like_any_link(tmp_path):
    (tmp_path / "real.ipynb").write_bytes(notebook(("markdown", "9.2a: 1")))
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "hw.ipynb").symlink_to(tmp_path / "real.ipynb")
    snap = read_submission(tmp_path / "alice")
    assert snap.files == [] and snap.refused == ["hw.ipynb: not read (a symbolic link; links are not followed)"]


# -------------------------------------------------------------------------- grading: the same as a file
def _label(style: int, pid: str, answer: str) -> str:
    return [f"{pid}: {answer}", f"**{pid}**: {answer}", f"### {pid}\n\n{answer}", f"**{pid}:** {answer}",
            f"Exercise {pid}: {answer}"][style % 5]


def test_notebook_answers_grade_exactly_like_the_same_answers_in_a_yaml_file(tmp_path):
    """Round j answers each stage9 part with the j-th student fixture for it (right, partial and wrong ones),
    once in a YAML file and once in a notebook phrased another way each round (one round: one cell)."""
    by_part: dict[str, list[str]] = defaultdict(list)
    for entry in yaml.safe_load(STUDENTS.read_text()):
        if entry["part"].startswith("9."):
            by_part[entry["part"]].append(entry["answer"])
    rounds = max(len(v) for v in by_part.values())
    graded, statuses = 0, set()
    for j in range(rounds):
        given = {pid: answers[j] for pid, answers in by_part.items() if j < len(answers)}
        (tmp_path / f"r{j}.yaml").write_text(yaml.safe_dump(given, allow_unicode=True))
        cells = [("markdown", _label(j, pid, a)) for pid, a in given.items()]
        if j == 1:
            cells = [("markdown", "\n".join(source for _, source in cells))]
        (tmp_path / f"r{j}.ipynb").write_bytes(notebook(("markdown", "# My answers"), *cells))
        assert read_submission(tmp_path / f"r{j}.ipynb").answer_sets() == [(f"r{j}.ipynb", given)]
        from_yaml = grade_submission(tmp_path / f"r{j}.yaml", "stage9")
        result = grade_submission(tmp_path / f"r{j}.ipynb", "stage9")
        assert result.parts == from_yaml.parts, j
        graded += sum(p.status != "missing" for p in result.parts)
        statuses |= {p.status for p in result.parts}
    assert graded == sum(len(v) for v in by_part.values())
    assert statuses >= {"correct", "partial", "wrong", "missing"}


def _key_answers(assignment: str, numbers: dict) -> dict[str, str]:
    out = {}
    for part in assignments.get(assignment).parts():
        key = part.answer(**inputs_for(part.defaults, numbers))
        for name in part.described:  # what the student states (the mini-project's model): the key's own
            out[f"{part.id}.{name}"] = str(dict(part.defaults)[name])
        for item in key.items or (key,):
            out[item.id] = item.text if item.kind in ("conceptual", "proof") else fmt(item.value, item.unit)
    return out


def _fill(template: str, answers: dict[str, str]) -> str:
    nb = nbformat.reads(template, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = "\n".join(f"{line}{answers[line.rstrip(': ')]}" if line.rstrip(": ") in answers else line
                                    for line in cell.source.split("\n"))
    return nbformat.writes(nb)


def test_the_notebook_template_is_valid_and_filled_with_the_key_scores_full_marks(tmp_path, capsys):
    numbers = student_numbers("stage9", "alice", "fall26")
    assert main(["grade", "--template", "stage9", "--format", "ipynb", "--student", "alice", "--seed", "fall26"]) == 0
    text = capsys.readouterr().out
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.metadata.language_info.name) == (4, "python")
    assert f"d={numbers['d']:,}, k={numbers['k']:,}, r={numbers['r']}" in text and "student alice" in text
    assert read_notebook(text.encode()).answers == {}  # blank: every answer cell holds only its part ID
    assert [c.source for c in nb.cells if c.cell_type == "code"] and read_notebook(text.encode()).source == b""
    (tmp_path / "blank.ipynb").write_text(text)
    assert main(["grade", str(tmp_path / "blank.ipynb"), "--assignment", "stage9"]) == 2  # nothing filled in
    assert "blank.ipynb: neither code nor answers" in capsys.readouterr().err
    key = _key_answers("stage9", numbers)
    (tmp_path / "alice.ipynb").write_text(_fill(text, key))
    result = grade_submission(tmp_path / "alice.ipynb", "stage9", student="alice", seed="fall26", run_seed=1)
    analytic = [p for p in result.parts if p.id not in assignments.get("stage9").exercise_ids]
    assert len(analytic) >= 12 and all(p.score == p.max_score for p in analytic), \
        [(p.id, p.feedback) for p in analytic if p.score != p.max_score]


@pytest.mark.parametrize("assignment", ["chapter24", "lesson19"])
def test_every_part_and_sub_id_has_its_answer_cell(assignment, capsys):
    assert main(["grade", "--template", assignment, "--format", "ipynb"]) == 0
    text = capsys.readouterr().out
    ids = _key_answers(assignment, {})
    assert set(read_notebook(_fill(text, dict.fromkeys(ids, "1")).encode()).answers) == set(ids)
    code = [c for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "code"]
    assert bool(code) == assignments.get(assignment).has_code


def test_a_notebook_of_the_reference_solution_scores_full_marks_for_the_code(tmp_path):
    chunks = (REFERENCE / "stage9.py").read_text().split("\n\n\n")
    demo = "layer = LoRALayer(4, 3)\nprint('demo', layer.forward(np.ones((2, 4)), np.ones((3, 4))).shape)"
    (tmp_path / "alice.ipynb").write_bytes(notebook(
        ("markdown", "# Stage 9"), ("code", "%matplotlib inline"), ("code", "!pip install numpy"),
        *(("code", c) for c in chunks), ("code", demo)))
    result = grade_submission(tmp_path / "alice.ipynb", "stage9", run_seed=3)
    code = [p for p in result.parts if p.id in assignments.get("stage9").exercise_ids]
    assert len(code) == 8 and sum(p.score for p in code) == sum(p.max_score for p in code) == 38
    assert "alice.ipynb: dropped 2 IPython lines (%matplotlib inline, !pip install numpy)" in result.messages
    assert any("demo (2, 3)" in m for m in result.messages)  # the demo cell ran, in the jail


# ------------------------------------------------------------------------------- the CLI and a class
def test_a_class_of_notebooks_survives_a_broken_one(tmp_path, capsys):
    subs = tmp_path / "subs"
    (subs / "carol").mkdir(parents=True)
    (subs / "alice.ipynb").write_bytes(notebook(("markdown", "9.2a: 65,536")))
    (subs / "bob.ipynb").write_bytes(b'{"nbformat": 4, "cells": [')
    (subs / "carol" / "hw.ipynb").write_bytes(notebook(("markdown", "**9.2a**: 65536\n9.3a: adapters")))
    (subs / "carol" / "notes.md").write_text("not graded")
    (subs / "dave.ipynb").write_bytes(notebook(("markdown", "Nothing here yet")))
    assert main(["grade", str(subs), "--assignment", "stage9", "--json", "-"]) == 0
    results = {r["submission"]: r for r in json.loads(capsys.readouterr().out)}
    assert {n: r["score"] for n, r in results.items()} == {"alice": 2, "bob": 0, "carol": 3, "dave": 0}
    assert "bob.ipynb: not graded (not valid JSON at line 1" in results["bob"]["output"]
    assert "nothing to grade: dave.ipynb: neither code nor answers" in results["dave"]["output"]


def test_one_students_folder_holds_a_notebook_beside_an_answer_file(tmp_path, capsys):
    alice = tmp_path / "alice"
    alice.mkdir()
    (alice / "hw.ipynb").write_bytes(notebook(("code", "x = 1")))
    (alice / "answers.yaml").write_text("9.2a: 65536\n")
    from grader.cli import _submissions

    assert _submissions([alice]) == [("alice", alice)]


@pytest.mark.parametrize("data,reason", [
    (notebook(("markdown", "# Stage 9\nTo do"), ("code", "%matplotlib inline")),
     "hw.ipynb: neither code nor answers"),
    (b"not json", "hw.ipynb: not graded (not valid JSON at line 1"),
])
def test_the_cli_refuses_a_lone_notebook_with_nothing_to_grade(tmp_path, capsys, data, reason):
    (tmp_path / "hw.ipynb").write_bytes(data)
    assert main(["grade", str(tmp_path / "hw.ipynb"), "--assignment", "stage9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and "nothing to grade in" in err and "Traceback" not in err


def test_the_cli_refuses_an_empty_folder_and_an_unknown_format(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert main(["grade", str(tmp_path / "alice"), "--assignment", "stage9"]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["grade", "--template", "stage9", "--format", "pdf"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err and "ipynb" in err

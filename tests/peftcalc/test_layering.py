"""The one-way flow: torch only under peftcalc/verify; the library never imports the grader or answers.

The command line (``peftcalc/cli.py``) is the one consumer layered on top of everything: it registers the
``answer`` and ``grade`` commands, whose code lives in ``answers/`` and ``grader/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "peftcalc"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_torch_only_in_verify():
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if "verify" not in p.parts and {"torch", "transformers", "peft"} & imported_modules(p)]
    assert offenders == []


def test_no_upward_imports():
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if p.name != "cli.py" and {"grader", "answers"} & imported_modules(p)]
    assert offenders == []


def test_answers_use_no_grader_and_no_torch():
    answers = PKG.parent / "answers"
    offenders = [p.name for p in answers.rglob("*.py") if {"grader", "torch"} & imported_modules(p)]
    assert offenders == []

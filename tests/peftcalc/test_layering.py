"""The one-way flow: torch only under peftcalc/verify (and the experiments that train models); the library
never imports the grader or answers.

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


# the one optional backend outside verify: --via transformers, imported only when asked for
VIA = PKG / "arch" / "via_transformers.py"
# `peftcalc experiment miniproject` trains models: torch's side, like verify, imported only by its command
EXPERIMENT = PKG / "experiments" / "miniproject.py"


def test_torch_only_in_verify():
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "verify" not in p.parts
                 and p not in (VIA, EXPERIMENT) and {"torch", "transformers", "peft"} & imported_modules(p)]
    assert offenders == []


def test_the_experiment_is_imported_only_inside_functions():
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module
               and n.module.startswith("peftcalc.experiments.miniproject")]
        top += [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "peftcalc.experiments"
                and any(a.name == "miniproject" for a in n.names)]
        assert top == [], f"{path.relative_to(PKG)} imports the torch experiment at module level"


def test_via_transformers_is_imported_only_inside_functions():
    for path in (p for p in PKG.rglob("*.py") if "verify" not in p.parts):  # verify is torch's side anyway
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "peftcalc.arch.via_transformers"]
        assert top == [], f"{path.relative_to(PKG)} imports via_transformers at module level"
    top_level = {n.names[0].name for n in ast.parse(VIA.read_text()).body if isinstance(n, ast.Import)}
    assert not top_level & {"torch", "transformers", "peft"}  # only inside arch_via_transformers()


def test_no_upward_imports():
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if p.name != "cli.py" and {"grader", "answers"} & imported_modules(p)]
    assert offenders == []


def test_answers_use_no_grader_and_no_torch():
    answers = PKG.parent / "answers"
    offenders = [p.name for p in answers.rglob("*.py") if {"grader", "torch"} & imported_modules(p)]
    assert offenders == []

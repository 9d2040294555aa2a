"""The grader imports neither torch nor anything the student wrote at module level; answers never import it."""

import ast
from pathlib import Path

GRADER = Path(__file__).resolve().parents[2] / "grader"


def test_analytic_grader_needs_no_torch():
    for path in GRADER.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "torch" not in names, path.name
        assert "pickle" not in names, path.name

"""Regenerate the generated documents: ANSWERS.md (the key, then what the grader grades) and README.md's
coverage block. Tests fail when either is stale."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.coverage import BEGIN, END, coverage_markdown, readme_block  # noqa: E402
from peftcalc.cli import main  # noqa: E402


def run() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["answer", "--all", "--format", "markdown"])  # the key (answers/ knows nothing of the grader)
    (ROOT / "ANSWERS.md").write_text(out.getvalue() + "\n" + coverage_markdown(), encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    (ROOT / "README.md").write_text(readme[:start] + readme_block() + readme[end:], encoding="utf-8")
    print("wrote ANSWERS.md and README.md's coverage block")


if __name__ == "__main__":
    run()

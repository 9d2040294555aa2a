"""Time to grade each fixture answer file (hostile ones included), as a ratio to grading a correct one.

    python benchmarks/grader_hostile.py

Goal (issue 6): no input takes more than a second. Prints the slowest files.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.analytic import grade_file  # noqa: E402

CLASS = ROOT / "tests" / "grader" / "fixtures" / "class"
ASSIGNMENT = {"s9": "stage9", "c2": "chapter24", "l1": "lesson19"}


def timed(path: Path, assignment: str, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        grade_file(path, assignment)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    grade_file(CLASS / "s9_correct_plain.yaml", "stage9")  # warm imports and the key
    baseline = timed(CLASS / "s9_correct_plain.yaml", "stage9")
    files = [(p, ASSIGNMENT[p.name[:2]]) for p in sorted(CLASS.iterdir())]
    with tempfile.TemporaryDirectory() as tmp:
        huge = Path(tmp) / "s9_huge_10MB.yaml"
        huge.write_text("9.2a: " + "6" * (10 * 2**20))
        files.append((huge, "stage9"))
        rows = sorted(((timed(p, a), p.name) for p, a in files), reverse=True)
    print(f"baseline (s9_correct_plain.yaml): {baseline * 1e3:.1f} ms")
    for t, name in rows[:10]:
        print(f"  {name:32} {t * 1e3:8.1f} ms  {t / baseline:6.2f}× baseline")
    print(f"slowest: {rows[0][0] * 1e3:.1f} ms (goal < 1000 ms)")


if __name__ == "__main__":
    main()

"""CPU per stage9 submission of a sandboxed batch, grader and jails apart, unaffected by other load.

    python benchmarks/grading_cpu.py ROOT

ROOT is a checkout (this one: ``.``; an older commit unpacked elsewhere, for an A/B). Grades 100 copies
of the reference solution with ``--jobs 2`` three times and prints, per submission, the grader's own CPU
(``RUSAGE_SELF``) and its jails' (``RUSAGE_CHILDREN``: every jail process is reaped by the time
``grade_class`` returns), jail start-up included. On a machine that others share, wall-clock throughput
(``grading.py``) drifts with their load; CPU per submission does not.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
sys.path.insert(0, str(ROOT))

from grader.batch import grade_class  # noqa: E402


def cpu() -> tuple[float, float]:
    """(this process's CPU seconds, its reaped descendants')."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    reference = (ROOT / "grader" / "reference" / "stage9.py").read_text()
    tmp = Path(tempfile.mkdtemp())
    try:
        paths = []
        for i in range(100):
            path = tmp / f"student{i:03d}.py"
            path.write_text(reference + f"\n# student {i}\n")
            paths.append(path)
        grade_class([(p.stem, p) for p in paths[:4]], "stage9", jobs=2, run_seed=7)  # untimed: imports
        rounds = []
        for _ in range(3):
            (self0, kids0), wall0 = cpu(), time.perf_counter()
            results = grade_class([(p.stem, p) for p in paths], "stage9", jobs=2, run_seed=7)
            (self1, kids1), wall1 = cpu(), time.perf_counter()
            if not all(r.score == r.max_score for r in results):
                sys.exit("not every copy of the reference solution scored full marks: not comparable")
            n = len(paths)
            rounds.append(f"grader {1000 * (self1 - self0) / n:.1f} + jails {1000 * (kids1 - kids0) / n:.1f} ms "
                          f"CPU/submission, wall {wall1 - wall0:.2f} s")
        print(f"{ROOT}: " + "; ".join(rounds))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()

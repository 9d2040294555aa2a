"""Throughput of code grading: 100 stage9 submissions, --jobs 2, sandboxed vs the same checks in-process.

    python benchmarks/grading.py [--n 100] [--jobs 2]

Prints submissions/second both ways and the sandbox overhead as a ratio (goal in issue 7: ≤ 1.5×).
In-process = import each submission and run every check's ops and judge in this process, no isolation
(what a naive grader does). Sandboxed = grader.batch.grade_class, one jail per submission.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch import grade_class  # noqa: E402
from grader.code import harness  # noqa: E402
from grader.code.runner import build_checks  # noqa: E402


def in_process(paths: list[Path], seed: int) -> float:
    start = time.perf_counter()
    for path in paths:
        checks = build_checks("stage9", seed)
        module = harness.load_module(str(path))
        for check in checks:
            try:
                check.judge(harness.run_ops(module, check.ops), None)
            except Exception as exc:  # noqa: BLE001
                check.judge(None, repr(exc))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    reference = ROOT / "grader" / "reference" / "stage9.py"
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.n):
            p = Path(tmp) / f"student{i:03d}.py"
            shutil.copy(reference, p)
            p.write_text(p.read_text() + f"\n# student {i}\n")
            paths.append(p)
        t_in = in_process(paths, 7)
        start = time.perf_counter()
        results = grade_class([(p.stem, p) for p in paths], "stage9", jobs=args.jobs, run_seed=7)
        t_box = time.perf_counter() - start
    full = sum(r.score == r.max_score for r in results)
    print(f"{args.n} stage9 submissions ({full} full marks), jobs={args.jobs}")
    print(f"  in-process, no isolation: {t_in:7.2f} s  {args.n / t_in:7.1f} submissions/s")
    print(f"  sandboxed (namespaces):   {t_box:7.2f} s  {args.n / t_box:7.1f} submissions/s")
    print(f"  overhead: {t_box / t_in:.2f}× (goal ≤ 1.5×)")


if __name__ == "__main__":
    main()

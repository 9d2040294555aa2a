"""Throughput of code grading: 100 stage9 submissions, --jobs 2, sandboxed vs the same checks in-process.

    python benchmarks/grading.py [--n 100] [--jobs 2] [--rounds 5]

Prints submissions/second both ways and the sandbox overhead as a ratio (goal in issue 7: ≤ 1.5×).
In-process = the grader's own path (content hash, building the hidden checks, judging, the report) with
the jail replaced by running the plan in this process, one submission after another, no isolation
(threads would not speed it up: the work holds the GIL). Sandboxed = ``grader.batch.grade_class`` with
``jobs`` warm jails, jail start-up included. Everything but the isolation is the same code.

The two are measured in alternating rounds and the ratio is taken per round (the in-process run just
before the sandboxed one): on a shared, noisy machine the speed of the whole machine drifts by ±30 %
within a minute, which a single pair of measurements would mistake for overhead. One untimed round of
each comes first (this process's imports and first calls). The median round is the result; the ratio of
the best times of each (as ``timeit`` would report) is printed too. Each round also prints the machine's
busy CPU per submission (from /proc/stat), so that a slow round can be told apart from a slow grader.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch import content_hash, grade_class, grade_submission  # noqa: E402
from grader.sandbox import Plan, SandboxResult, ops  # noqa: E402

SEED = 7


class InProcess:
    """Stands in for the jail: the same plan run in this process — compile, exec, every check's ops (as the
    harness runs them), plain-data records — with no fork, no namespace, no limits."""

    def run(self, plan: Plan, source: bytes) -> SandboxResult:
        start = time.perf_counter()
        module = types.ModuleType("submission")
        exec(compile(source, "submission.py", "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - our own reference copies
        records = {record["id"]: record for record in ops.run_all(module, plan.checks)}
        return SandboxResult(records, "", "", time.perf_counter() - start, "none (in-process)")


def in_process(paths: list[Path]) -> int:
    """The grader's own path (content hash, plan, judging, report), one submission after another, with the
    jail replaced by :class:`InProcess`; returns how many scored full marks."""
    runner = InProcess()
    full = 0
    for path in paths:
        content_hash(path, "stage9")
        result = grade_submission(path, "stage9", name=path.stem, run_seed=SEED, jail=runner)
        full += result.score == result.max_score
    return full


def sandboxed(paths: list[Path], jobs: int) -> int:
    results = grade_class([(p.stem, p) for p in paths], "stage9", jobs=jobs, run_seed=SEED)
    return sum(r.score == r.max_score for r in results)


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine; (0, 0) where /proc/stat is missing."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def measure(run: Callable[[], int]) -> tuple[float, float, float, int]:
    """(wall seconds, busy CPU seconds, share of all cores busy, full marks) of one call."""
    busy0, total0 = _cpu_ticks()
    start = time.perf_counter()
    full = run()
    wall = time.perf_counter() - start
    busy1, total1 = _cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    return wall, (busy1 - busy0) / hz, (busy1 - busy0) / max(1, total1 - total0), full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="submissions per round (default 100)")
    ap.add_argument("--jobs", type=int, default=2, help="jails at a time (default 2)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating in-process/sandboxed rounds (default 5)")
    args = ap.parse_args()
    reference = ROOT / "grader" / "reference" / "stage9.py"
    ratios: list[float] = []
    best_in = best_box = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.n):
            p = Path(tmp) / f"student{i:03d}.py"
            shutil.copy(reference, p)
            p.write_text(p.read_text() + f"\n# student {i}\n")
            paths.append(p)
        print(f"{args.n} stage9 submissions (copies of the reference solution), jobs={args.jobs}, {os.cpu_count()} cores")
        # untimed: what this process pays once (imports, numpy's first calls) is neither side's per-run cost;
        # every sandboxed round still starts its own jails
        in_process(paths[:4])
        sandboxed(paths[:4], args.jobs)
        print("round  in-process s  sub/s  CPU ms/sub │ sandboxed s  sub/s  CPU ms/sub  cores busy │ overhead")
        for k in range(1, args.rounds + 1):
            w_in, c_in, _, f_in = measure(lambda: in_process(paths))
            w_box, c_box, busy, f_box = measure(lambda: sandboxed(paths, args.jobs))
            if f_in != args.n or f_box != args.n:
                sys.exit(f"round {k}: full marks in-process {f_in}, sandboxed {f_box} of {args.n}: not comparable")
            ratios.append(w_box / w_in)
            best_in, best_box = min(best_in, w_in), min(best_box, w_box)
            print(f"{k:5d}  {w_in:12.2f}  {args.n / w_in:5.0f}  {1000 * c_in / args.n:10.1f} │ {w_box:11.2f}  "
                  f"{args.n / w_box:5.0f}  {1000 * c_box / args.n:10.1f}  {busy:9.0%} │ {w_box / w_in:7.2f}×")
    print(f"overhead, median of {args.rounds} rounds: {statistics.median(ratios):.2f}× "
          f"(range {min(ratios):.2f}–{max(ratios):.2f}×; goal ≤ 1.5×)")
    print(f"best times: in-process {best_in:.2f} s, sandboxed {best_box:.2f} s: {best_box / best_in:.2f}× "
          f"({args.n / best_box:.0f} submissions/s sandboxed)")


if __name__ == "__main__":
    main()

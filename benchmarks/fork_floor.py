"""The floor of fork-per-submission isolation on this machine: the stage9 checks in-process vs in a fork.

    python benchmarks/fork_floor.py [--n 100] [--rounds 3]

A clean interpreter (``-I -S``, as the jail's init starts) imports the harness and numpy as a jail does,
then, alternating per round: compiles, runs and encodes all stage9 checks on the reference solution
``n`` times in its own process (the baseline), and ``n`` times each in a fresh fork, as the jail grades
every submission. Prints CPU per submission both ways (the fork's own and its parent's, from rusage),
the page faults, and the ratio. No namespaces, no grader process and no judging: what remains is what
the fork alone costs, which no change to the grader can remove (issue 7's throughput analysis,
benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, os, resource, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import harness, ops
plan = json.load(open(sys.argv[3]))
path, n, rounds = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
for name in harness.PRELOAD:
    __import__(name)

def grade():
    return harness._encode({"batch": ops.run_all(ops.load_module(path), plan)}).decode()

def usage():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (me.ru_utime + me.ru_stime, me.ru_minflt, kids.ru_utime + kids.ru_stime, kids.ru_stime, kids.ru_minflt)

grade()
for _ in range(rounds):
    a = usage()
    for _ in range(n):
        grade()
    b = usage()
    for _ in range(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.write(w, grade()[:1].encode())
            finally:
                os._exit(0)
        os.close(w)
        os.read(r, 1)
        os.close(r)
        os.waitpid(pid, 0)
    c = usage()
    print(json.dumps({"in_process": (b[0] - a[0]) / n, "fork": ((c[0] - b[0]) + (c[2] - b[2])) / n,
                      "fork_kernel": (c[3] - b[3]) / n, "faults_fork": (c[4] - b[4]) / n,
                      "faults_parent": (c[1] - b[1]) / n}), flush=True)
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100, help="submissions per round and way (default 100)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import numpy

    from grader.code.runner import run_checks

    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp, "plan.json")
        plan.write_text(json.dumps(run_checks("stage9", 7)[1]))
        submission = Path(tmp, "submission.py")
        submission.write_bytes((ROOT / "grader" / "reference" / "stage9.py").read_bytes())
        site = str(Path(numpy.__file__).resolve().parents[1])
        python = str(Path(sys.executable).resolve())
        env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # as in a jail
        cmd = [python, "-I", "-S", "-c", CHILD, str(ROOT / "grader" / "sandbox"), site, str(plan), str(submission),
               str(args.n), str(args.rounds)]
        print(f"stage9 checks on the reference solution, {args.n} per round and way, {os.cpu_count()} cores")
        print("round  in-process ms CPU │ in a fork ms CPU  (kernel)  faults │ extra ms  ratio")
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as proc:
            assert proc.stdout is not None
            for k, line in enumerate(proc.stdout, 1):
                r = json.loads(line)
                base, fork = 1000 * r["in_process"], 1000 * r["fork"]
                print(f"{k:5d}  {base:16.2f} │ {fork:16.2f}  {1000 * r['fork_kernel']:8.2f}  "
                      f"{r['faults_fork'] + r['faults_parent']:6.0f} │ {fork - base:8.2f}  {fork / base:5.2f}×")
        if proc.returncode:
            sys.exit(f"the measuring interpreter failed (exit {proc.returncode})")


if __name__ == "__main__":
    main()

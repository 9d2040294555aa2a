"""Start-up cost of a calculation command vs. importing sympy, measured in the same run.

    python benchmarks/cli_latency.py [--runs 15]

Prints the median wall and CPU time of ``peftcalc lora --d 4096 --r 8`` (table output, as a user runs it)
and of ``python -c "import sympy"``, each a fresh process, and their ratio to the baseline (goal ≤ 1.5), plus the floor any CLI on
sympy + pydantic + rich pays before doing anything.
"""

from __future__ import annotations

import argparse
import compileall
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def one_run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = str(Path(sys.executable).with_name("peftcalc"))  # the installed console script users run
    commands = {
        "baseline: python -c 'import sympy'": [sys.executable, "-c", "import sympy"],
        # what any CLI on these dependencies pays: sympy's first Add lazily imports sympy.tensor (~40 ms)
        "floor: sympy+pydantic+rich, first Add": [sys.executable, "-c", "import sympy, argparse, pydantic; "
                                                  "from pydantic import BaseModel; import rich.console, rich.table; "
                                                  "sympy.Symbol('x') + 1"],
        "peftcalc lora --d 4096 --r 8": [script, "lora", "--d", "4096", "--r", "8"],
        "peftcalc lora --model llama-2-7b --json": [script, "lora", "--model",
                                                    "llama-2-7b", "--json"],
        "peftcalc memory --model llama-2-7b --method qlora": [script, "memory", "--model",
                                                              "llama-2-7b", "--method", "qlora"],
    }
    # A pip install byte-compiles packages (sympy's .pyc files exist); an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would recompile peftcalc on every run. Compile it once, like pip does.
    import peftcalc

    compileall.compile_dir(str(Path(peftcalc.__file__).parent), quiet=1)
    for cmd in commands.values():  # warm the file cache once
        subprocess.run(cmd, check=True, capture_output=True)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so a burst of load hits every command alike
        for name, cmd in commands.items():
            samples[name].append(one_run(cmd))
    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}
    base = "baseline: python -c 'import sympy'"
    print(f"median of {args.runs} interleaved runs each (python {sys.version.split()[0]})")
    print(f"  {'command':<52} {'wall':>9} {'ratio':>6} {'cpu':>9} {'ratio':>6}")
    for name in commands:
        print(f"  {name:<52} {wall[name] * 1000:7.1f}ms {wall[name] / wall[base]:6.2f} "
              f"{cpu[name] * 1000:7.1f}ms {cpu[name] / cpu[base]:6.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Set up a fresh virtual environment with the test extras and run the whole test suite.
# torch (CPU build, 2.13.0, from this workplace's local wheel) enables the torch-backed property tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev,torch]'
.venv/bin/python -m pytest tests --doctest-modules peftcalc "$@"

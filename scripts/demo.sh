#!/usr/bin/env bash
# Set up a fresh virtual environment with peftcalc and run the demo calculation.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q .
.venv/bin/peftcalc lora --d 4096 --r 8

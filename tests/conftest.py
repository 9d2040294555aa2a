"""Shared fixtures: golden loaders on sys.path, a fixed-width rich console, torch skipping."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/golden.py


@pytest.fixture
def console():
    from rich.console import Console

    return Console(width=140, file=io.StringIO(), color_system=None, highlight=False)

# hostile submissions for the sandbox tests: data, never to be imported by pytest itself
collect_ignore_glob = ["grader/code/attacks/*"]


@pytest.fixture(scope="module", autouse=True)
def _close_warm_jails():
    """The mutation tests' warm jails (tests/mutation.py) end with the module that used them: the attack suite
    checks that nothing of its own batch is left running, and a warm jail would look like something."""
    yield
    if "mutation" in sys.modules:
        sys.modules["mutation"].close_jails()

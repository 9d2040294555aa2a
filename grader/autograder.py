"""A Gradescope autograder for one assignment: ``peftcalc grade --autograder ID --output autograder.zip``.

Gradescope's layout (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the zip holds
``setup.sh`` and ``run_autograder`` at its root; Gradescope unpacks it into ``/autograder/source``, runs
``setup.sh`` once as root while it builds the image (Ubuntu), copies ``run_autograder`` to
``/autograder/run_autograder`` and runs it for every submission, which lies in ``/autograder/submission``;
the score is read from ``/autograder/results/results.json``.

What is in the zip besides: ``peftcalc-src/``, this installed peftcalc's own packages (peftcalc, answers,
grader) with a ``pyproject.toml`` carrying its installed metadata (name, version, dependencies, extras), so
the image grades with exactly the version that built the zip; ``assignment.json`` says which assignment.
``run_autograder`` honours ``AUTOGRADER_ROOT`` (default ``/autograder``) and ``PEFTCALC_PYTHON`` (default
the image's venv), so a dry run needs neither root nor Gradescope.

In Gradescope's container the jail usually cannot make namespaces (no CAP_SYS_ADMIN): it then runs each
submission as a child process under a jail uid (setpriv) with seccomp and its rlimits — it cannot write the
results or read root's files, but it can read what any user can, so the reference solutions are left out
of the zip; the per-submission container is the rest of the isolation.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import stat
import zipfile
from pathlib import Path

from grader import assignments
from grader.assignments.assignment import describe

PACKAGES = ("peftcalc", "answers", "grader")
SOURCE = "peftcalc-src"
# the CPU build of torch: PyPI's default build pulls several GB of CUDA libraries
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
SKIPPED = ("__pycache__", ".pyc", ".pyo")
# never in the image: in Gradescope's container the jail runs without namespaces and a submission can read
# what any user can (module docstring), and the reference solutions are what a student must not see
SECRET = ("grader/reference",)


def setup_sh(assignment_id: str, torch_requirement: str | None) -> str:
    torch = (f'"$VENV/bin/pip" install --quiet "{torch_requirement}" --index-url {TORCH_INDEX}\n'
             if torch_requirement else "")
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (from /autograder/source).
set -euo pipefail
cd "$(dirname "$0")"
if ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q python3 python3-venv python3-pip
fi
VENV=/autograder/peftcalc-venv
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
{torch}"$VENV/bin/pip" install --quiet ./{SOURCE}
"$VENV/bin/python" -m peftcalc grade --spec {assignment_id} >/dev/null   # the install can grade it
"""


def run_autograder(assignment_id: str) -> str:
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every submission: it grades $AUTOGRADER_ROOT/submission and writes
# $AUTOGRADER_ROOT/results/results.json. A dry run: AUTOGRADER_ROOT=some/folder PEFTCALC_PYTHON=python3 bash run_autograder
set -euo pipefail
export AUTOGRADER_ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PY="${{PEFTCALC_PYTHON:-$AUTOGRADER_ROOT/peftcalc-venv/bin/python}}"
exec "$PY" -m peftcalc grade --gradescope --assignment {assignment_id}
"""


def requirements() -> tuple[list[str], dict[str, list[str]]]:
    """This installation's requirements: (always, {extra: its requirements}), from its metadata."""
    required: list[str] = []
    extras: dict[str, list[str]] = {}
    for requirement in importlib.metadata.distribution("peftcalc").requires or []:
        match = re.match(r'(.*?);\s*extra\s*==\s*"([^"]+)"\s*$', requirement)
        if match:
            extras.setdefault(match.group(2), []).append(match.group(1).strip())
        else:
            required.append(requirement)
    return required, extras


def pyproject() -> str:
    """A pyproject.toml for the bundled packages, from this installation's own metadata."""
    dist = importlib.metadata.distribution("peftcalc")
    required, extras = requirements()

    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    lines = ["[build-system]", 'requires = ["setuptools>=77", "wheel"]', 'build-backend = "setuptools.build_meta"', "",
             "[project]", f'name = "{dist.metadata["Name"]}"', f'version = "{dist.version}"',
             f'requires-python = "{dist.metadata.get("Requires-Python") or ">=3.10"}"',
             f"dependencies = {toml_list(required)}", "", "[project.optional-dependencies]"]
    lines += [f"{name} = {toml_list(reqs)}" for name, reqs in extras.items()]
    lines += ["", "[project.scripts]", 'peftcalc = "peftcalc.cli:entry_point"', "",
              "[tool.setuptools.packages.find]", f"include = {toml_list([p + '*' for p in PACKAGES])}", "",
              "[tool.setuptools.package-data]", '"*" = ["*.json", "*.typed", "*.txt", "*.md", "*.yaml"]', ""]
    return "\n".join(lines)


def _package_files() -> list[tuple[Path, str]]:
    """(file, its name in the zip) for every file of the bundled packages, bytecode left out."""
    import importlib

    out: list[tuple[Path, str]] = []
    for name in PACKAGES:
        root = Path(importlib.import_module(name).__file__).resolve().parent
        for path in sorted(root.rglob("*")):
            rel = f"{name}/{path.relative_to(root).as_posix()}"
            if path.is_file() and not any(s in path.parts or path.name.endswith(s) for s in SKIPPED) \
                    and not any(rel.startswith(secret + "/") for secret in SECRET):
                out.append((path, f"{SOURCE}/{rel}"))
    return out


def _torch_requirement() -> str:
    """torch as the ``torch`` extra pins it."""
    return next((r for r in requirements()[1].get("torch", []) if r.startswith("torch")), "torch")


def write_zip(assignment_id: str, output: Path) -> list[str]:
    """Write the autograder zip for ``assignment_id``; returns the names it holds."""
    declared = assignments.get(assignment_id)
    torch = _torch_requirement() if declared.needs_torch else None
    executable, readable = (stat.S_IFREG | 0o755) << 16, (stat.S_IFREG | 0o644) << 16
    names: list[str] = []
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text, mode in (("setup.sh", setup_sh(declared.id, torch), executable),
                                 ("run_autograder", run_autograder(declared.id), executable),
                                 ("assignment.json", json.dumps(describe(declared), indent=1),
                                  readable),
                                 (f"{SOURCE}/pyproject.toml", pyproject(), readable)):
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = mode
            zf.writestr(info, text)
            names.append(name)
        for path, arcname in _package_files():
            zf.write(path, arcname)
            names.append(arcname)
    return names

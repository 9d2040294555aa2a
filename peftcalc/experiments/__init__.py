"""``peftcalc.experiments``: reference runs that train real models (``peftcalc experiment NAME``).

Needs the ``torch`` extra (``pip install 'peftcalc[torch]'``: torch and the scikit-learn that ships the
data). Importing this package imports neither: the experiment modules import torch, and only the
command that runs them imports those.

- ``miniproject``: Stage 9's mini-project — LoRA from scratch with merge, a small transformer pretrained
  and then fine-tuned (full, LoRA r=4/16, a rank sweep, QLoRA on an NF4 base), on scikit-learn's digits.

    >>> from peftcalc.experiments import EXPERIMENTS
    >>> EXPERIMENTS
    ('miniproject',)
"""

from __future__ import annotations

import importlib.util
import sys

EXPERIMENTS = ("miniproject",)

INSTALL_HINT = "pip install 'peftcalc[torch]'"


def missing_dependency() -> str | None:
    """One line naming what the experiments need and is not installed, or ``None``.

    Nothing is imported: a module counts as present when it is already imported or can be found, and as
    missing when it cannot be found or is blocked (``sys.modules[name] = None``).

        >>> missing_dependency() is None or "peftcalc[torch]" in missing_dependency()
        True
    """
    missing = []
    for module, dist in (("torch", "torch==2.13.0"), ("sklearn", "scikit-learn")):
        if module in sys.modules:
            found = sys.modules[module] is not None
        else:
            found = importlib.util.find_spec(module) is not None
        if not found:
            missing.append(dist)
    if not missing:
        return None
    return f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: {INSTALL_HINT}"

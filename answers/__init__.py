"""The course's answer key, computed by peftcalc: worked answers to every analytical question of the seeds.

    >>> import answers
    >>> answers.answer("9.2a").value
    65536
    >>> answers.answer("9.2a", r=16).value       # a variant: same code, other numbers
    131072

Part IDs: ``9.1a``…``9.4c`` (Stage 9), ``24.1a``…``24.10d`` (Chapter 24), ``19.1.*``…``19.4.*``
(Lesson 19's named quantities) and ``seed003.*`` / ``seed004.*`` (the seeds' printed figures).
"""

from __future__ import annotations

import re
from functools import cache

from answers.key import Accepted, Answer, Mistake, Part, RubricPoint, Tolerance

__all__ = ["KEYS", "Accepted", "Answer", "Mistake", "Part", "RubricPoint", "Tolerance", "answer", "all_ids", "get",
           "parts", "with_prefix"]

# the key's modules, one per source document's exercises (the grader's assignments pick their parts by prefix)
KEYS = ("answers.stage9", "answers.miniproject", "answers.chapter24", "answers.lesson19")


@cache
def _registry() -> dict[str, Part]:
    import importlib

    from answers import figures

    found: list[Part] = []
    for module in KEYS:
        found += importlib.import_module(module).PARTS
    found += figures.build()
    return {p.id: p for p in sorted(found, key=lambda p: sort_key(p.id))}


def sort_key(part_id: str) -> tuple[object, ...]:
    """Exercise order: 9.2a < 9.10a < 9.mini < 19.1.* < 24.1a < 24.10a < seed003.* (a stable sort keeps the
    order in which a module registers the quantities of one exercise, e.g. a table's rows)."""
    match = re.match(r"(\d+)\.(\d+)([a-z]?)", part_id)
    if match:
        return (0, int(match.group(1)), int(match.group(2)), match.group(3))
    match = re.match(r"(\d+)\.([a-z]\w*)", part_id)  # 9.mini: after the chapter's numbered exercises
    if match:
        return (0, int(match.group(1)), 10**6, match.group(2))
    return (1, part_id.split(".", 1)[0], 0, "")


def parts() -> list[Part]:
    """Every part, in natural order."""
    return list(_registry().values())


def with_prefix(prefix: str) -> list[Part]:
    """The parts whose IDs start with ``prefix`` (``9.``: Stage 9's), in natural order.

        >>> [p.id for p in with_prefix("9.1")][:2]
        ['9.1a', '9.1b']
    """
    return [p for p in parts() if p.id.startswith(prefix)]


def get(part_id: str) -> Part:
    from peftcalc.errors import InputError

    registry = _registry()
    if part_id not in registry:
        near = [p for p in registry if p.startswith(part_id)]
        hint = f"one of {', '.join(near[:8])}" if near else "a part ID from `peftcalc answer --list`"
        raise InputError("ID", part_id, hint)
    return registry[part_id]


def answer(part_id: str, **inputs: object) -> Answer:
    """The worked answer to one part; keyword arguments give a variant of the question.

    A multi-value part's named values are answers too: ``answer("24.9a.ratio")``.
    """
    parent = part_id.rsplit(".", 1)[0]
    if part_id not in _registry() and parent in _registry():
        whole = get(parent).answer(**inputs)
        for item in whole.items:
            if item.id == part_id:
                return item
    return get(part_id).answer(**inputs)


def all_ids() -> list[str]:
    """Every answerable ID: the parts and the named values of multi-value parts."""
    ids: list[str] = []
    for p in parts():
        ids.append(p.id)
        if p.kind == "group":
            ids += [item.id for item in p.answer().items]
    return ids

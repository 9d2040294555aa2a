"""``peftcalc answer``: the worked answers on the command line (parsing and printing only)."""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from typing import Any


def add_command(sub: Any) -> None:
    p = sub.add_parser("answer", help="the worked answer key of the course exercises",
                       description="Worked answers to every analytical question of the seeds: assumptions, "
                                   "formula, substitution, result, accepted conventions and grading rubric.",
                       epilog="examples:\n  peftcalc answer 24.4d\n  peftcalc answer 9.2a --set r=16\n"
                              "  peftcalc answer --list\n  peftcalc answer --all --format markdown   # the key (ANSWERS.md: scripts/refresh_docs.py)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("id", nargs="?", help="part ID, e.g. 9.2a, 24.4d, 19.1.lora_r8_params")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list every part ID with its question")
    what.add_argument("--all", action="store_true", help="every worked answer")
    p.add_argument("--format", choices=["text", "markdown", "json"], default=None,
                   help="output format (default text; --json is short for --format json)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="answer a variant: change one of the question's inputs (repeatable), e.g. --set r=16")
    p.set_defaults(handler=run)


def _value(text: str) -> object:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        pass
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return text


def _inputs(pairs: list[str]) -> dict[str, object]:
    from peftcalc.errors import InputError

    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError("--set", pair, "NAME=VALUE, e.g. r=16")
        out[name.strip()] = _value(value.strip())
    return out


def run(ns: argparse.Namespace) -> int:
    import answers
    from answers.render import render_list, render_markdown, render_text
    from peftcalc.errors import InputError

    fmt = "json" if ns.json else (ns.format or "text")
    if ns.list:
        if fmt == "json":
            _print_json([{"id": p.id, "kind": p.kind, "question": p.question, "source": p.source,
                          "inputs": dict(p.defaults)} for p in answers.parts()])
        else:
            print(render_list(answers.parts()))
        return 0
    if ns.all:
        if ns.id or ns.set:
            raise InputError("--all", "with an ID or --set", "on its own (every part, the seeds' numbers)")
        every = [p.answer() for p in answers.parts()]
        if fmt == "json":
            _print_json([a.to_json() for a in every])
        elif fmt == "markdown":
            sys.stdout.write(render_markdown(every))
        else:
            print("\n\n".join(render_text(a) for a in every))
        return 0
    if not ns.id:
        raise InputError("ID", "(none)", "a part ID, --list or --all")
    ans = answers.answer(ns.id, **_inputs(ns.set))
    if fmt == "json":
        _print_json(ans.to_json())
    elif fmt == "markdown":
        sys.stdout.write(render_markdown([ans]))
    else:
        print(render_text(ans))
    return 0


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))

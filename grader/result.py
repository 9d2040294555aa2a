"""What grading one part produces (data, never an exception), and how feedback quotes what a student wrote."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

QUOTE_LIMIT = 80  # characters of a student's answer quoted back in feedback


@dataclass(frozen=True)
class PartResult:
    id: str
    score: Fraction
    max_score: Fraction
    feedback: str
    status: str                 # correct, accepted, partial, wrong, missing, unreadable, review
    needs_review: bool = False
    convention: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "score": float(self.score), "max_score": float(self.max_score),
                "feedback": self.feedback, "status": self.status, "needs_review": self.needs_review,
                "convention": self.convention}


def answer_text(raw: Any) -> str:
    """A loaded answer (string, number, list, mapping) as the text a person would read."""
    if isinstance(raw, (list, tuple)):
        return ", ".join(answer_text(x) for x in raw)
    if isinstance(raw, dict):
        return "; ".join(f"{k}: {answer_text(v)}" for k, v in raw.items())
    return "" if raw is None else str(raw).strip()


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A student's words in quotes, shortened at a word boundary (never mid-word) when long.

    >>> quote("about 4.1 GB")
    '"about 4.1 GB"'
    >>> quote("word " * 40, limit=20)
    '"word word word word …"'
    """
    text = " ".join(str(text).split())
    if len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
        text = cut.rstrip(",;:") + " …"
    return f'"{text}"'


def sentences(text: str, limit: int) -> str:
    """The first whole sentences of ``text`` that fit in ``limit`` characters (at least the first one).

    >>> sentences("Adapters stay. LoRA merges. Prompt tuning keeps p·d.", 30)
    'Adapters stay. LoRA merges.'
    """
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    out = parts[0]
    for part in parts[1:]:
        if len(out) + 1 + len(part) > limit:
            break
        out += " " + part
    return out

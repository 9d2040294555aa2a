"""The figures printed in seed 003's demo output and seed 004's tables, as answer parts.

Each figure is already a published result in :mod:`peftcalc.known` (one place for the value, the
source and the verdict); this module only presents them as parts of the key, plus the demo's
ratio column and sequence length, which are not published claims of their own.
"""

from __future__ import annotations

from fractions import Fraction

from answers.format import fmt
from answers.key import Accepted, Answer, Part, Tolerance, pct
from peftcalc.known import Known, catalogue, check
from peftcalc.matrix import seed_compare

PARTS: list[Part] = []
# Figures that are not already parts of Exercises 1/2 (those are 19.1.* and 19.2.*).
_PREFIXES = ("seed003.", "seed004.why_peft.", "seed004.lora_example", "seed004.table.")


def _unit(entry: Known) -> str:
    if entry.unit == "bytes":
        return "bytes"
    return "percent" if entry.id.endswith("compression") else "params"


def _figure(entry: Known) -> Part:
    def solve() -> Answer:
        verdict = check(entry)
        unit = _unit(entry)
        value = verdict.value
        text = f"{fmt(value, unit)} (printed: {entry.published}; {verdict.verdict})."
        notes = (entry.explanation,) if entry.explanation else ()
        accepted = [Accepted("exact", value, "peftcalc's exact figure")]
        if entry.kind == "match" and entry.target != value:
            accepted.append(Accepted("as printed", entry.target, "the seed's rounded figure"))
        if entry.kind == "discrepancy":
            accepted.append(Accepted("as printed (inconsistent)", entry.target, "the seed's figure; see the note"))
        return Answer("", "", "numeric", value, unit, text=text, accepted=tuple(accepted), notes=notes,
                      tolerance=Tolerance(Fraction(entry.rel_tol).limit_denominator(1000) if entry.kind == "match"
                                          else Fraction(1, 100)))
    return Part(entry.id, entry.claim, entry.source, "numeric", solve)


def _ratio(name: str) -> Part:
    def solve() -> Answer:
        count, ratio = seed_compare()[name]
        return Answer("", "", "numeric", pct(ratio), "percent",
                      text=f"{count:,} / {seed_compare()['full'][0]:,} = {fmt(pct(ratio), 'percent')}",
                      accepted=(Accepted("seed's convention", pct(ratio), "full = attention weights only"),),
                      tolerance=Tolerance(Fraction(1, 1000)))
    return Part(f"seed003.compare.{name}.ratio", f"7B-scale comparison: {name} ratio column (% of attention "
                "weights)", "seed 003 (Section 9.6), demo output", "numeric", solve)


def _prompt_length() -> Part:
    def solve(seq: int = 16, prompt_length: int = 20) -> Answer:
        return Answer("", "", "numeric", seq + prompt_length, "scalar",
                      text=f"{prompt_length} soft-prompt tokens prepended to {seq}: {seq + prompt_length} positions",
                      accepted=(Accepted("prepended", seq + prompt_length, "p + n"),), tolerance=Tolerance(Fraction(0)))
    return Part("seed003.prompt_seq_len", "Prompt tuning demo: sequence length with the soft prompt",
                "seed 003 (Section 9.6), demo output", "numeric", solve, (("seq", 16), ("prompt_length", 20)))


def build() -> list[Part]:
    parts = [_figure(e) for e in catalogue() if e.id.startswith(_PREFIXES)]
    parts.append(_prompt_length())
    parts += [_ratio(name) for name in ("lora", "adapters", "prefix", "prompt")]
    return parts

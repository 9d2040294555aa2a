"""Exercise 24.30 (a, c): structured output — checking JSON targets and the JSON validity rate (seed 002, torch).

Valid means what a downstream ``json.loads`` consumer accepts as structured output: a JSON object (RFC 8259 §4).
Any JSON value parses (RFC 8259 §2), and Python literals do not; only an object is the structure the task asks
for. The schema's type names are JSON Schema's (draft 2020-12, Validation §6.1.1: "integer" matches a number
with a zero fractional part), where booleans are not numbers — unlike Python, where ``isinstance(True, int)``
holds.
"""

from __future__ import annotations

import ast
import json
import re
from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.chapter24.returned import decoded, returns, scalar
from grader.code.checks import CodeCheck, FULL, NONE, failed

F = Fraction

SPEC = """\
json_validity_rate(outputs, allow_fence=False) -> float in [0, 1]: the fraction of the strings in outputs that
are valid, 0.0 for an empty list. Valid: json.loads(text) succeeds (surrounding whitespace is fine) and gives a
JSON object (a dict; {} counts). Arrays, numbers, strings, true/false/null, Python literals ({'a': 1}, True,
None), trailing commas and text around the JSON are not valid. With allow_fence=True, an output that (after
stripping whitespace) is one Markdown code fence — an opening ``` or ```json line and a closing ``` — is judged
by what is inside the fence.
schema_valid(text, schema) -> bool: text is valid (as above, no fence) and the object has every key of schema
with a value of its type; extra keys are allowed. schema maps key → a JSON Schema type name: "string", "number"
(int or float), "integer" (no fractional part: 3.5 is not), "boolean", "array", "object", "null" — true/false
are booleans, not numbers. Returns False, never raises, for text that is not valid JSON.
compare_validity(before, after) -> {"before": rate, "after": rate, "change": after − before}: the validity
rates (allow_fence=False) of the outputs before and after fine-tuning (part c); change as a difference of
fractions (0.25 = 25 percentage points).
"""


def _fenced(text: str) -> str | None:
    m = re.fullmatch(r"```(?:json)?[ \t]*\n(.*?)\n?[ \t]*```", text.strip(), re.S)
    return m.group(1) if m else None


def parse_object(text: str, allow_fence: bool = False) -> dict[str, Any] | None:
    if allow_fence and _fenced(text) is not None:
        text = _fenced(text)  # type: ignore[assignment]
    try:
        obj = json.loads(text)
    except (ValueError, TypeError):
        return None
    return obj if isinstance(obj, dict) else None


def rate_reference(outputs: list[str], allow_fence: bool = False) -> float:
    return sum(parse_object(o, allow_fence) is not None for o in outputs) / len(outputs) if outputs else 0.0


def _python_dict(text: str) -> bool:
    try:
        return isinstance(ast.literal_eval(text.strip()), dict)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _any_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, TypeError):
        return False
    return True


def _rate_readings(outputs: list[str], allow_fence: bool) -> dict[str, float]:
    """What the classic mistakes compute, keyed by the feedback that names them."""
    n = len(outputs)

    def rate(valid) -> float:
        return sum(map(valid, outputs)) / n

    out = {
        "counted any JSON value as valid: arrays, numbers, strings and null parse too, but the target is an "
        "object — check isinstance(obj, dict)": rate(
            lambda o: _any_json(o) or parse_object(o, allow_fence) is not None),
        "counted any JSON value but null as valid: arrays, numbers and strings parse too, but the target is an "
        "object — check isinstance(obj, dict)": rate(
            lambda o: (_any_json(o) and json.loads(o) is not None) or parse_object(o, allow_fence) is not None),
        "{} was rejected: an empty object is valid JSON — test `obj is not None` or isinstance, not truthiness":
            rate(lambda o: bool(parse_object(o, allow_fence))),
        "Python literals are not JSON: ast.literal_eval/eval accept {'a': 1} and True, json.loads does not":
            rate(lambda o: _python_dict(o) or parse_object(o, allow_fence) is not None),
        "checking for braces is not parsing: trailing commas, single quotes and text inside braces are invalid":
            rate(lambda o: o.strip().startswith("{") and o.strip().endswith("}")),
        "this is a percentage: return a fraction in [0, 1]": 100 * rate_reference(outputs, allow_fence),
        "this is a count: divide by the number of outputs": n * rate_reference(outputs, allow_fence),
    }
    if allow_fence:
        out["the fence was not stripped: with allow_fence=True, parse what is inside ``` … ```"] = \
            rate_reference(outputs, False)
        out["only ```json fences were stripped: a bare ``` fence counts too"] = rate(
            lambda o: parse_object(o, "```json" in o) is not None)
    else:
        out["fenced outputs count only with allow_fence=True: by default the raw text must parse"] = \
            rate_reference(outputs, True)
    return out


def _rate_feedback(got: float | None, outputs: list[str], allow_fence: bool) -> tuple[bool, str]:
    want = rate_reference(outputs, allow_fence)
    if got is not None and abs(got - want) <= 1e-9:
        return True, ""
    if got is None:
        return False, "return the rate as a float"
    named = [why for why, r in _rate_readings(outputs, allow_fence).items() if abs(got - r) <= 1e-9 and r != want]
    return False, f"rate {got:.4f}, expected {want:.4f}" + (f": {named[0]}" if named else "")


VALID = ['{"name": "Ada", "age": 36}', '  {"items": [1, 2, {"id": null}]}\n', "{}", '{"ok": true, "score": 0.5}',
         '{"quote": "she said \\"hi\\""}', '\n{"k": "v"}']
# How many of each trap, chosen so that every classic mistake moves the rate by its own amount (in both modes;
# tests/grader/assignments/test_chapter24_part2b.py checks it): the feedback can then name the mistake.
FENCED = ['```json\n{"a": 1}\n```', '```\n{"b": [true, false]}\n```', '\n```json\n{"c": "x"}\n```\n',
          '```json\n{"d": {}}\n```', '```\n{"e": 2.5}\n```']
NOT_OBJECTS = ["[1, 2, 3]", "42", '"just a string"', "null"]
PYTHON = ["{'a': 1}", '{"a": True}', '{"a": None}', "{'b': [1, 2]}", "{'c': 'x', 'd': False}"]
BROKEN = ['{"a": 1,}', '{"a": 1', 'Here is the JSON: {"a": 1}', "", '{"a": 1} hope this helps', "{a: 1}",
          '```json\n{"a": 1,}\n```']


def _rates(rng: np.random.Generator) -> list[CodeCheck]:
    pool = VALID + FENCED + NOT_OBJECTS + PYTHON + BROKEN
    outputs = [pool[i] for i in rng.permutation(len(pool))]

    def judge(allow_fence: bool, what: str):
        def check(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
            if vals is None:
                return failed(err)
            ok, why = _rate_feedback(scalar(vals[0]), outputs, allow_fence)
            if ok and allow_fence:
                empty = scalar(vals[1])
                return (FULL, what) if empty == 0.0 else (F(1, 2), "an empty list of outputs has rate 0.0")
            return (FULL, what) if ok else (NONE, why)
        return check

    return [
        CodeCheck("24.30.rate", "24.30", "json_validity_rate: JSON objects only", F(2),
                  [{"op": "call", "func": "json_validity_rate", "args": [outputs], "store": "rate"}, *returns("rate")],
                  judge(False, "valid = json.loads gives an object")),
        CodeCheck("24.30.fence", "24.30", "json_validity_rate(allow_fence=True)", F(1),
                  [{"op": "call", "func": "json_validity_rate", "args": [outputs], "kwargs": {"allow_fence": True},
                    "store": "rate"},
                   {"op": "call", "func": "json_validity_rate", "args": [[]], "kwargs": {"allow_fence": True},
                    "store": "empty"}, *returns("rate", "empty")],
                  judge(True, "a ``` or ```json fence is stripped before parsing")),
    ]


SCHEMA = {"name": "string", "age": "integer", "score": "number", "tags": "array", "active": "boolean"}
_TYPES: dict[str, Any] = {"string": lambda v: isinstance(v, str), "array": lambda v: isinstance(v, list),
                          "object": lambda v: isinstance(v, dict), "null": lambda v: v is None,
                          "boolean": lambda v: isinstance(v, bool),
                          "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
                          or (isinstance(v, float) and v.is_integer()),
                          "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}


def schema_reference(text: str, schema: dict[str, str]) -> bool:
    obj = parse_object(text)
    return obj is not None and all(k in obj and _TYPES[t](obj[k]) for k, t in schema.items())


def _doc(**changes: Any) -> str:
    base = {"name": "Ada", "age": 36, "score": 0.5, "tags": ["math"], "active": True}
    return json.dumps({k: v for k, v in {**base, **changes}.items() if v != "<drop>"})


# (text, what a wrong answer on it teaches)
TYPED_CASES = [
    (_doc(), "a document with every key of the right type is valid"),
    (_doc(tags="<drop>"), "a missing key makes the document invalid"),
    (_doc(note="extra"), "extra keys are allowed"),
    (_doc(age=True), "true is a boolean, not an integer (in Python bool is a subclass of int: test bool first)"),
    (_doc(score=3), "an integer is a number: 3 is a valid \"number\""),
    (_doc(age=3.5), "3.5 is not an integer"),
    (_doc(score=False), "false is a boolean, not a number"),
    (_doc(name=None), "null is not a string"),
    (_doc(tags="math"), "a string is not an array"),
]
UNPARSABLE_CASES = ["{name: 'Ada'}", json.dumps([{"name": "Ada"}]), "```json\n" + _doc() + "\n```", ""]


def _truth(encoded: Any) -> bool | None:
    v = decoded(encoded)
    if isinstance(v, bool):
        return v
    number = scalar(encoded)
    return None if number not in (0.0, 1.0) else bool(number)


def _schema(rng: np.random.Generator) -> list[CodeCheck]:
    order = [int(i) for i in rng.permutation(len(TYPED_CASES))]
    typed = [TYPED_CASES[i] for i in order]

    def typed_judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        wrong = [why for (text, why), v in zip(typed, vals) if _truth(v) != schema_reference(text, SCHEMA)]
        if not wrong:
            return FULL, "keys present, JSON Schema types (booleans are not numbers), extra keys allowed"
        # all or nothing: a constant answer is right on some documents
        return NONE, "; ".join(dict.fromkeys(wrong))

    unparsable = [_doc(), *UNPARSABLE_CASES]  # the valid document first: `return False` is no answer

    def unparsable_judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            if not err or "has no attribute" in err:  # not written (yet): nothing to teach about raising
                return failed(err)
            return (NONE, f"schema_valid must return False, not raise, for text that is not a JSON object "
                          f"({failed(err)[1]})")
        if _truth(vals[0]) is not True:
            return NONE, "a valid document must give True"
        if all(_truth(v) is False for v in vals[1:]):
            return FULL, "False for text that is not a JSON object"
        return NONE, ("text that does not parse to a JSON object (bad JSON, an array, a fenced block, empty) is not "
                      "schema-valid")

    def calls(texts: list[str]) -> list[dict[str, Any]]:
        ops = [{"op": "call", "func": "schema_valid", "args": [t, SCHEMA], "store": f"s{k}"}
               for k, t in enumerate(texts)]
        return [*ops, *returns(*(f"s{k}" for k in range(len(texts))))]

    return [CodeCheck("24.30.schema", "24.30", "schema_valid: required keys and JSON types", F(1),
                      calls([t for t, _ in typed]), typed_judge),
            CodeCheck("24.30.schema_unparsable", "24.30", "schema_valid: False for what does not parse", F(1),
                      calls(unparsable), unparsable_judge)]


def _compare(rng: np.random.Generator) -> list[CodeCheck]:
    valid, invalid = VALID, FENCED + NOT_OBJECTS + PYTHON + BROKEN
    before = [str(x) for x in rng.choice(valid, size=3)] + [str(x) for x in rng.choice(invalid, size=9)]
    after = [str(x) for x in rng.choice(valid, size=7)] + [str(x) for x in rng.choice(invalid, size=1)]
    b, a = rate_reference(before), rate_reference(after)

    def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = decoded(vals[0])
        if not isinstance(got, dict):
            return NONE, 'return {"before": rate, "after": rate, "change": after − before}'
        gb, ga, gc = (scalar(got.get(k)) for k in ("before", "after", "change"))
        if gb is None or ga is None or abs(gb - b) > 1e-9 or abs(ga - a) > 1e-9:
            return NONE, f"before/after rates {gb}, {ga}; expected {b:.4f}, {a:.4f} (json_validity_rate of each list)"
        if gc is not None and abs(gc - (a - b)) <= 1e-9:
            return FULL, f"validity {b:.0%} → {a:.0%}"
        if gc is not None and abs(gc - (b - a)) <= 1e-9:
            return F(1, 2), "change is after − before (positive when fine-tuning helped)"
        if gc is not None and b and abs(gc - (a - b) / b) <= 1e-9:
            return F(1, 2), "change is the difference of the rates (after − before), not the relative change"
        return F(1, 2), f"change {gc}, expected after − before = {a - b:.4f}"

    return [CodeCheck("24.30.compare", "24.30", "compare_validity: before and after fine-tuning (c)", F(1),
                      [{"op": "call", "func": "compare_validity", "args": [before, after], "store": "cmp"},
                       *returns("cmp")], judge)]


def _structured(rng: np.random.Generator) -> list[CodeCheck]:
    return [*_rates(rng), *_schema(rng), *_compare(rng)]


EXERCISE = Exercise("24.30", "structured output: JSON targets and the validity rate (a, c)", SPEC, _structured)

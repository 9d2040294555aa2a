"""Exercise 24.20 (d): a chat-template validator (seed 002, torch assignment; plain Python).

The fixtures are written here from the templates' published formats (written anew, not copied):
- Llama 3: the ``chat_template`` of meta-llama/Meta-Llama-3-8B-Instruct's tokenizer_config.json —
  ``bos_token`` (``<|begin_of_text|>``) before the first message, each message
  ``'<|start_header_id|>' + role + '<|end_header_id|>\\n\\n' + content | trim + '<|eot_id|>'``, the generation
  prompt ``<|start_header_id|>assistant<|end_header_id|>\\n\\n``; roles system, user, assistant (Meta's
  prompt-format page for Llama 3).
- Mistral: the ``chat_template`` of mistralai/Mistral-7B-Instruct-v0.1/v0.2's tokenizer_config.json —
  ``bos_token`` (``<s>``), then ``'[INST] ' + content + ' [/INST]'`` for user and ``content + eos_token``
  (``</s>``) for assistant messages, raising "Conversation roles must alternate user/assistant/…" and "Only user
  and assistant roles are supported!"; docs.mistral.ai ("Demystifying Mistral's Instruct Tokenization & Chat
  Templates") shows tokenizer V1 as ``<s> [INST] user message [/INST] assistant message</s> [INST] …`` — the
  spacing differs between versions, the structure does not.
- Gemma: the ``chat_template`` of google/gemma-7b-it's tokenizer_config.json (also in axolotl's
  ``utils/chat_templates.py``) — ``bos_token`` (``<bos>``), raising "System role not supported" and "Conversation
  roles must alternate…", assistant renamed ``model``, each turn
  ``'<start_of_turn>' + role + '\\n' + content | trim + '<end_of_turn>\\n'``, the generation prompt
  ``<start_of_turn>model\\n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, failed, value

F = Fraction

SPEC = """\
validate_chat(text, family) -> a list of error messages, [] when text is a well-formed conversation in
that family's chat format (True/False, True meaning well-formed, is accepted too). family is one of:
  "llama3"  (Llama 3 Instruct): <|begin_of_text|> once, at the start, then messages
            <|start_header_id|>ROLE<|end_header_id|>\\n\\nCONTENT<|eot_id|>, ROLE system, user or assistant;
            the text may end with an open <|start_header_id|>assistant<|end_header_id|>\\n\\n and nothing after
            it (the generation prompt).
  "mistral" (Mistral 7B Instruct): <s> once, at the start, then exchanges [INST] USER [/INST] ASSISTANT</s>,
            user first, alternating; the text may end with [INST] USER [/INST] (awaiting the reply). No system
            role. Whitespace around [INST], [/INST] and </s> is free (tokenizer versions differ).
  "gemma"   (Gemma instruction-tuned): <bos> once, at the start, then turns
            <start_of_turn>ROLE\\nCONTENT<end_of_turn>\\n, ROLE user or model, alternating from user; the text may
            end with <start_of_turn>model\\n (the generation prompt). No system role.
CONTENT never holds a special token of any of the three formats. The hidden fixtures are exact template
outputs (well-formed) or such outputs with one error: a missing or doubled begin-of-text token, a missing
end-of-turn token (<|eot_id|>, </s>, <end_of_turn>; the last message's too), an unknown role name, a system
turn in Gemma, an unbalanced [INST] … [/INST], roles that do not alternate (Mistral, Gemma), or a
conversation formatted for another family. validate_chat must return, never raise, on every fixture.
Not graded: (a)–(c) need the models' tokenizers.
"""

SYSTEM = ["You are a concise assistant.", "Answer in one sentence.", "You explain fine-tuning to students."]
USER = ["What does LoRA train?", "Why is B zero at initialisation?", "Give me one use of QLoRA.",
        "Explain rank r in two lines.", "How do I merge an adapter?", "What is catastrophic forgetting?"]
ASSISTANT = ["Two low-rank factors, A and B; the base weights stay frozen.",
             "So that the adapted model starts out identical to the base.",
             "Fine-tuning a 7B model on one consumer GPU.",
             "r is the width of the bottleneck.\nSmaller r, fewer parameters.",
             "Add scaling times B times A to W, then drop the adapter.",
             "Losing general ability while fitting a new task."]


def llama3(messages: list[tuple[str, str]], *, generation_prompt: bool = False) -> str:
    text = "<|begin_of_text|>"
    for role, content in messages:
        text += f"<|start_header_id|>{role}<|end_header_id|>\n\n{content.strip()}<|eot_id|>"
    return text + ("<|start_header_id|>assistant<|end_header_id|>\n\n" if generation_prompt else "")


def mistral(messages: list[tuple[str, str]], *, spaced: bool = False) -> str:
    """The Hugging Face template's spacing, or (``spaced``) that of docs.mistral.ai's tokenizer V1."""
    text = "<s>"
    for role, content in messages:
        gap = " " if spaced else ""
        text += f"{gap}[INST] {content} [/INST]" if role == "user" else f"{gap}{content}</s>"
    return text


def gemma(messages: list[tuple[str, str]], *, generation_prompt: bool = False) -> str:
    text = "<bos>"
    for role, content in messages:
        text += f"<start_of_turn>{'model' if role == 'assistant' else role}\n{content.strip()}<end_of_turn>\n"
    return text + ("<start_of_turn>model\n" if generation_prompt else "")


@dataclass(frozen=True)
class Fixture:
    text: str
    well_formed: bool
    kind: str     # "ok" or the class of error
    detail: str   # what the message says about it


def without(text: str, token: str, which: int) -> str:
    """``text`` with the ``which``-th occurrence of ``token`` removed (-1: the last)."""
    at = [i for i in range(len(text)) if text.startswith(token, i)][which]
    return text[:at] + text[at + len(token):]


def fixtures(rng: np.random.Generator) -> dict[str, list[Fixture]]:
    def pick(pool: list[str], k: int) -> list[str]:
        return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]

    system, (u1, u2, u3), (a1, a2, a3) = pick(SYSTEM, 1)[0], pick(USER, 3), pick(ASSISTANT, 3)
    one = [("user", u1)]
    two = [("user", u1), ("assistant", a1)]
    three = [*two, ("user", u2)]
    four = [*three, ("assistant", a2)]
    ok = "ok"
    return {
        "llama3": [
            Fixture(llama3(two), True, ok, "one exchange"),
            Fixture(llama3([("system", system), *three], generation_prompt=True), True, ok,
                    "a system message, then a generation prompt"),
            Fixture(llama3(one, generation_prompt=True), True, ok, "one user message and the generation prompt"),
            Fixture(without(llama3(four), "<|eot_id|>", 0), False, "missing_end", "the first <|eot_id|> missing"),
            Fixture(without(llama3(two), "<|eot_id|>", -1), False, "missing_end", "the last <|eot_id|> missing"),
            Fixture(llama3([("human", u1), ("assistant", a1)]), False, "role", "a 'human' message"),
            Fixture(llama3(two).removeprefix("<|begin_of_text|>"), False, "bos", "<|begin_of_text|>"),
            Fixture("<|begin_of_text|>" + llama3(two), False, "double_bos", "<|begin_of_text|>"),
            Fixture(mistral(four), False, "wrong_family", "Mistral text checked as llama3"),
        ],
        "mistral": [
            Fixture(mistral(two), True, ok, "one exchange"),
            Fixture(mistral(three), True, ok, "awaiting the reply"),
            Fixture(mistral([*four, ("user", u3), ("assistant", a3)], spaced=True), True, ok,
                    "docs.mistral.ai's spacing"),
            Fixture(without(mistral(four), "</s>", 0), False, "missing_end", "the first </s> missing"),
            Fixture(without(mistral(two), "</s>", -1), False, "missing_end", "the last </s> missing"),
            Fixture(without(mistral(three), "[/INST]", 0), False, "unbalanced", "an [INST] never closed"),
            Fixture(without(mistral(four), "[INST]", 1), False, "unbalanced", "a [/INST] never opened"),
            Fixture(f"<s>[INST] {u1} [/INST][INST] {u2} [/INST]{a2}</s>", False, "alternation",
                    "two user turns in a row"),
            Fixture("<s>" + mistral(two), False, "double_bos", "<s>"),
            Fixture(mistral(two).removeprefix("<s>"), False, "bos", "<s>"),
            Fixture(llama3(two), False, "wrong_family", "Llama 3 text checked as mistral"),
        ],
        "gemma": [
            Fixture(gemma(two), True, ok, "one exchange"),
            Fixture(gemma(three, generation_prompt=True), True, ok, "three turns and the generation prompt"),
            Fixture(gemma(one, generation_prompt=True), True, ok, "one user turn and the generation prompt"),
            Fixture(without(gemma(four), "<end_of_turn>", 0), False, "missing_end", "the first <end_of_turn> missing"),
            Fixture(without(gemma(two), "<end_of_turn>", -1), False, "missing_end", "the last <end_of_turn> missing"),
            Fixture(gemma([("system", system), *two]), False, "system", "a system turn"),
            Fixture(gemma(two).replace("<start_of_turn>model", "<start_of_turn>assistant"), False, "role",
                    "an 'assistant' turn (Gemma's role is 'model')"),
            Fixture(gemma([("user", u1), ("user", u2), ("assistant", a2)]), False, "alternation",
                    "two user turns in a row"),
            Fixture("<bos>" + gemma(two), False, "double_bos", "<bos>"),
            Fixture(gemma(two).removeprefix("<bos>"), False, "bos", "<bos>"),
            Fixture(llama3(two), False, "wrong_family", "Llama 3 text checked as gemma"),
        ],
    }


LESSONS = {
    "missing_end": "accepted a message left open ({detail}): every message ends with its end-of-turn token, or "
                   "the model never learns where a turn ends (or when to stop)",
    "bos": "accepted text without {detail} at the start",
    "double_bos": "accepted a doubled {detail}: the classic result of tokenizing templated text with "
                  "add_special_tokens=True, when the template already wrote it",
    "role": "accepted an unknown role name ({detail})",
    "system": "accepted a system turn: Gemma has no system role (its template raises 'System role not "
              "supported'; the system prompt goes into the first user turn)",
    "alternation": "accepted {detail}: the template raises 'Conversation roles must alternate …'",
    "unbalanced": "accepted an unbalanced [INST] … [/INST] ({detail})",
    "wrong_family": "accepted a conversation in another format ({detail}): check the structure, not only for "
                    "known errors",
}


def verdict(encoded: Any) -> bool | None:
    """True: the validator found it well-formed; False: it reported errors; None: an unreadable answer."""
    v = value(encoded)
    if isinstance(v, bool):
        return v
    if isinstance(v, list):
        return not v
    if isinstance(v, np.ndarray):  # [] comes back as an empty array; numpy's bool as a 0-d one
        return bool(v.reshape(()).item()) if v.ndim == 0 else v.size == 0
    return None


def judge_family(family: str, cases: list[Fixture]):
    good = [c for c in cases if c.well_formed]
    bad = [c for c in cases if not c.well_formed]

    def judge(vals, err):
        if vals is None:
            share, msg = failed(err)
            return share, f"{msg} — validate_chat must return its errors, never raise"
        verdicts = [verdict(v) for v in vals]
        notes = []
        if any(v is None for v in verdicts):
            notes.append("return a list of error messages ([] when well-formed) or a bool")
        accepted = sum(v is True for v, c in zip(verdicts, cases) if c.well_formed)
        caught = sum(v is False for v, c in zip(verdicts, cases) if not c.well_formed)
        for v, c in zip(verdicts, cases):
            if c.well_formed and v is False:
                notes.append(f"rejected a well-formed conversation ({c.detail})")
            elif not c.well_formed and v is True:
                notes.append(LESSONS[c.kind].format(detail=c.detail))
        # caught × accepted: a validator that accepts everything, or rejects everything, earns nothing
        share = F(caught, len(bad)) * F(accepted, len(good))
        return share, "; ".join(dict.fromkeys(notes)) or (
            f"all {len(good)} well-formed conversations accepted, all {len(bad)} malformed ones caught")

    return judge


def _chat_template(rng: np.random.Generator) -> list[CodeCheck]:
    checks = []
    for family, cases in fixtures(rng).items():
        ops = [{"op": "call", "func": "validate_chat", "args": [c.text, family], "store": f"v{i}"}
               for i, c in enumerate(cases)]
        checks.append(CodeCheck(f"24.20.{family}", "24.20", f"validating {family} conversations", F(2),
                                [*ops, *[{"op": "return", "ref": f"v{i}"} for i in range(len(cases))]],
                                judge_family(family, cases)))
    return checks


EXERCISE = Exercise("24.20", "(d) a chat-template validator", SPEC, _chat_template)

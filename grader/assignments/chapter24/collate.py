"""Exercise 24.13: a data collator for instruction tuning (seed 002, torch)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.code.checks import CodeCheck, FULL, NONE, failed, value

F = Fraction

SPEC = """\
collate(batch, pad_token_id=0) -> {"input_ids", "attention_mask", "labels"} (tensors or lists).
An item is {"prompt": ids, "response": ids} or {"turns": [{"role": "user"|"assistant", "ids": ids}, …]}.
Sequences are right-padded to the longest in the batch; labels are -100 on prompt/user tokens and on
padding, the token ids on response/assistant tokens; attention_mask is 1 on real tokens.
"""


def _collate(rng: np.random.Generator) -> list[CodeCheck]:
    single = [{"prompt": [5, 6, 7], "response": [8, 9]}, {"prompt": [1], "response": [2, 3, 4, 5]},
              {"prompt": [3, 3], "response": [4]}]
    ids = [[5, 6, 7, 8, 9], [1, 2, 3, 4, 5], [3, 3, 4, 0, 0]]
    labels = [[-100, -100, -100, 8, 9], [-100, 2, 3, 4, 5], [-100, -100, 4, -100, -100]]
    mask = [[1] * 5, [1] * 5, [1, 1, 1, 0, 0]]
    multi = [{"turns": [{"role": "user", "ids": [1, 2]}, {"role": "assistant", "ids": [3]},
                        {"role": "user", "ids": [4]}, {"role": "assistant", "ids": [5, 6]}]},
             {"turns": [{"role": "user", "ids": [7]}, {"role": "assistant", "ids": [8]}]}]
    multi_labels = [[-100, -100, 3, -100, 5, 6], [-100, 8, -100, -100, -100, -100]]

    def judge_single(vals, err):
        if vals is None:
            return failed(err)
        out = value(vals[0])
        if not isinstance(out, dict) or not {"input_ids", "attention_mask", "labels"} <= set(out):
            return NONE, "return a dict with input_ids, attention_mask and labels"
        got = {k: (np.asarray(v).tolist() if v is not None else None) for k, v in out.items()}
        share, notes = F(0), []
        if got["input_ids"] == ids:
            share += F(1, 3)
        else:
            notes.append(f"input_ids {got['input_ids']} — expected right-padding with pad_token_id: {ids}")
        if got["labels"] == labels:
            share += F(1, 3)
        elif got["labels"] == [[i if i else -100 for i in row] for row in ids]:
            notes.append("labels include the instruction tokens: set them to -100 (loss on the response only)")
        else:
            notes.append(f"labels {got['labels']} — expected -100 on prompt and padding: {labels}")
        if got["attention_mask"] == mask:
            share += F(1, 3)
        else:
            notes.append(f"attention_mask {got['attention_mask']} — expected {mask}")
        return share, "; ".join(notes) or "padding, labels and mask as specified"

    def judge_multi(vals, err):
        if vals is None:
            return failed(err)
        out = value(vals[0])
        got = np.asarray(out.get("labels")).tolist() if isinstance(out, dict) and out.get("labels") is not None else None
        return (FULL, "only assistant turns are trained on") if got == multi_labels else (
            NONE, f"multi-turn labels {got} — expected {multi_labels}")

    return [CodeCheck("24.13.single", "24.13", "pad, mask the instruction, attention mask", F(3),
                      [{"op": "call", "func": "collate", "args": [single], "kwargs": {"pad_token_id": 0}, "store": "o"},
                       {"op": "return", "ref": "o"}], judge_single),
            CodeCheck("24.13.multi", "24.13", "variable-length multi-turn conversations", F(1),
                      [{"op": "call", "func": "collate", "args": [multi], "kwargs": {"pad_token_id": 0}, "store": "o"},
                       {"op": "return", "ref": "o"}], judge_multi)]


EXERCISE = Exercise("24.13", "a data collator for instruction tuning", SPEC, _collate)

"""Chapter 24 (seed 002): analytical exercises 24.1–24.10 and the programming exercises with an interface a
grader can check on a CPU in seconds (torch).

Adding an exercise: a module here defining ``EXERCISE`` (its spec and checks), one line in ``EXERCISES``,
its part of the reference solution (grader/reference/chapter24.py) and its tests.
"""

from grader.assignments.assignment import Assignment
from grader.assignments.chapter24 import (chat_template, collate, dare, data_mixing, ewc, lora, lr_finder, merge,
                                          multi_lora, ties)

EXERCISES = (
    lora.EXERCISE,      # 24.11
    merge.EXERCISE,     # 24.12
    collate.EXERCISE,   # 24.13
    lr_finder.EXERCISE,  # 24.14
    ewc.EXERCISE,       # 24.16
    multi_lora.EXERCISE,  # 24.17
    data_mixing.EXERCISE,  # 24.18
    chat_template.EXERCISE,  # 24.20 (d)
    ties.EXERCISE,      # 24.21
    dare.EXERCISE,      # 24.26
)

ASSIGNMENT = Assignment(
    id="chapter24", title="Chapter 24: fine-tuning, exercises 24.1–24.30 (those a grader can check)",
    part_prefix="24.", exercises=EXERCISES, needs_torch=True, reference="chapter24.py",
    notes="torch tensors or nested lists are accepted wherever a tensor is returned.")

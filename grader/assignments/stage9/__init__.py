"""Stage 9 (seeds 000/001): analytical exercises 9.1–9.4 and the numpy implementation exercises 9.5–9.12.

Adding an exercise: a module here defining ``EXERCISE`` (its spec and checks), one line in ``EXERCISES``,
its part of the reference solution (grader/reference/stage9.py) and its tests.
"""

from grader.assignments.assignment import Assignment
from grader.assignments.stage9 import (adapter, attention, backward, efficiency, lora_layer, manager,
                                       prompt_tuning, qlora)

EXERCISES = (
    lora_layer.EXERCISE,      # 9.5
    backward.EXERCISE,        # 9.6
    adapter.EXERCISE,         # 9.7
    prompt_tuning.EXERCISE,   # 9.8
    attention.EXERCISE,       # 9.9
    efficiency.EXERCISE,      # 9.10
    manager.EXERCISE,         # 9.11
    qlora.EXERCISE,           # 9.12
)

ASSIGNMENT = Assignment(
    id="stage9", title="Stage 9: fine-tuning and parameter-efficient methods, exercises 9.1–9.12",
    part_prefix="9.", exercises=EXERCISES, reference="stage9.py",
    notes="Signatures are those of the exercises (seeds 000/001). Where Section 9.6's reference code (seed 003) "
          "names the same thing otherwise, both names are accepted: the grader looks at what the submission "
          "defines and says which reading it graded (each exercise lists its accepted readings). Where the "
          "exercises leave a detail open, the grader uses the conventions below.")

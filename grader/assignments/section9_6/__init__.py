"""Section 9.6 (seed 003): the six extension exercises of the numpy implementation section, built on its
classes (LoRALayer, LoRALinear, Adapter, PrefixTuning, PromptTuning).

Adding an exercise: a module here defining ``EXERCISE`` (its spec and checks), one line in ``EXERCISES``,
its part of the reference solution (grader/reference/section9_6.py) and its tests.
"""

from grader.assignments.assignment import Assignment
from grader.assignments.section9_6 import ffn_lora, lora_dropout, lora_prompt, parallel_adapter, prefix_mlp, qlora

EXERCISES = (
    ffn_lora.EXERCISE,          # 9.6.1
    lora_dropout.EXERCISE,      # 9.6.2
    parallel_adapter.EXERCISE,  # 9.6.3
    prefix_mlp.EXERCISE,        # 9.6.4
    lora_prompt.EXERCISE,       # 9.6.5
    qlora.EXERCISE,             # 9.6.6
)

ASSIGNMENT = Assignment(
    id="section9.6", title="Section 9.6: implementing PEFT methods, extension exercises 9.6.1–9.6.6",
    part_prefix=None, exercises=EXERCISES, needs_torch=False, reference="section9_6.py",
    notes="Start from Section 9.6's code (seed 003: LoRALayer, LoRALinear, Adapter, PrefixTuning, PromptTuning): "
          "copy its classes into your file and extend them. Rows are tokens (x @ W.T) and frozen weights are "
          "out × in, as LoRALinear's. Where a check sets trainable arrays it finds them by their shape wherever "
          "your object keeps them (attributes, nested objects, dicts, lists), so keep each in the layout stated.")

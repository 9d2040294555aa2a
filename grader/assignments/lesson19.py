"""Lesson 19 (seed 004, the PEFT-unified lesson): its four exercises' analytical answers. Its parts are named
by their numbers (``19.1.lora_r8_params``), so it has no per-student variants."""

from grader.assignments.assignment import Assignment

ASSIGNMENT = Assignment(id="lesson19", title="Lesson 19: PEFT methods unified, exercises 1–4", part_prefix="19.",
                        variants=False)

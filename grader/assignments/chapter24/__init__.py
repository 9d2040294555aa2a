"""Chapter 24 (seed 002): analytical exercises 24.1–24.10 and the programming exercises with an interface a
grader can check on a CPU in seconds (torch).

Adding an exercise: a module here defining ``EXERCISE`` (its spec and checks), one line in ``EXERCISES``,
its part of the reference solution (grader/reference/chapter24.py) and its tests.
"""

from grader.assignments.assignment import Assignment
from grader.assignments.chapter24 import (chat_template, collate, dare, data_mixing, dataset_quality, ewc, lora,
                                          lr_finder, merge, multi_lora, progressive, response_masking, search,
                                          structured_output, ties)

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
    progressive.EXERCISE,        # 24.22 (a–b)
    search.EXERCISE,             # 24.23 (a–b)
    dare.EXERCISE,      # 24.26
    dataset_quality.EXERCISE,    # 24.27 (a–b)
    response_masking.EXERCISE,   # 24.29 (a–b)
    structured_output.EXERCISE,  # 24.30 (a, c)
)

# What no grader checks, and why (seed 002's wording): each needs a trained LLM, a benchmark, an LLM judge or a
# timing on real hardware — none of which a CPU-only grader has in seconds.
UNGRADED = (
    ("24.12(d)", "the inference speed before and after merging is a timing on real hardware"),
    ("24.14(c), applying (d)", "the loss-vs-learning-rate plot is a figure, and applying the finder to a LoRA "
                               "fine-tuning run and comparing with the default learning rate needs a trained LLM"),
    ("24.15", "fine-tuning a model and evaluating it on HellaSwag, ARC and MMLU before and after needs a trained "
              "LLM and the benchmarks"),
    ("24.16(c–d)", "training curves with and without EWC and the task/general-capability trade-off need training "
                   "runs of an LLM and a benchmark"),
    ("24.17(c–d)", "the adapter-switching latency and the comparison with three merged models are timings on real "
                   "hardware"),
    ("24.18(b–c), the plot of (d)", "fine-tuning at each mixing ratio and evaluating on the target task and "
                                    "general benchmarks need trained LLMs and benchmarks; the plot is a figure"),
    ("24.19", "a QLoRA pipeline on a 7B model needs transformers, bitsandbytes and peft, a GPU and a training run "
              "(the grader runs torch on a CPU only)"),
    ("24.20(a–c)", "printing, applying and mixing up the chat templates of Llama, Mistral and Gemma needs their "
                   "tokenizers (transformers and the model files)"),
    ("24.21(a, c–d)", "training three adapters, evaluating the merged model on their tasks and comparing with "
                      "linear interpolation need trained LLMs and task evaluations"),
    ("24.22(c–d)", "the comparison with standard LoRA and the forgetting at each stage need training runs and a "
                   "benchmark"),
    ("24.23(c–d)", "training each configuration for 500 steps on a validation set, and the analysis of which "
                   "hyperparameters matter, need 90 training runs of an LLM"),
    ("24.24", "fine-tuning with 100 … 10,000 examples and the learning curves need training runs of an LLM"),
    ("24.25", "sequential, per-task-LoRA and joint fine-tuning on three tasks need training runs and task "
              "evaluations"),
    ("24.26(a, c–d)", "training two adapters, and the merged models of the drop-probability sweep evaluated on "
                      "both tasks, need trained LLMs and task evaluations"),
    ("24.27(c–d)", "rating 100 examples needs an LLM judge, and the effect of filtering on model quality needs "
                   "training runs and an evaluation"),
    ("24.28", "full fine-tuning vs LoRA (loss, accuracy, retention, time, memory, data size, rank) needs training "
              "runs on real hardware and a benchmark"),
    ("24.29(c–d)", "instruction-following quality and generalisation of the two losses need trained LLMs and a "
                   "benchmark or an LLM judge"),
    ("24.30(a, b, d)", "the 500 examples themselves are not graded (only checking their JSON targets, "
                       "schema_valid); fine-tuning with LoRA and the comparison with prompt engineering need a "
                       "trained LLM"),
)

ASSIGNMENT = Assignment(
    id="chapter24", title="Chapter 24: fine-tuning, exercises 24.1–24.30 (those a grader can check)",
    part_prefix="24.", exercises=EXERCISES, needs_torch=True, reference="chapter24.py",
    notes="torch tensors or nested lists are accepted wherever a tensor is returned.", ungraded=UNGRADED)

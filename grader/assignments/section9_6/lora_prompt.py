"""Exercise 9.6.5: LoRA + prompt tuning together (seed 003: "Combination: implement LoRA + Prompt Tuning
together"): the soft prompt is prepended to the input embeddings, and the sequence then goes through a
LoRA-adapted linear layer; both are trained, so the trainable count is the sum of the two."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.section9_6.judging import complete, found, number
from grader.assignments.section9_6.plan import returns, set_by_shape
from grader.code.checks import CodeCheck, FULL, NONE, arr, as_array, close, diagnose, failed, shape_text

F = Fraction

SPEC = """\
LoRAWithPrompt(W, prompt_length=20, rank=8, alpha=16.0): seed 003's PromptTuning followed by its
LoRALinear on the frozen W (out_features × d_model). With P the soft prompt (prompt_length × d_model),
A (rank × d_model), B (out_features × rank, zeros at init) and scaling = alpha / rank,
  forward(input_embeds) = h @ W.T + scaling · h @ A.T @ B.T,  h = concat([P, input_embeds], axis=1)
for input_embeds of shape (batch, seq, d_model): the output is (batch, prompt_length + seq,
out_features), the prompt's positions first. num_parameters() counts what is trained: the prompt and
LoRA's A and B, prompt_length · d_model + rank · (d_model + out_features) (W is frozen). The grader sets
P, A and B itself, finding them by their shape wherever your object keeps them.
"""


def _lora_prompt(rng: np.random.Generator) -> list[CodeCheck]:
    d, d_out, p, r, alpha = 6, 5, 3, 2, 4.0    # all different: P, A, B and W have four different shapes
    s = alpha / r
    W = rng.normal(size=(d_out, d))
    P, A, B = rng.normal(size=(p, d)), rng.normal(size=(r, d)), rng.normal(size=(d_out, r))
    x = rng.normal(size=(2, 4, d))
    batch, seq = x.shape[:2]

    def lora(h: np.ndarray, with_lora: bool = True, scaling: float = s) -> np.ndarray:
        return h @ W.T + (scaling * h @ A.T @ B.T if with_lora else 0)

    prompt = np.broadcast_to(P, (batch, p, d))
    h = np.concatenate([prompt, x], axis=1)
    expected = lora(h)
    candidates = {
        "the prompt length is not added to the sequence: prepend the soft prompt to the input embeddings "
        f"(output (batch, prompt_length + seq, out) = {expected.shape}) before the LoRA layer": lora(x),
        "the soft prompt is appended; it must be prepended (before the input tokens)":
            lora(np.concatenate([x, prompt], axis=1)),
        "the LoRA path is missing: h Wᵀ + scaling · h Aᵀ Bᵀ": lora(h, with_lora=False),
        "the LoRA path is not scaled: multiply it by scaling = alpha / rank": lora(h, scaling=1.0),
    }
    new = {"op": "new", "cls": "LoRAWithPrompt", "args": [arr(W)], "kwargs": {"prompt_length": p, "rank": r,
                                                                              "alpha": alpha}, "store": "m"}
    setting = [set_by_shape("m", P, "n_P"), set_by_shape("m", A, "n_A"), set_by_shape("m", B, "n_B")]
    names = (f"the prompt {P.shape}", f"A {A.shape}", f"B {B.shape}")

    def forward(vals, err):
        if not complete(vals, 4):
            return failed(err)
        absent = [names[i] for i in range(3) if not found(vals[i])]
        if absent:
            return NONE, "no array of shape " + ", ".join(absent) + " found in the layer"
        return diagnose(as_array(vals[3]), expected, candidates, right="LoRA layer on [soft prompt; input]",
                        wrong="values differ from h Wᵀ + scaling · h Aᵀ Bᵀ with h = [soft prompt; input]",
                        wrong_shape=f"got {{got}}, expected (batch, prompt_length + seq, out) = {expected.shape}")

    def at_init(vals, err):
        if not complete(vals, 1):
            return failed(err)
        y = as_array(vals[0])
        if y is None or y.shape != expected.shape:
            note = " (the prompt length is not added to the sequence)" if y is not None and y.shape == (
                batch, seq, d_out) else ""
            return NONE, f"got {shape_text(y)}, expected (batch, prompt_length + seq, out) = {expected.shape}{note}"
        if close(y[:, p:], x @ W.T):
            return FULL, "(batch, prompt_length + seq, out); the input's positions are x Wᵀ at init (B = 0)"
        return F(1, 2), "right shape, but at init (B = 0) the input's positions must be x Wᵀ, after the prompt's"

    want = p * d + r * (d + d_out)
    readings = {
        r * (d + d_out): "counts LoRA only: the soft prompt is trained too",
        p * d: "counts the prompt only: LoRA's A and B are trained too",
        want + d * d_out: "counts the frozen W too: only the prompt, A and B are trained",
    }

    def count(vals, err):
        if not complete(vals, 1):
            return failed(err)
        got = number(vals[0])
        if got == want:
            return FULL, f"{want} = prompt_length·d_model + rank·(d_model + out)"
        return NONE, readings.get(got, f"num_parameters() = {got!r}, expected prompt_length·d_model + "
                                       f"rank·(d_model + out) = {want}")

    return [
        CodeCheck("9.6.5.forward", "9.6.5", "forward: LoRA on [soft prompt; input]", F(3),
                  [new, *setting, {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y"},
                   *returns("n_P", "n_A", "n_B", "y")], forward),
        CodeCheck("9.6.5.shape", "9.6.5", "output shape (batch, prompt_length + seq, out) at init", F(1),
                  [new, {"op": "call", "obj": "m", "func": "forward", "args": [arr(x)], "store": "y"}, *returns("y")],
                  at_init),
        CodeCheck("9.6.5.count", "9.6.5", "num_parameters: LoRA + prompt", F(2),
                  [new, {"op": "call", "obj": "m", "func": "num_parameters", "store": "n"}, *returns("n")], count),
    ]


EXERCISE = Exercise("9.6.5", "LoRA + prompt tuning together", SPEC, _lora_prompt)

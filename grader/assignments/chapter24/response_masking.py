"""Exercise 24.29 (a–b): SFT loss on all tokens and on the response only (seed 002, torch).

The conventions are Hugging Face transformers': labels are aligned with input_ids, -100 marks a position that
is not trained on (torch.nn.functional.cross_entropy's default ignore_index), and the loss shifts inside — the
logits at position t predict the token at t + 1 (``ForCausalLMLoss``, src/transformers/loss/loss_utils.py) —
and averages over every target token that is not ignored, pooled over the batch.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from grader.assignments.assignment import Exercise
from grader.assignments.chapter24.returned import decoded, returns, scalar
from grader.code.checks import CodeCheck, FULL, NONE, failed, tensor

F = Fraction
IGNORE = -100

SPEC = """\
response_only_labels(input_ids, response_mask) -> labels: input_ids where response_mask is 1 (the assistant's
response tokens), -100 elsewhere (prompt and padding). all_token_labels(input_ids, attention_mask) -> labels:
input_ids where attention_mask is 1, -100 on padding (part a: the loss on every token). Inputs are torch.long
tensors (batch × seq); return a tensor (or nested list) of the same shape, aligned with input_ids — not shifted.
masked_lm_loss(logits, labels) -> a scalar tensor (or float): logits (batch × seq × vocab, float32), labels
(batch × seq, long). Shift inside, as transformers' causal LMs do: the logits at position t predict labels[t + 1],
so the last position has no target and labels[:, 0] is never a target. The loss is the cross-entropy averaged
over every target that is not -100, pooled over the whole batch (not a mean of per-sequence means).
"""


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _token_losses(logits: np.ndarray, labels: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-target cross-entropy and validity when the logits at t predict labels[t + shift] (1: the spec)."""
    if shift == 1:
        lg, lb = logits[:, :-1], labels[:, 1:]
    elif shift == -1:
        lg, lb = logits[:, 1:], labels[:, :-1]
    else:
        lg, lb = logits, labels
    valid = lb != IGNORE
    picked = np.take_along_axis(_log_softmax(lg), np.where(valid, lb, 0)[..., None], axis=-1)[..., 0]
    return -picked * valid, valid


def loss_reference(logits: np.ndarray, labels: np.ndarray) -> float:
    nll, valid = _token_losses(logits, labels, 1)
    return float(nll.sum() / max(1, valid.sum()))


def _loss_readings(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """What the classic mistakes compute, keyed by the feedback that names them."""
    nll, valid = _token_losses(logits, labels, 1)
    per_seq = [row.sum() / v.sum() for row, v in zip(nll, valid) if v.any()]
    out = {}
    for shift, why in ((0, "forgot the shift: the logits at position t predict the token at t + 1 (compare "
                           "logits[:, :-1] with labels[:, 1:])"),
                       (-1, "shifted the wrong way: logits[:, :-1] predict labels[:, 1:], not logits[:, 1:] "
                            "labels[:, :-1]")):
        n, v = _token_losses(logits, labels, shift)
        out[why] = float(n.sum() / max(1, v.sum()))
    out["averaged over every position, masked ones included: divide by the number of targets that are not "
        "-100"] = float(nll.sum() / nll.size)
    out["a mean of per-sequence means: average over all unmasked targets of the batch at once"] = float(
        np.mean(per_seq))
    out["this is the sum: the loss is the mean over unmasked targets"] = float(nll.sum())
    return out


def _loss_feedback(got: float | None, logits: np.ndarray, labels: np.ndarray) -> tuple[bool, str]:
    want = loss_reference(logits, labels)
    if got is not None and abs(got - want) <= 1e-4 * max(1.0, abs(want)):
        return True, ""
    if got is None:
        return False, "return the loss as a scalar tensor or a float"
    for why, reading in _loss_readings(logits, labels).items():
        if abs(got - reading) <= 1e-4 * max(1.0, abs(reading)) and abs(reading - want) > 1e-3:
            return False, why
    return False, f"loss {got:.5f}, expected {want:.5f}"


def _long(a: np.ndarray) -> dict[str, Any]:
    return {"tensor": a.astype(int).tolist(), "shape": list(a.shape), "dtype": "int64"}


def _batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Three sequences of 9 positions: prompt, response, right padding (0), of different lengths."""
    B, T, V = 3, 9, 13
    prompt_len, response_len = np.array([2, 4, 3]), np.array([5, 2, 3])
    ids = np.zeros((B, T), dtype=int)
    response = np.zeros((B, T), dtype=int)
    attention = np.zeros((B, T), dtype=int)
    for b in range(B):
        n = prompt_len[b] + response_len[b]
        ids[b, :n] = rng.integers(1, V, size=n)
        attention[b, :n] = 1
        response[b, prompt_len[b]:n] = 1
    logits = rng.normal(size=(B, T, V)) * 2.0
    return {"ids": ids, "response": response, "attention": attention, "logits": logits}


def _masking(rng: np.random.Generator) -> list[CodeCheck]:
    batch = _batch(rng)
    ids, response, attention, logits = batch["ids"], batch["response"], batch["attention"], batch["logits"]
    response_labels = np.where(response == 1, ids, IGNORE)
    all_labels = np.where(attention == 1, ids, IGNORE)
    dense_labels = rng.integers(0, logits.shape[-1], size=ids.shape)  # no -100: only the shift matters

    def labels_judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        share, notes = F(0), []
        for got, want, name, mask in ((decoded(vals[0]), response_labels, "response_only_labels", response),
                                      (decoded(vals[1]), all_labels, "all_token_labels", attention)):
            g = got if isinstance(got, np.ndarray) else None
            if g is not None and g.shape == want.shape and np.array_equal(g, want):
                share += F(1, 2)
            elif g is not None and g.shape == want.shape and np.array_equal(g, np.where(mask == 1, IGNORE, ids)):
                notes.append(f"{name} masked the wrong tokens: keep the ids where the mask is 1, -100 elsewhere"
                             + (" (this trains on the prompt, not the response)" if mask is response else ""))
            elif g is not None and g.shape == want.shape and np.array_equal(g[:, :-1], want[:, 1:]):
                notes.append(f"{name} shifted the labels: keep them aligned with input_ids (the loss shifts)")
            elif g is not None and g.shape == want.shape and np.array_equal(g, np.where(mask == 1, ids, 0)):
                notes.append(f"{name}: masked positions must be -100 (ignored by cross-entropy), not 0")
            else:
                notes.append(f"{name} returned {'shape ' + str(g.shape) if g is not None else 'no tensor'}; "
                             f"expected {want.tolist()}")
        return share, "; ".join(notes) or "labels = input_ids on trained tokens, -100 elsewhere, not shifted"

    def loss_judge(labels: np.ndarray, what: str):
        def judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
            if vals is None:
                return failed(err)
            ok, why = _loss_feedback(scalar(vals[0]), logits, labels)
            return (FULL, what) if ok else (NONE, why)
        return judge

    def pipeline_judge(vals: list[Any] | None, err: str | None) -> tuple[Fraction, str]:
        if vals is None:
            return failed(err)
        got = scalar(vals[0])
        ok, why = _loss_feedback(got, logits, response_labels)
        if ok:
            return FULL, "masked_lm_loss(logits, response_only_labels(…)) is the response-only loss"
        prompt_only = np.where((response == 0) & (attention == 1), ids, IGNORE)
        for inverted in (prompt_only, np.where(response == 0, ids, IGNORE)):  # padding trained on too, or not
            wrong = loss_reference(logits, inverted)
            if got is not None and abs(got - wrong) <= 1e-4 * max(1.0, wrong):
                return NONE, "this is the loss on the prompt: the response was masked instead of the prompt"
        return NONE, f"response-only loss: {why}"

    logits_arg = tensor(logits)
    call_loss = {"op": "call", "func": "masked_lm_loss", "store": "loss"}
    return [
        CodeCheck("24.29.labels", "24.29", "response_only_labels and all_token_labels", F(1),
                  [{"op": "call", "func": "response_only_labels", "args": [_long(ids), _long(response)],
                    "store": "r"},
                   {"op": "call", "func": "all_token_labels", "args": [_long(ids), _long(attention)], "store": "a"},
                   *returns("r", "a")], labels_judge),
        CodeCheck("24.29.shift", "24.29", "masked_lm_loss: the causal shift (no masked labels)", F(1),
                  [{**call_loss, "args": [logits_arg, _long(dense_labels)]}, *returns("loss")],
                  loss_judge(dense_labels, "logits at t predict the token at t + 1")),
        CodeCheck("24.29.masked", "24.29", "masked_lm_loss: the mean over unmasked targets", F(2),
                  [{**call_loss, "args": [logits_arg, _long(all_labels)]}, *returns("loss")],
                  loss_judge(all_labels, "cross-entropy averaged over the targets that are not -100")),
        CodeCheck("24.29.response", "24.29", "the response-only loss end to end", F(1),
                  [{"op": "call", "func": "response_only_labels", "args": [_long(ids), _long(response)],
                    "store": "r"}, {**call_loss, "args": [logits_arg, {"ref": "r"}]}, *returns("loss")],
                  pipeline_judge),
    ]


EXERCISE = Exercise("24.29", "SFT with response-only masking: labels and the masked loss (a–b)", SPEC, _masking)

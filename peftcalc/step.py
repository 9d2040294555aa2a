"""The step peak: what is alive at each phase of one training step, in the order a real step allocates it.

A steady-state step (the second and later: weights and optimizer states exist, gradients were set to
``None`` by ``zero_grad(set_to_none=True)``, torch's default since 2.0) goes through:

1. forward, ending at the loss: every block's saved tensors, the head's, and the b·s·V logits;
2. the loss's backward: the logits are gone, the fp32 log-softmax, its gradient and the logits' gradient alive;
3. the LM head's backward: its weight gradient appears while the logits' gradient is still alive;
4. each block's backward, last block first: its weight gradients appear while its saved tensors die, so
   at block k the saved tensors of blocks 0..k and the gradients of blocks k+1.. are alive together (linear
   in k, so the largest is at the last or the first block), plus the block's transient peak
   (:class:`~peftcalc.activations.BackwardPeak`);
5. the end of the backward: every gradient, plus a tied embedding's second gradient being accumulated;
6. the optimizer step: every gradient, the states and the step's temporaries (``foreach`` AdamW makes one
   state-sized list of square roots; ``fused`` makes none).

With the optimizer in the backward (torchtune's ``optimizer_in_bwd``) each gradient is applied and freed as
soon as it is made: no phase holds more than one parameter's gradient, and there is no step phase.
Every phase carries a breakdown under DESIGN.md's component names; the step's peak is the largest.
"""

from __future__ import annotations

from dataclasses import dataclass

from peftcalc.activations import ActivationEstimate


@dataclass(frozen=True)
class Phase:
    """Bytes alive at one moment of the step, by component."""

    name: str
    breakdown: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return sum(self.breakdown.values())


@dataclass(frozen=True)
class Gradients:
    """Gradient bytes by where the backward makes them."""

    per_block: int                    # one block's weight gradients (blocks are alike)
    per_block_by_role: dict[str, int]  # of those, by role (qkv, o, up, down, norm1, norm2)
    head: int                         # LM head (or, tied, the embedding it shares) + final norm
    embedding: int                    # token/position embeddings not tied to the head (their gradient comes last)
    largest_tensor: int               # the largest single gradient (optimizer in the backward)
    tied_extra: int = 0               # a tied embedding's own gradient, alive while added to the head's
    blocks: int = 0
    unsharded_block: int = 0          # ZeRO-2/3: the block being back-propagated holds its whole gradient

    @property
    def total(self) -> int:
        return self.per_block * self.blocks + self.head + self.embedding


def step_phases(resident: dict[str, int], act: ActivationEstimate, grads: Gradients, *, optimizer_step_bytes: int,
                checkpointing: bool, optimizer_in_backward: bool = False,
                gradients_persist: bool = False) -> tuple[Phase, ...]:
    """The phases of one steady-state step (see the module docstring) with their breakdowns.

    ``resident``: weights, optimizer states … alive throughout; ``optimizer_step_bytes``: the step's
    temporaries (in the backward, per parameter, with ``optimizer_in_backward``); ``gradients_persist``: gradient
    accumulation — from the second micro-batch on, every gradient is alive in every phase.

    Examples:
        >>> from peftcalc.activations import ActivationEstimate
        >>> act = ActivationEstimate(0, 0, 0, 0, ())          # batch 0: no activations
        >>> g = Gradients(10, {}, 5, 5, 5, blocks=2)
        >>> [(p.name, p.total_bytes) for p in step_phases({"weights": 30}, act, g, optimizer_step_bytes=3,
        ...                                               checkpointing=False)][-2:]
        [('end of backward', 60), ('optimizer step', 63)]
    """
    L = max(1, act.blocks)
    phases: list[Phase] = []

    def grad_bytes(amount: int) -> int:
        if gradients_persist:
            return grads.total + (amount - grads.total if amount > grads.total else 0)
        return min(amount, grads.largest_tensor) if optimizer_in_backward else amount

    def add(name: str, activations: int, gradients: int, step_extra: int = 0) -> None:
        out = dict(resident)
        out["gradients"] = grad_bytes(gradients)
        if step_extra:
            out["optimizer"] = out.get("optimizer", 0) + step_extra
        out["activations"] = activations
        phases.append(Phase(name, out))

    in_bwd_extra = min(optimizer_step_bytes, grads.largest_tensor) if optimizer_in_backward else 0
    if act.blocks:
        kept = act.kept_bytes + act.head_saved_bytes
        kept_bwd = kept + (act.forward_only_bytes if checkpointing else 0)  # the mask is a checkpoint input
        phases_fwd = kept + act.loss_forward_bytes + act.forward_only_bytes
        add("forward (at the loss)", phases_fwd, 0)
        if act.loss_saved_bytes:
            add("loss backward (log-softmax)", kept_bwd + act.loss_saved_bytes + act.loss_gradient_bytes, 0)
        add("LM-head backward", kept_bwd + act.logits_grad_bytes + act.residual_grad_bytes, grads.head,
            in_bwd_extra)
        block_input = act.kept_bytes // L if checkpointing else 0
        for k, label in ((L - 1, "last"), (0, "first")):
            if checkpointing:
                own = act.recompute_bytes - (act.per_block_bytes - act.first_block_bytes if k == 0 else 0)
                before = (k + 1) * block_input + act.forward_only_bytes
            else:
                own = act.first_block_bytes if k == 0 else act.per_block_bytes
                before = (act.first_block_bytes + (k - 1) * act.per_block_bytes) if k else 0
            after = grads.head + (L - 1 - k) * grads.per_block
            for peak in act.backward_peaks:
                partial = sum(v for r, v in grads.per_block_by_role.items() if r in peak.grads_of)
                add(f"backward, {label} block: {peak.name}",
                    before + max(0, own + peak.extra_bytes) + act.residual_grad_bytes,
                    after + (grads.unsharded_block or partial), in_bwd_extra)
            if k == 0 and L == 1:
                break
    add("end of backward", 0, grads.total + grads.tied_extra, in_bwd_extra)
    if not optimizer_in_backward:
        add("optimizer step", 0, grads.total, optimizer_step_bytes)
    return tuple(phases)


def peak_phase(phases: tuple[Phase, ...]) -> Phase:
    """The phase with the most bytes alive (the first such, in step order)."""
    return max(phases, key=lambda p: p.total_bytes)

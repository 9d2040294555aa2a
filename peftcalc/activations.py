"""Activation memory of one training step: what autograd saves, and what a block's backward adds on top.

Reference: Korthikanti et al. 2022 (arXiv 2205.05198) §4.1 — per GPT layer, 16-bit activations,
sbh·(34 + 5·a·s/h) bytes: layer-norm inputs 4sbh, QKV input 2sbh, Q and K 4sbh, V 2sbh, softmax
output 2as²b, its dropout mask as²b and output 2as²b, output-projection input 2sbh, two dropout
masks 2sbh, MLP input 2sbh, GELU input 8sbh and output 8sbh (with the 4h MLP). That is Megatron's
implementation (``implementation="megatron"``); the default models what Hugging Face transformers 5
saves, read from its modelling code and measured tensor by tensor in ``peftcalc.verify``:

- RMSNorm (llama, mistral, qwen2, T5) is written in Python: it saves its input in fp32, the fp32
  reciprocal RMS (4 B/token) and, when the norm's weight trains, the normalized input in the model dtype;
  LayerNorm (GPT-2, BERT) saves its input and fp32 mean and rstd (8 B/token);
- GPT-2's ``gelu_new`` is unfused: besides its input it keeps tanh(·), 0.5·x and 1 + tanh(·) (3 × b·s·4h);
  fused GELU/SiLU/ReLU keep one tensor; gated MLPs keep the gate output, the activation output and the up output;
- dropout keeps a mask per dropped tensor: bool (1 B) on CUDA, the input dtype on CPU (``torch.dropout``'s
  CPU path multiplies by a float noise tensor);
- eager attention saves the s² softmax output (and, with dropout, the mask and the dropped copy); K and V are
  repeated to every query head first (``repeat_kv``), and a b·s² float causal mask lives through the forward;
  SDPA/flash saves Q, K, V at kv width, the output and the fp32 log-sum-exp — except on CPU with dropout,
  where SDPA falls back to the math path and saves what eager does;
- PEFT: a frozen linear does not save its input; an adapted one saves it (peft casts it to the adapter's
  dtype first: one copy per adapted linear when that differs) and its s·b·r intermediate; in the first block
  nothing upstream of the first adapted layer needs a gradient, so it saves nothing there;
- gradient checkpointing: ``full`` keeps each block's input plus one block recomputed at a time;
  ``selective`` drops only the s² attention terms (Korthikanti §5);
- causal-LM heads (``loss="standard"``): the forward ends with the logits, their fp32 copy (16-bit models) and
  the fp32 log-softmax alive; the loss's backward holds the log-softmax, its gradient and the logits'
  gradient (12sbV). ``loss="chunked"`` (a fused/chunked linear + cross-entropy: Liger, Unsloth, Cut
  Cross-Entropy) never materializes b·s·V values.
Biases, RoPE tables and other O(s) buffers are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from peftcalc.arch.model import Arch, ModuleSpec
from peftcalc.errors import InputError

Attention = Literal["eager", "flash"]
Checkpointing = Literal["none", "full", "selective"]
Implementation = Literal["transformers", "megatron"]
Device = Literal["cuda", "cpu"]
Loss = Literal["standard", "chunked"]
# What depends on the family (RMSNorm or LayerNorm, dropout, an unfused GELU, the softmax's dtype, a gated
# MLP, each linear's role) comes from its family file through the Arch: nothing here reads module names.

# Stages of a block in forward order; in the first block of a PEFT model, items of stages before the
# first adapted layer are not saved (nothing upstream of it requires a gradient).
_NORM1, _ATTN, _ATTN_OUT, _NORM2, _MLP = range(5)


@dataclass(frozen=True)
class ActivationItem:
    """One kind of saved tensor per block: elements per token (or per token·s for scores) × bytes."""

    name: str
    bytes_per_token: int          # multiply by s·b
    bytes_per_token_seq: int = 0  # multiply by s·s·b (attention scores)
    stage: int = _MLP             # where in the block it is made (see _NORM1 … _MLP)

    def bytes(self, batch: int, seq: int) -> int:
        return batch * seq * (self.bytes_per_token + seq * self.bytes_per_token_seq)


@dataclass(frozen=True)
class BackwardPeak:
    """A moment inside one block's backward: bytes above that block's saved tensors (activations' gradients
    alive minus saved tensors already freed), and the roles whose weight gradients already exist then."""

    name: str
    extra_bytes: int
    grads_of: frozenset[str]


@dataclass(frozen=True)
class ActivationEstimate:
    """Activation bytes of one step, with what the step-peak model (:mod:`peftcalc.step`) needs."""

    total_bytes: int              # additive view: all saved tensors + the loss backward's peak
    per_block_bytes: int          # saved by one (steady) block
    blocks: int
    head_bytes: int               # final norm, LM head and loss, gradients at the loss's peak included
    items: tuple[ActivationItem, ...]
    assumptions: tuple[str, ...] = field(default=())
    formula: str = ""
    loss_gradient_bytes: int = 0  # of head_bytes: gradients, not saved tensors (8sbV)
    first_block_bytes: int = 0    # saved by the first block (less under PEFT: frozen embeddings)
    kept_bytes: int = 0           # saved by all blocks together in the forward (block inputs when checkpointing)
    head_saved_bytes: int = 0     # final norm, LM-head input, targets, embedding saves (no b·s·V terms)
    loss_forward_bytes: int = 0   # b·s·V values alive at the loss in the forward
    loss_saved_bytes: int = 0     # of those, saved for the backward (the fp32 log-softmax)
    logits_grad_bytes: int = 0    # the logits' gradient in the model dtype, alive in the LM head's backward
    forward_only_bytes: int = 0   # alive through the forward, not saved (eager's causal mask)
    recompute_bytes: int = 0      # one block's saved tensors, recomputed in the backward (checkpointing)
    residual_grad_bytes: int = 0  # the residual stream's gradient
    backward_peaks: tuple[BackwardPeak, ...] = ()

    @property
    def saved_bytes(self) -> int:
        """What autograd saves for the backward pass (``saved_tensors_hooks`` sees these)."""
        return self.total_bytes - self.loss_gradient_bytes


# A block's linear layers grouped by what their saved inputs are: the family's builder gave each module its
# role (peftcalc/arch/model.py: Role), so fused projections (phi3's qkv_proj, gate_up_proj) are known too.
_ROLE_GROUP = {"q": "qkv", "k": "qkv", "v": "qkv", "qkv": "qkv", "kv": "qkv", "o": "o", "up": "up", "gate": "up",
               "gate_up": "up", "down": "down", "head": "head"}
# roles whose training makes K require a gradient (K's product with Q then saves Q too)
_KEY_ROLES = frozenset({"k", "qkv", "kv"})
_BLOCK = re.compile(r"^(.*?\.(?:layers|h|layer|block)\.\d+)\.(.+)$")


def block_of(name: str) -> int | None:
    """The index of the block a module belongs to (``model.layers.3.mlp.up_proj`` → 3); None outside blocks."""
    match = _BLOCK.match(name)
    return None if match is None else int(match.group(1).rsplit(".", 1)[1])


def role_group(mod: ModuleSpec) -> str | None:
    """The group (qkv, o, up, down, head) of a linear layer, from the role its family gave it."""
    return _ROLE_GROUP.get(mod.role)


def trained_roles(arch: Arch, trained_names: Iterable[str]) -> frozenset[str]:
    """Groups (qkv, o, up, down, head) of the trained or adapted linear layers named."""
    roles = (role_group(arch.module(n)) for n in trained_names)
    return frozenset(r for r in roles if r is not None)


def _norm_items(arch: Arch, label: str, stage: int, *, B: int, norms_trained: bool,
                implementation: Implementation) -> list[ActivationItem]:
    h = arch.hidden_size
    if implementation == "megatron":
        return [ActivationItem(f"norm input ({label})", B * h, stage=stage)]
    if _is_rms_norm(arch):
        items = [ActivationItem(f"RMSNorm input in fp32 + rstd ({label})", 4 * h + 4, stage=stage)]
        if norms_trained:
            items.append(ActivationItem(f"RMSNorm normalized input, for its weight's gradient ({label})", B * h,
                                        stage=stage))
        return items
    return [ActivationItem(f"LayerNorm input + fp32 mean, rstd ({label})", B * h + 8, stage=stage)]


def _is_rms_norm(arch: Arch) -> bool:
    return arch.rms_norm


def block_items(
    arch: Arch,
    *,
    roles: frozenset[str],
    lora_rank: int = 0,
    lora_modules: int = 0,
    attention: Attention = "flash",
    dtype_bytes: int = 2,
    cross_attention: bool = False,
    norms_trained: bool = False,
    implementation: Implementation = "transformers",
    device: Device = "cuda",
    adapter_bytes: int = 4,
    adapter_input_bytes: int = 0,
) -> list[ActivationItem]:
    """Saved tensors of one transformer block. ``roles`` are the roles whose linear layers are
    trained or adapted (their inputs are saved); ``lora_modules`` adapted linears per block;
    ``adapter_input_bytes``: per token, the copies of adapted layers' inputs in the adapter dtype."""
    h, kv, f, a = arch.hidden_size, arch.kv_dim, arch.intermediate_size, arch.num_attention_heads
    q_dim = arch.num_attention_heads * arch.head_dim
    B = dtype_bytes
    hf = implementation == "transformers"
    dropout = arch.dropout
    mask = B if (hf and device == "cpu") else 1  # CPU dropout multiplies by a float noise tensor
    # SDPA on CPU with dropout runs the math kernel, which saves what eager attention does
    eager = attention == "eager" or (hf and device == "cpu" and dropout)
    items = _norm_items(arch, "attention", _NORM1, B=B, norms_trained=norms_trained, implementation=implementation)

    def attention_items(label: str) -> None:
        if "qkv" in roles:
            items.append(ActivationItem(f"{label}: q/k/v input", B * h, stage=_ATTN))
        saved_kv = q_dim if eager else kv  # eager saves K and V repeated per query head
        q_name = f"{label}: Q (for QKᵀ, when K needs a gradient)" if eager else f"{label}: Q"
        items.append(ActivationItem(q_name, B * q_dim, stage=_ATTN))
        items.append(ActivationItem(f"{label}: K (for QKᵀ)", B * saved_kv, stage=_ATTN))
        items.append(ActivationItem(f"{label}: V", B * saved_kv, stage=_ATTN))
        if eager and hf and B != 4 and not arch.softmax_in_model_dtype:
            # transformers' eager attention: softmax(…, dtype=float32).to(query.dtype) — the fp32 output is saved
            # for the softmax's backward, the 16-bit copy for the product with V
            items.append(ActivationItem(f"{label}: softmax output (fp32) + its {B}-byte copy", 0, (4 + B) * a,
                                        stage=_ATTN))
        elif eager:
            items.append(ActivationItem(f"{label}: softmax output", 0, B * a, stage=_ATTN))
        if eager:
            if dropout:
                items.append(ActivationItem(f"{label}: attention dropout mask + output", 0, (mask + B) * a, stage=_ATTN))
            if "o" in roles:
                items.append(ActivationItem(f"{label}: output-projection input", B * q_dim, stage=_ATTN_OUT))
        else:  # the output-projection input is the flash output itself (same storage)
            items.append(ActivationItem(f"{label}: flash output + log-sum-exp (fp32)", B * q_dim + 4 * a, stage=_ATTN))
        if dropout:
            items.append(ActivationItem(f"{label}: residual dropout mask", mask * h, stage=_ATTN_OUT))

    attention_items("self-attention")
    if cross_attention:
        items += _norm_items(arch, "cross-attention", _NORM2, B=B, norms_trained=norms_trained,
                             implementation=implementation)
        attention_items("cross-attention")
    items += _norm_items(arch, "MLP", _NORM2, B=B, norms_trained=norms_trained, implementation=implementation)
    if "up" in roles:
        items.append(ActivationItem("MLP input", B * h))
    gated = arch.gated_mlp
    if gated:
        items.append(ActivationItem("gate output (SiLU/GELU input)", B * f))
        items.append(ActivationItem("activation output and up output (the product)", 2 * B * f))
    elif hf and arch.unfused_gelu:
        items.append(ActivationItem("gelu_new (unfused): input, tanh, 0.5·x, 1 + tanh", 4 * B * f))
    else:
        items.append(ActivationItem("activation input", B * f))
    if "down" in roles:
        items.append(ActivationItem("down-projection input", B * f))
    if dropout:
        items.append(ActivationItem("MLP dropout mask", mask * h))
    if lora_rank and lora_modules:
        items.append(ActivationItem(f"LoRA intermediates A·x ({lora_modules} adapted linears, {adapter_bytes}-byte)",
                                    adapter_bytes * lora_rank * lora_modules))
    if adapter_input_bytes:
        items.append(ActivationItem("adapted layers' inputs cast to the adapter dtype (one copy each)",
                                    adapter_input_bytes))
    return items


def _first_block(items: list[ActivationItem], roles: frozenset[str], key_trained: bool) -> list[ActivationItem]:
    """The first block of a model whose embeddings are frozen: only what follows the first adapted layer."""
    first = _ATTN if "qkv" in roles else _ATTN_OUT if "o" in roles else _MLP
    kept = [i for i in items if i.stage >= first]
    if first == _ATTN and not key_trained:  # K = k_proj(x) needs no gradient: QKᵀ keeps K only
        kept = [i for i in kept if not i.name.endswith("Q (for QKᵀ, when K needs a gradient)")]
    return kept


def _backward_peaks(arch: Arch, items: list[ActivationItem], *, roles: frozenset[str], attention: Attention,
                    B: int, batch: int, seq: int, device: Device, implementation: Implementation) -> list[BackwardPeak]:
    """Two moments of a block's backward that bound its transient peak (measured op by op on CPU):
    the MLP's activation backward (gradients of the activation's inputs and output alive, the
    down-projection's input freed) and the attention's core (the s² gradients, or flash's dQ, dK, dV)."""
    tokens = batch * seq
    f, a = arch.intermediate_size, arch.num_attention_heads
    q_dim, kv = a * arch.head_dim, arch.kv_dim
    down_in = B * f if "down" in roles else 0
    gated = arch.gated_mlp
    # gated: grad of the product, of the activation output and of the up output; unfused gelu_new: its
    # incoming gradient and the gradients of 0.5·x and 1 + tanh (measured: 3 × b·s·f); fused: in and out
    unfused = implementation == "transformers" and arch.unfused_gelu
    mlp_grads = (3 if gated or unfused else 2) * B * f
    peaks = [BackwardPeak("MLP activation backward", tokens * (mlp_grads - down_in), frozenset({"down"}))]
    freed = sum(i.bytes(batch, seq) for i in items if i.stage >= _ATTN_OUT)
    dropout = arch.dropout
    if attention == "eager" or (implementation == "transformers" and device == "cpu" and dropout):
        core = tokens * (2 * B * a * seq + B * q_dim)  # grad of the probabilities and of the scores; dV
        name = "attention backward (softmax: s² gradients)"
    else:
        core = tokens * B * (q_dim + 2 * kv)  # dQ, dK, dV
        name = "attention backward (flash: dQ, dK, dV)"
    peaks.append(BackwardPeak(name, core - freed, frozenset({"o", "up", "down", "norm2"})))
    return peaks


def estimate(
    arch: Arch,
    *,
    batch: int,
    seq: int,
    trained_names: Iterable[str],
    lora_rank: int = 0,
    attention: Attention = "flash",
    checkpointing: Checkpointing = "none",
    dtype_bytes: int = 2,
    norms_trained: bool | None = None,
    embeddings_trained: bool | None = None,
    implementation: Implementation = "transformers",
    device: Device = "cuda",
    loss: Loss = "standard",
    adapter_bytes: int = 4,
) -> ActivationEstimate:
    """Activation bytes of one forward+backward step for ``batch`` sequences of ``seq`` tokens.

    ``trained_names``: modules whose weights are trained or adapted (their inputs are saved).
    ``norms_trained``/``embeddings_trained``: default to whether the LM head is trained (full fine-tuning).
    """
    trained = list(trained_names)
    if arch.modules and not any(m.role for m in arch.modules):
        raise InputError("--model", arch.name, "a model with a family file for activations (built --via "
                         "transformers, its modules have no known roles)")
    roles = trained_roles(arch, trained)
    if norms_trained is None:
        norms_trained = "head" in roles
    if embeddings_trained is None:
        embeddings_trained = "head" in roles
    per_block = max(1, arch.blocks)
    in_blocks = [n for n in trained if _BLOCK.match(n)]
    lora_modules = len(in_blocks) // per_block if lora_rank else 0
    if batch == 0:
        return ActivationEstimate(0, 0, 0, 0, (), ("batch 0: no activations (weights and states only)",))
    B = dtype_bytes
    cast_inputs = 0
    if lora_rank and adapter_bytes != B:  # peft casts each adapted layer's input to the adapter dtype
        cast_inputs = sum(adapter_bytes * arch.module(n).in_features for n in in_blocks) // per_block
    kw = {"roles": roles - ({"qkv", "o", "up", "down"} if cast_inputs else set()), "lora_rank": lora_rank,
          "lora_modules": lora_modules, "attention": attention, "dtype_bytes": B, "norms_trained": norms_trained,
          "implementation": implementation, "device": device, "adapter_bytes": adapter_bytes,
          "adapter_input_bytes": cast_inputs}
    enc_items = block_items(arch, **kw)  # type: ignore[arg-type]
    dec_items = block_items(arch, cross_attention=True, **kw) if arch.num_decoder_layers else []  # type: ignore[arg-type]
    if checkpointing == "selective":
        enc_items = [i for i in enc_items if not i.bytes_per_token_seq]
        dec_items = [i for i in dec_items if not i.bytes_per_token_seq]
    first_items = enc_items
    if not embeddings_trained:
        first_items = _first_block(enc_items, roles, any(arch.module(n).role in _KEY_ROLES for n in in_blocks))
    tokens = batch * seq
    enc_block = sum(i.bytes(batch, seq) for i in enc_items)
    dec_block = sum(i.bytes(batch, seq) for i in dec_items)
    first_block = sum(i.bytes(batch, seq) for i in first_items)
    block = max(enc_block, dec_block)
    stored = first_block + enc_block * (arch.num_layers - 1) + dec_block * arch.num_decoder_layers
    assumptions = [f"attention: {attention}", f"{B}-byte activations", f"checkpointing: {checkpointing}",
                   f"saved tensors as {implementation} implements the layers"]
    if any(m.role == "experts" for m in arch.modules):
        assumptions.append("MoE: the experts' own saved tensors (the routed tokens through each expert's MLP) are "
                           "not modelled — the activations are a lower bound")
    formula = f"{arch.blocks} blocks × {block:,} B"
    kept = stored
    recompute = 0
    forward_only = B * batch * seq * seq if attention == "eager" and implementation == "transformers" else 0
    if checkpointing == "full":
        # each block keeps its input; during backward one block's activations are recomputed and held
        block_input = B * tokens * arch.hidden_size
        kept = block_input * arch.blocks
        recompute = block
        if not _is_rms_norm(arch) or B == 4 or implementation == "megatron":
            recompute -= block_input  # the norm's saved input is the kept block input itself
        stored = kept + recompute
        formula = f"{arch.blocks} block inputs × {block_input:,} B + one recomputed block {recompute:,} B"
        assumptions.append("full recomputation: 2sbh per block + one block recomputed at a time")
    # final norm, LM-head input (when the head trains), targets (int64), token ids and embedding dropout mask
    head_saved = sum(i.bytes(batch, seq) for i in _norm_items(arch, "final", _NORM2, B=B, norms_trained=norms_trained,
                                                                implementation=implementation))
    if "head" in roles:
        head_saved += B * tokens * arch.hidden_size
    if implementation == "transformers":
        head_saved += 8 * tokens
        if embeddings_trained:
            head_saved += 8 * tokens
            if arch.dropout:
                head_saved += (B if device == "cpu" else 1) * tokens * arch.hidden_size
    loss_fwd = loss_saved = loss_grads = logits_grad = 0
    V = arch.vocab_size
    if arch.output_head is not None and loss == "standard":
        loss_saved = 4 * tokens * V                      # fp32 log-softmax
        loss_fwd = loss_saved + B * tokens * V + (4 * tokens * V if B != 4 else 0)  # + logits (+ fp32 copy)
        loss_grads = 8 * tokens * V                      # gradients of the log-probs and of the logits (fp32)
        logits_grad = B * tokens * V
        assumptions.append("LM head: the loss's backward holds the fp32 log-softmax, its gradient and the "
                           "logits' gradient (12sbV)")
    elif arch.output_head is not None:
        assumptions.append("LM head: fused/chunked cross-entropy — no b·s·V logits are materialized")
    head = head_saved + loss_saved + loss_grads
    peaks = _backward_peaks(arch, enc_items, roles=roles, attention=attention, B=B, batch=batch, seq=seq,
                            device=device, implementation=implementation)
    return ActivationEstimate(
        stored + head, block, arch.blocks, head, tuple(enc_items + dec_items), tuple(assumptions),
        f"b={batch}, s={seq}: {formula} + head {head:,} B", loss_grads, first_block_bytes=first_block,
        kept_bytes=kept, head_saved_bytes=head_saved, loss_forward_bytes=loss_fwd, loss_saved_bytes=loss_saved,
        logits_grad_bytes=logits_grad, forward_only_bytes=forward_only, recompute_bytes=recompute,
        residual_grad_bytes=B * tokens * arch.hidden_size, backward_peaks=tuple(peaks))


def korthikanti_bytes(*, seq: int, batch: int, hidden: int, heads: int, layers: int = 1) -> int:
    """The reference formula: L·s·b·h·(34 + 5·a·s/h) = L·(34·sbh + 5·a·s²·b) bytes.

    Examples:
        >>> korthikanti_bytes(seq=2048, batch=1, hidden=12288, heads=96)
        2868903936
    """
    return layers * (seq * batch * hidden * 34 + 5 * heads * seq * seq * batch)

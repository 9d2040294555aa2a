"""Activation memory of one training step: what autograd saves for the backward pass.

Reference: Korthikanti et al. 2022 (arXiv 2205.05198) §4.1 — per GPT layer, 16-bit activations,
sbh·(34 + 5·a·s/h) bytes: layer-norm inputs 4sbh, QKV input 2sbh, Q and K 4sbh, V 2sbh, softmax
output 2as²b, its dropout mask as²b and output 2as²b, output-projection input 2sbh, two dropout
masks 2sbh, MLP input 2sbh, GELU input 8sbh and output 8sbh (with the 4h MLP).

peftcalc lists the same saved tensors from the architecture, so that it adapts to:
- GQA (K and V are s·b·kv_dim), gated MLPs (SiLU input, SiLU output and up output are saved for the
  product; width = intermediate_size), models without dropout (llama: no masks);
- flash/SDPA attention: no s² scores, but the output and the log-sum-exp (fp32, a·s·b) are saved;
- PEFT: the input of a *frozen* linear layer is not saved (its weight gradient is never computed);
  only adapted or trainable linears keep their input; LoRA also keeps the s·b·r intermediate;
- gradient checkpointing: ``full`` keeps each block's input (2sbh) plus one block's activations
  while it is recomputed; ``selective`` drops only the s² attention terms (Korthikanti §5);
- eager attention with GQA: K and V are repeated to every query head before the products (transformers'
  ``repeat_kv``), and those copies are what is saved; flash kernels read the kv heads themselves;
- causal-LM heads: the step's peak is in the loss's backward, where the fp32 log-softmax output (saved),
  its gradient and the fp32 logits' gradient are alive together: 12sbV. (Earlier, at the loss, the
  16-bit logits, their fp32 copy and the log-softmax make only 10sbV.) A caller that keeps the logits
  (the model's output object) holds another 2sbV.
Biases, RoPE tables and other O(s) buffers are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from peftcalc.arch.model import Arch

Attention = Literal["eager", "flash"]
Checkpointing = Literal["none", "full", "selective"]
_DROPOUT_FAMILIES = frozenset({"gpt2", "bert", "roberta", "t5"})


@dataclass(frozen=True)
class ActivationItem:
    """One kind of saved tensor per block: elements per token (or per token·s for scores) × bytes."""

    name: str
    bytes_per_token: int          # multiply by s·b
    bytes_per_token_seq: int = 0  # multiply by s·s·b (attention scores)

    def bytes(self, batch: int, seq: int) -> int:
        return batch * seq * (self.bytes_per_token + seq * self.bytes_per_token_seq)


@dataclass(frozen=True)
class ActivationEstimate:
    """Activation bytes of one step, with the per-block items that make it up."""

    total_bytes: int              # at the step's peak: saved tensors + the loss's gradients then alive
    per_block_bytes: int
    blocks: int
    head_bytes: int               # final norm, LM head and loss, gradients at the peak included
    items: tuple[ActivationItem, ...]
    assumptions: tuple[str, ...] = field(default=())
    formula: str = ""
    loss_gradient_bytes: int = 0  # of head_bytes: gradients, not saved tensors (8sbV)

    @property
    def saved_bytes(self) -> int:
        """What autograd saves for the backward pass (``saved_tensors_hooks`` sees these)."""
        return self.total_bytes - self.loss_gradient_bytes


# A block's linear layers by role, as suffixes of their path inside the block; the first role that
# matches wins (so BERT's attention.output.dense is "o", its output.dense is "down").
ROLE_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("qkv", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "attn.c_attn", "attention.self.query",
             "attention.self.key", "attention.self.value", "SelfAttention.q", "SelfAttention.k", "SelfAttention.v",
             "EncDecAttention.q", "EncDecAttention.k", "EncDecAttention.v")),
    ("o", ("self_attn.o_proj", "attn.c_proj", "attention.output.dense", "SelfAttention.o", "EncDecAttention.o")),
    ("up", ("mlp.gate_proj", "mlp.up_proj", "mlp.c_fc", "intermediate.dense", "DenseReluDense.wi",
            "DenseReluDense.wi_0", "DenseReluDense.wi_1")),
    ("down", ("mlp.down_proj", "mlp.c_proj", "output.dense", "DenseReluDense.wo")),
)
_BLOCK = re.compile(r"^(.*?\.(?:layers|h|layer|block)\.\d+)\.(.+)$")


def trained_roles(trained_names: Iterable[str]) -> frozenset[str]:
    """Roles (qkv, o, up, down, head) of the trained or adapted linear layers named."""
    roles: set[str] = set()
    for name in trained_names:
        match = _BLOCK.match(name)
        if match is None:
            if name.endswith("lm_head"):
                roles.add("head")
            continue
        inner = match.group(2)
        for role, suffixes in ROLE_SUFFIXES:
            if any(inner == suf or inner.endswith("." + suf) for suf in suffixes):
                roles.add(role)
                break
    return frozenset(roles)


def block_items(
    arch: Arch,
    *,
    roles: frozenset[str],
    lora_rank: int = 0,
    lora_modules: int = 0,
    attention: Attention = "flash",
    dtype_bytes: int = 2,
    cross_attention: bool = False,
) -> list[ActivationItem]:
    """Saved tensors of one transformer block. ``roles`` are the roles whose linear layers are
    trained or adapted (their inputs are saved); ``lora_modules`` adapted linears per block."""
    h, kv, f, a = arch.hidden_size, arch.kv_dim, arch.intermediate_size, arch.num_attention_heads
    q_dim = arch.num_attention_heads * arch.head_dim
    B = dtype_bytes
    dropout = arch.model_type in _DROPOUT_FAMILIES
    items: list[ActivationItem] = [ActivationItem("norm input (attention)", B * h)]

    def attention_items(label: str) -> None:
        if "qkv" in roles:
            items.append(ActivationItem(f"{label}: q/k/v input", B * h))
        saved_kv = q_dim if attention == "eager" else kv  # eager saves K and V repeated per query head
        items.append(ActivationItem(f"{label}: Q and K (for QKᵀ)", B * (q_dim + saved_kv)))
        items.append(ActivationItem(f"{label}: V", B * saved_kv))
        if attention == "eager":
            items.append(ActivationItem(f"{label}: softmax output", 0, B * a))
            if dropout:
                items.append(ActivationItem(f"{label}: attention dropout mask + output", 0, (1 + B) * a))
            if "o" in roles:
                items.append(ActivationItem(f"{label}: output-projection input", B * q_dim))
        else:
            items.append(ActivationItem(f"{label}: flash output + log-sum-exp (fp32)", B * q_dim + 4 * a))
        if dropout:
            items.append(ActivationItem(f"{label}: residual dropout mask", h))

    attention_items("self-attention")
    if cross_attention:
        items.append(ActivationItem("norm input (cross-attention)", B * h))
        attention_items("cross-attention")
    items.append(ActivationItem("norm input (MLP)", B * h))
    if "up" in roles:
        items.append(ActivationItem("MLP input", B * h))
    gated = any(m.leaf in ("gate_proj", "wi_0") for m in arch.modules)
    if gated:
        items.append(ActivationItem("gate output (SiLU/GELU input)", B * f))
        items.append(ActivationItem("activation output and up output (the product)", 2 * B * f))
    else:
        items.append(ActivationItem("activation input", B * f))
    if "down" in roles:
        items.append(ActivationItem("down-projection input", B * f))
    if dropout:
        items.append(ActivationItem("MLP dropout mask", h))
    if lora_rank and lora_modules:
        items.append(ActivationItem(f"LoRA intermediates A·x ({lora_modules} adapted linears, fp32)",
                                    4 * lora_rank * lora_modules))
    return items


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
) -> ActivationEstimate:
    """Activation bytes of one forward+backward step for ``batch`` sequences of ``seq`` tokens.

    ``trained_names``: modules whose weights are trained or adapted (their inputs are saved).
    """
    trained = list(trained_names)
    roles = trained_roles(trained)
    per_block = max(1, arch.blocks)
    lora_modules = sum(1 for n in trained if _BLOCK.match(n)) // per_block if lora_rank else 0
    if batch == 0:
        return ActivationEstimate(0, 0, 0, 0, (), ("batch 0: no activations (weights and states only)",))
    B = dtype_bytes
    kw = {"roles": roles, "lora_rank": lora_rank, "lora_modules": lora_modules, "attention": attention,
          "dtype_bytes": B}
    enc_items = block_items(arch, **kw)  # type: ignore[arg-type]
    dec_items = block_items(arch, cross_attention=True, **kw) if arch.num_decoder_layers else []  # type: ignore[arg-type]
    if checkpointing == "selective":
        enc_items = [i for i in enc_items if not i.bytes_per_token_seq]
        dec_items = [i for i in dec_items if not i.bytes_per_token_seq]
    enc_block = sum(i.bytes(batch, seq) for i in enc_items)
    dec_block = sum(i.bytes(batch, seq) for i in dec_items)
    stored = enc_block * arch.num_layers + dec_block * arch.num_decoder_layers
    assumptions = [f"attention: {attention}", f"{B}-byte activations", f"checkpointing: {checkpointing}"]
    formula = f"{arch.blocks} blocks × {max(enc_block, dec_block):,} B"
    if checkpointing == "full":
        # each block keeps its input; during backward one block's activations are recomputed and held
        kept = B * batch * seq * arch.hidden_size
        stored = kept * arch.blocks + max(enc_block, dec_block)
        formula = f"{arch.blocks} block inputs × {kept:,} B + one recomputed block {max(enc_block, dec_block):,} B"
        assumptions.append("full recomputation: 2sbh per block + one block recomputed at a time")
    head = B * batch * seq * arch.hidden_size  # final norm input
    loss_gradients = 0
    if arch.output_head is not None:
        loss_gradients = 8 * batch * seq * arch.vocab_size  # fp32 gradients of the log-probs and of the logits
        head += 4 * batch * seq * arch.vocab_size + loss_gradients  # + the fp32 log-probs, saved
        if "head" in roles:
            head += B * batch * seq * arch.hidden_size
        assumptions.append("LM head: the loss's backward holds the fp32 log-softmax, its gradient and the "
                           "logits' gradient (12sbV)")
    return ActivationEstimate(stored + head, max(enc_block, dec_block), arch.blocks, head, tuple(enc_items + dec_items),
                              tuple(assumptions), f"b={batch}, s={seq}: {formula} + head {head:,} B", loss_gradients)


def korthikanti_bytes(*, seq: int, batch: int, hidden: int, heads: int, layers: int = 1) -> int:
    """The reference formula: L·s·b·h·(34 + 5·a·s/h) = L·(34·sbh + 5·a·s²·b) bytes.

    Examples:
        >>> korthikanti_bytes(seq=2048, batch=1, hidden=12288, heads=96)
        2868903936
    """
    return layers * (seq * batch * hidden * 34 + 5 * heads * seq * seq * batch)

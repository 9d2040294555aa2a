"""Reference solutions of Section 9.6's extension exercises 9.6.1–9.6.6 (seed 003), written as a student
would: seed 003's classes copied in, then extended, in the conventions `peftcalc grade --spec section9.6`
publishes. Graded like any submission, they must score full marks."""

from typing import Any, Dict, Optional, Tuple

import numpy as np


# ---- seed 003's classes (Section 9.6: Implementation), LoRALayer with dropout added (9.6.2) ----------------------

class LoRALayer:
    """Low-Rank Adaptation layer."""

    def __init__(self, in_features: int, out_features: int, rank: int = 8, alpha: float = 16.0,
                 dropout: float = 0.0):
        self.in_features = in_features
        self.out_features = out_features
        self.rank = rank
        self.scaling = alpha / rank
        # LoRA matrices
        # A: random init, B: zero init (start as identity)
        self.A = np.random.randn(rank, in_features) * 0.01
        self.B = np.zeros((out_features, rank))
        self.dropout = dropout          # 9.6.2: p, on the LoRA path's input only (peft's lora_dropout)
        self.training = True
        self.cache = {}

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    def forward(self, x: np.ndarray, W: np.ndarray) -> np.ndarray:
        """h = Wx + scaling * B A dropout(x)"""
        # Original path (frozen): never dropped
        base_output = x @ W.T
        # LoRA path, its input dropped in training (inverted dropout: the kept values × 1/(1-p), so the
        # expected output in training is the eval output)
        lora_input = x
        if self.training and self.dropout > 0:
            keep = np.random.rand(*x.shape) >= self.dropout
            lora_input = x * keep / (1 - self.dropout)
        lora_output = (lora_input @ self.A.T) @ self.B.T
        self.cache = {'x': lora_input, 'W': W, 'Ax': lora_input @ self.A.T}
        return base_output + self.scaling * lora_output

    # (seed 003's backward is left out: no exercise here grades it)

    def merge_weights(self, W: np.ndarray) -> np.ndarray:
        """Merge LoRA into base weights for inference."""
        return W + self.scaling * (self.B @ self.A)

    def num_parameters(self) -> int:
        return self.A.size + self.B.size


class LoRALinear:
    """Linear layer with LoRA adaptation."""

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray] = None, lora_rank: int = 8,
                 lora_alpha: float = 16.0):
        self.weight = weight  # Frozen
        self.bias = bias  # Frozen
        self.out_features, self.in_features = weight.shape
        self.lora = LoRALayer(in_features=self.in_features, out_features=self.out_features, rank=lora_rank,
                              alpha=lora_alpha)

    def forward(self, x):
        output = self.lora.forward(x, self.weight)
        if self.bias is not None:
            output = output + self.bias
        return output

    def merge(self):
        """Return merged weight and bias."""
        return self.lora.merge_weights(self.weight), self.bias


class Adapter:
    """Bottleneck adapter layer (sequential: it reads the sublayer's output)."""

    def __init__(self, d_model: int, bottleneck_dim: int = 64):
        self.d_model = d_model
        self.bottleneck_dim = bottleneck_dim
        # Small initialization (near-identity at start)
        scale = 0.01
        self.W_down = np.random.randn(d_model, bottleneck_dim) * scale
        self.W_up = np.random.randn(bottleneck_dim, d_model) * scale
        self.cache = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x + adapter(x)"""
        down = x @ self.W_down
        activated = np.maximum(0, down)
        up = activated @ self.W_up
        self.cache = {'x': x, 'down': down, 'activated': activated}
        return x + up

    def num_parameters(self) -> int:
        return self.W_down.size + self.W_up.size


class PrefixTuning:
    """Learned key/value prefixes for attention."""

    def __init__(self, num_layers: int, num_heads: int, d_head: int, prefix_length: int = 10):
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.d_head = d_head
        self.prefix_length = prefix_length
        # Shape: [num_layers, 2 (K,V), prefix_length, num_heads, d_head]
        self.prefix = np.random.randn(num_layers, 2, prefix_length, num_heads, d_head) * 0.01

    def get_prefix(self, layer_idx: int):
        """Get K and V prefixes for a layer."""
        return self.prefix[layer_idx, 0], self.prefix[layer_idx, 1]

    def num_parameters(self) -> int:
        return self.prefix.size


class PromptTuning:
    """Learned soft prompts prepended to input."""

    def __init__(self, d_model: int, prompt_length: int = 20, init_from_vocab: Optional[np.ndarray] = None):
        self.d_model = d_model
        self.prompt_length = prompt_length
        if init_from_vocab is not None:
            indices = np.random.choice(len(init_from_vocab), prompt_length)
            self.prompt = init_from_vocab[indices].copy()
        else:
            self.prompt = np.random.randn(prompt_length, d_model) * 0.01

    def forward(self, input_embeds: np.ndarray) -> np.ndarray:
        """Prepend soft prompts to input."""
        batch_size = input_embeds.shape[0]
        prompt_expanded = np.broadcast_to(self.prompt[np.newaxis, :, :],
                                          (batch_size, self.prompt_length, self.d_model)).copy()
        return np.concatenate([prompt_expanded, input_embeds], axis=1)

    def num_parameters(self) -> int:
        return self.prompt.size


# ---- 9.6.1: LoRA on the feed-forward layers -------------------------------------------------------------------------

class LoRAFeedForward:
    """relu(x W_upᵀ) W_downᵀ with a LoRALinear for each matrix."""

    def __init__(self, w_up: np.ndarray, w_down: np.ndarray, rank: int = 8, alpha: float = 16.0):
        self.up = LoRALinear(w_up, lora_rank=rank, lora_alpha=alpha)        # d_model → d_ff
        self.down = LoRALinear(w_down, lora_rank=rank, lora_alpha=alpha)    # d_ff → d_model

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.down.forward(np.maximum(0, self.up.forward(x)))

    def merge(self) -> Tuple[np.ndarray, np.ndarray]:
        return self.up.merge()[0], self.down.merge()[0]

    def num_parameters(self) -> int:
        return self.up.lora.num_parameters() + self.down.lora.num_parameters()   # rank·(d + d_ff) each


# ---- 9.6.3: parallel adapters ---------------------------------------------------------------------------------------

class ParallelAdapter(Adapter):
    """He et al. 2022: the adapter reads the sublayer's input and is added to its output."""

    def __init__(self, d_model: int, bottleneck_dim: int = 64, scale: float = 1.0):
        super().__init__(d_model, bottleneck_dim)
        self.scale = scale

    def forward(self, x: np.ndarray, sublayer_out: np.ndarray) -> np.ndarray:
        activated = np.maximum(0, x @ self.W_down)
        return sublayer_out + self.scale * (activated @ self.W_up)


# ---- 9.6.4: prefix MLP ----------------------------------------------------------------------------------------------

class PrefixMLP:
    """PrefixTuning's prefix generated from an embedding through Linear → tanh → Linear (Li & Liang 2021)."""

    def __init__(self, num_layers: int, num_heads: int, d_head: int, prefix_length: int = 10, hidden: int = 512):
        self.num_layers, self.num_heads, self.d_head = num_layers, num_heads, d_head
        self.prefix_length = prefix_length
        d_model = num_heads * d_head
        self.embedding = np.random.randn(prefix_length, d_model) * 0.01
        self.W1 = np.random.randn(d_model, hidden) / np.sqrt(d_model)
        self.b1 = np.zeros(hidden)
        self.W2 = np.random.randn(hidden, 2 * num_layers * d_model) * 0.01
        self.b2 = np.zeros(2 * num_layers * d_model)

    def forward(self) -> np.ndarray:
        out = np.tanh(self.embedding @ self.W1 + self.b1) @ self.W2 + self.b2   # (p, 2·L·d_model)
        # row i: [layer, K/V, head, d_head]; move the position axis to seed 003's layout
        out = out.reshape(self.prefix_length, self.num_layers, 2, self.num_heads, self.d_head)
        return out.transpose(1, 2, 0, 3, 4)

    def get_prefix(self, layer_idx: int):
        prefix = self.forward()
        return prefix[layer_idx, 0], prefix[layer_idx, 1]

    def num_parameters(self) -> int:
        return sum(a.size for a in (self.embedding, self.W1, self.b1, self.W2, self.b2))


# ---- 9.6.5: LoRA + prompt tuning ------------------------------------------------------------------------------------

class LoRAWithPrompt:
    """The soft prompt prepended, then a LoRA linear layer over the whole sequence."""

    def __init__(self, W: np.ndarray, prompt_length: int = 20, rank: int = 8, alpha: float = 16.0):
        self.prompt = PromptTuning(W.shape[1], prompt_length)
        self.linear = LoRALinear(W, lora_rank=rank, lora_alpha=alpha)

    def forward(self, input_embeds: np.ndarray) -> np.ndarray:
        return self.linear.forward(self.prompt.forward(input_embeds))

    def num_parameters(self) -> int:
        return self.prompt.num_parameters() + self.linear.lora.num_parameters()


# ---- 9.6.6: QLoRA (NF4, one absmax per block) -----------------------------------------------------------------------

# QLoRA's NF4 code book (Dettmers et al. 2023, appendix E)
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0])


def quantize_4bit_blockwise(W: np.ndarray, block_size: int = 64) -> Tuple[np.ndarray, Dict[str, Any]]:
    flat = W.reshape(-1)
    starts = range(0, flat.size, block_size)
    absmax = np.array([np.abs(flat[i:i + block_size]).max() for i in starts])
    scale = np.repeat(absmax, block_size)[:flat.size]
    normalized = flat / np.where(scale > 0, scale, 1.0)
    codes = np.abs(normalized[:, None] - NF4[None, :]).argmin(axis=1).astype(np.uint8)   # nearest NF4 value
    return codes.reshape(W.shape), {"absmax": absmax, "block_size": block_size, "shape": W.shape}


def dequantize_4bit_blockwise(codes: np.ndarray, state: Dict[str, Any]) -> np.ndarray:
    flat = codes.reshape(-1)
    scale = np.repeat(state["absmax"], state["block_size"])[:flat.size]
    return (NF4[flat] * scale).reshape(state["shape"])


class QLoRALayer:
    """A frozen 4-bit base weight, dequantized for each matmul, with seed 003's LoRALayer on top."""

    def __init__(self, W: np.ndarray, rank: int = 8, alpha: float = 16.0, block_size: int = 64):
        self.codes, self.state = quantize_4bit_blockwise(W, block_size)   # W itself is not kept
        out_features, in_features = W.shape
        self.lora = LoRALayer(in_features, out_features, rank, alpha)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.lora.forward(x, dequantize_4bit_blockwise(self.codes, self.state))

    def num_parameters(self) -> int:
        return self.lora.num_parameters()

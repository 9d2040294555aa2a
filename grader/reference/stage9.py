"""Reference solutions of Exercises 9.5–9.12 (seeds 000/001), in the conventions `peftcalc grade --spec stage9`
publishes. Graded like any submission, they must score full marks."""

from typing import Any, Dict, List, Tuple

import numpy as np


class LoRALayer:
    def __init__(self, in_features: int, out_features: int, rank: int = 8, alpha: float = 16):
        self.scaling = alpha / rank
        self.rank = rank
        self.A = np.random.randn(rank, in_features) / np.sqrt(rank)   # Gaussian
        self.B = np.zeros((out_features, rank))                         # zero: ΔW = 0 at init

    def forward(self, x: np.ndarray, W: np.ndarray) -> np.ndarray:
        # rows are tokens: Wx becomes x @ W.T, and B @ A @ x becomes x @ A.T @ B.T
        return x @ W.T + self.scaling * (x @ self.A.T @ self.B.T)

    def merge(self, W: np.ndarray) -> np.ndarray:
        return W + self.scaling * (self.B @ self.A)


def lora_backward(grad_output: np.ndarray, x: np.ndarray, A: np.ndarray, B: np.ndarray,
                  scaling: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = grad_output.reshape(-1, grad_output.shape[-1])
    xf = x.reshape(-1, x.shape[-1])
    h = xf @ A.T                                   # (n, r)
    grad_B = scaling * g.T @ h                     # (out, r)
    grad_A = scaling * (g @ B).T @ xf              # (r, in)
    grad_x = scaling * (grad_output @ B @ A)       # the LoRA path's contribution (W is not passed)
    return grad_A, grad_B, grad_x


class Adapter:
    def __init__(self, d_model: int, bottleneck: int = 64):
        self.W_down = np.random.randn(d_model, bottleneck) * 0.01
        self.W_up = np.zeros((bottleneck, d_model))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + np.maximum(x @ self.W_down, 0.0) @ self.W_up


class PromptTuning:
    def __init__(self, d_model: int, prompt_length: int = 20):
        self.prompt_embeddings = np.random.randn(prompt_length, d_model) * 0.02

    def forward(self, input_embeddings: np.ndarray) -> np.ndarray:
        batch = input_embeddings.shape[0]
        prompts = np.broadcast_to(self.prompt_embeddings, (batch, *self.prompt_embeddings.shape))
        return np.concatenate([prompts, input_embeddings], axis=1)


class LoRAMultiHeadAttention:
    def __init__(self, d_model: int, n_heads: int, rank: int = 8, target_modules: List[str] = ['q', 'v']):
        self.d_model, self.n_heads, self.rank = d_model, n_heads, rank
        self.scaling = 2.0                                   # alpha = 2·rank, as LoRALayer's default
        self.W = {name: np.random.randn(d_model, d_model) / np.sqrt(d_model) for name in "qkvo"}
        self.lora_A = {name: np.random.randn(rank, d_model) / np.sqrt(rank) for name in target_modules}
        self.lora_B = {name: np.zeros((d_model, rank)) for name in target_modules}

    def _proj(self, name: str, x: np.ndarray) -> np.ndarray:
        y = x @ self.W[name].T
        if name in self.lora_A:
            y = y + self.scaling * (x @ self.lora_A[name].T @ self.lora_B[name].T)
        return y

    def forward(self, x: np.ndarray, mask=None) -> np.ndarray:
        b, s, d = x.shape
        h, dh = self.n_heads, d // self.n_heads
        q, k, v = (self._proj(n, x).reshape(b, s, h, dh).transpose(0, 2, 1, 3) for n in "qkv")
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh)
        if mask is not None:
            scores = np.where(mask, scores, -1e9)
        scores = scores - scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        out = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, d)
        return self._proj("o", out)

    def merge_lora(self):
        for name in list(self.lora_A):
            self.W[name] = self.W[name] + self.scaling * self.lora_B[name] @ self.lora_A[name]
        self.lora_A, self.lora_B = {}, {}

    def count_trainable_params(self) -> int:
        return sum(self.lora_A[n].size + self.lora_B[n].size for n in self.lora_A)


def analyze_peft_efficiency(model_config: Dict[str, int], method: str, method_config: Dict[str, Any]) -> Dict[str, Any]:
    d, L = model_config["d_model"], model_config["n_layers"]
    total = L * 12 * d * d                    # attention 4d² + MLP 8d² per layer
    if method == "lora":
        trainable = L * 2 * method_config["rank"] * (d + d)      # q and v
    elif method == "adapter":
        m = method_config["bottleneck"]
        trainable = L * 2 * (2 * d * m + d + m)                  # two adapters per layer, with biases
    elif method == "prefix":
        trainable = L * 2 * method_config["length"] * d          # a key and a value prefix per layer
    elif method == "prompt":
        trainable = method_config["length"] * d
    else:
        raise ValueError(method)
    return {"trainable_params": trainable, "total_params": total, "efficiency_ratio": trainable / total,
            "memory_estimate": 16 * (total - trainable)}


class LoRAManager:
    def __init__(self, base_model):
        self.base_model = base_model          # dict: layer name -> W (out x in)
        self.adapters = {}                    # task name -> {layer: {"A": A, "B": B}}
        self.active = None

    def add_adapter(self, name: str, lora_weights: Dict):
        self.adapters[name] = lora_weights

    def switch_adapter(self, name: str):
        if name not in self.adapters:
            raise KeyError(name)
        self.active = name

    def merge_adapter(self, name: str) -> None:
        for layer, ab in self.adapters[name].items():
            self.base_model[layer] = self.base_model[layer] + ab["B"] @ ab["A"]

    def combine_adapters(self, names: List[str], weights: List[float]) -> None:
        combined = {}
        for layer in self.adapters[names[0]]:
            delta = sum(w * (self.adapters[n][layer]["B"] @ self.adapters[n][layer]["A"]) for n, w in zip(names, weights))
            combined[layer] = {"A": np.eye(delta.shape[1]), "B": delta}   # ΔW = B @ A = Σ wᵢ BᵢAᵢ
        self.adapters["combined"] = combined
        self.active = "combined"


def quantize_to_4bit(weight: np.ndarray) -> Tuple[np.ndarray, float, float]:
    lo, hi = float(weight.min()), float(weight.max())
    scale = (hi - lo) / 15 if hi > lo else 1.0
    q = np.clip(np.round((weight - lo) / scale), 0, 15).astype(np.uint8)
    return q, scale, lo


def dequantize_4bit(quantized: np.ndarray, scale: float, zero_point: float) -> np.ndarray:
    return quantized.astype(np.float64) * scale + zero_point


class QLoRALayer:
    def __init__(self, weight_4bit, scale, zero_point, rank: int = 8):
        self.weight_4bit, self.scale, self.zero_point = weight_4bit, scale, zero_point
        out_features, in_features = weight_4bit.shape
        self.A = np.random.randn(rank, in_features) / np.sqrt(rank)
        self.B = np.zeros((out_features, rank))  # LoRA on top, B = 0
        self.scaling = 1.0

    def forward(self, x: np.ndarray) -> np.ndarray:
        W = dequantize_4bit(self.weight_4bit, self.scale, self.zero_point)
        return x @ W.T + self.scaling * ((x @ self.A.T) @ self.B.T)

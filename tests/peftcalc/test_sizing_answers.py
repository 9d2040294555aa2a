"""The sizing answers issue 19 asked for: quant --params, inference headroom, cost from a model, compare --memory,
and the top-level Python API."""

from __future__ import annotations

import json

import pytest

import peftcalc
from peftcalc import load_preset, overheads
from peftcalc.cli import main
from peftcalc.cost import training_compute
from peftcalc.serving import inference_memory, kv_bytes_per_token


def _json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_quant_params(capsys):
    data = _json(capsys, ["quant", "--params", "7e9", "--double-quant"])
    # QLoRA §2: NF4 4 bits + double-quantized constants 8/64 + 32/(64·256) = 4.127 bits per parameter
    assert data["breakdown"]["weights"] == 7 * 10**9 // 2
    assert abs(data["bits_per_param"] - 4.127) < 1e-3


def test_inference_headroom_and_what_still_fits(capsys):
    data = _json(capsys, ["inference", "--model", "llama-3-8b", "--seq", "8192", "--gpu", "24GB"])
    arch = load_preset("llama-3-8b")
    per_token = 2 * 32 * 1024 * 2  # K and V, 32 layers, kv_dim 1024 (GQA 8 × 128), bf16
    assert data["kv_bytes_per_token"] == per_token == kv_bytes_per_token(arch)
    gpu = data["gpu"]
    assert gpu["headroom_bytes"] == 24 * 10**9 - data["device_bytes"]
    # the cache tokens that fit: what the GPU holds beyond the context, the reserve and the weights
    usable = (24 * 10**9 - overheads.CUDA_CONTEXT_BYTES) / (1 + overheads.RESERVE_FRACTION) - 2 * arch.total_params
    assert gpu["max_kv_tokens"] == int(usable // per_token)
    assert gpu["max_sequences"] == gpu["max_kv_tokens"] // 8192


def test_quantized_serving_is_smaller():
    arch = load_preset("llama-3-8b")
    bf16 = inference_memory(arch, batch=1, seq=1024)
    nf4 = inference_memory(arch, batch=1, seq=1024, weights_dtype="nf4")
    assert nf4.kv_cache_bytes == bf16.kv_cache_bytes and nf4.weights_bytes < bf16.weights_bytes / 2.5


def test_cost_takes_n_from_the_model(capsys):
    full = _json(capsys, ["cost", "--model", "llama-3-8b", "--method", "full", "--train-tokens", "1e9"])["training"]
    arch = load_preset("llama-3-8b")
    n = sum(m.numel for m in arch.linear_modules() if m.tied_to is None)  # embeddings do no matmul
    assert full["params"] == n and full["flops"] == 6 * n * 10**9
    ckpt = _json(capsys, ["cost", "--model", "llama-3-8b", "--method", "full", "--train-tokens", "1e9",
                          "--checkpointing"])["training"]
    assert ckpt["flops"] == 8 * n * 10**9                       # the forward runs twice
    lora = _json(capsys, ["cost", "--model", "llama-3-8b", "--method", "lora", "--r", "16", "--train-tokens", "1e9"])
    tr = lora["training"]
    # no gradients of frozen weights: 2·N·D forward + 2·N·D to the inputs, + the adapters' own 6·N_t·D
    assert tr["flops"] == 4 * n * 10**9 + 6 * tr["trainable_params"] * 10**9
    assert tr["tokens_per_second"] > full["tokens_per_second"] and tr["gpu_hours"] < full["gpu_hours"]


def test_training_compute_split():
    comp = training_compute(10, 3, trainable=2, adapter_params=2, recompute=True)
    assert (comp.forward, comp.input_gradients, comp.weight_gradients, comp.recompute) == (72, 72, 12, 72)


def test_compare_like_for_like_with_memory(capsys):
    data = _json(capsys, ["compare", "--model", "llama-2-7b", "--r", "8", "--targets", "q_proj,v_proj", "--memory",
                          "--seq", "256"])
    lora, dora = data["methods"]["lora"], data["methods"]["dora"]
    assert lora["trainable_params"] == 32 * 8 * ((4096 + 4096) * 2)
    assert dora["trainable_params"] == lora["trainable_params"] + 32 * 2 * 4096  # + a magnitude per output
    assert 0 < lora["memory"]["total_bytes"] < lora["memory"]["device_bytes"]


def test_python_api():
    est = peftcalc.memory("gpt2", method="lora", r=8, batch=2, seq=256)
    assert est.breakdown["adapters"] > 0 and est.total_bytes == max(p.total_bytes for p in est.phases)
    assert "<table>" in est._repr_html_()
    assert peftcalc.memory(params="7.5e9", zero=3, gpus=64, batch=0).total_bytes == 1_875_000_000  # ZeRO paper
    served = peftcalc.inference("llama-3-8b", seq=8192, gpu="24GB")
    assert served.max_sequences is not None and "max KV tokens" in served._repr_html_()
    with pytest.raises(peftcalc.InputError, match="given alone"):
        peftcalc.memory("gpt2", params="7e9")


@pytest.mark.parametrize(("argv", "message"), [
    (["quant", "--params", "7e9", "--model", "gpt2"], "`--params` must be given without --model/--config"),
    (["cost", "--model", "gpt2", "--train-params", "7e9", "--train-tokens", "1e9"],
     "`--train-params` must be left out with --model/--config"),
    (["inference", "--model", "gpt2", "--weights-dtype", "int3"], "invalid choice: 'int3'"),
    (["memory", "--model", "gpt2", "--method", "full", "--quant-dtype", "nf4"],
     "`--quant-dtype` must be used with --method qlora"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err

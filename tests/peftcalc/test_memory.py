"""Training/inference memory: hand calculations, component sums, monotonicity, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peftcalc import InputError, arch_from_config, load_preset
from peftcalc.activations import estimate
from peftcalc.cli import main
from peftcalc.serving import kv_cache_bytes
from peftcalc.training import make_memory_config, params_only_memory, training_memory
from peftcalc.quant import model_storage

TINY_LLAMA = arch_from_config({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
                               "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 128,
                               "num_hidden_layers": 2, "vocab_size": 100})


def test_tiny_llama_activations_by_hand():
    # per token, 2-byte tensors, flash attention, no dropout, every weight trained (h=64, q=64, kv=32, f=128),
    # as transformers' LlamaRMSNorm saves: its input in fp32 + rstd 4·64 + 4, its normalized input 2·64 = 388
    # norm 388 + qkv input 128 + Q,K 2·(64+32)=192 + V 64 + flash out 128 + lse 4·4=16 + norm 388 + MLP input 128
    # + gate out 256 + SiLU out & up out 512 + down input 256 = 2456 B/token
    est = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=[m.name for m in TINY_LLAMA.linear_modules()])
    assert est.per_block_bytes == est.first_block_bytes == 2456 * 8
    # head: final norm 388 + lm_head input 2·64 + int64 targets and token ids 16 + 12·100 (in the loss's
    # backward: fp32 log-probs, their gradient and the logits' gradient, measured in tests/peftcalc/verify)
    assert est.total_bytes == 2 * 2456 * 8 + (388 + 128 + 16 + 1200) * 8
    # Korthikanti's Megatron layers: norm inputs only (2·64 each), no targets/ids, the same loss
    megatron = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=[m.name for m in TINY_LLAMA.linear_modules()],
                        implementation="megatron")
    assert megatron.per_block_bytes == (2456 - 2 * 260) * 8


def test_eager_attention_saves_k_and_v_repeated_per_query_head():
    # eager GQA multiplies by K and V repeated to the 4 query heads (transformers' repeat_kv), so Q,K and V are
    # saved at q width: 2·(64+64) + 2·64 instead of 2·(64+32) + 2·32; the s² softmax output is 2·4 heads·s
    names = [m.name for m in TINY_LLAMA.linear_modules()]
    flash = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=names)
    eager = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=names, attention="eager")
    flash_only = 128 + 16  # flash output + log-sum-exp
    # softmax output (transformers upcasts it: fp32 saved + its 2-byte copy, 6·4 heads·s), o_proj input, repeated K, V
    eager_only = 6 * 4 * 4 + 128 + (256 - 192) + (128 - 64)
    assert eager.per_block_bytes - flash.per_block_bytes == (eager_only - flash_only) * 8


def test_lora_saves_only_adapted_inputs():
    names = [m.name for m in TINY_LLAMA.linear_modules() if m.leaf in ("q_proj", "v_proj")]
    est = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=names, lora_rank=4)
    # frozen norms: input in fp32 + rstd only (2 × 260); frozen MLP: no MLP input or down input; peft casts the
    # input of each adapted linear to the fp32 adapter (2 × 4·64 = 512, instead of the shared 2-byte q/k/v input);
    # + LoRA A·x for q and v: 2 × 4 fp32 values = 32
    assert est.per_block_bytes == (2456 - 2 * 128 - 128 - 128 - 256 + 512 + 32) * 8
    # the first block: nothing upstream of q_proj's adapter needs a gradient, so its input norm saves nothing
    assert est.first_block_bytes == est.per_block_bytes - 260 * 8
    # head: frozen final norm 260 + int64 targets 8 + the loss 1200 (no lm_head input, no token ids)
    assert est.total_bytes == est.per_block_bytes + est.first_block_bytes + (260 + 8 + 1200) * 8
    same_dtype = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=names, lora_rank=4, adapter_bytes=2)
    assert est.per_block_bytes - same_dtype.per_block_bytes == (512 - 128 + 16) * 8  # one shared 2-byte input


def test_checkpointing_full_and_selective():
    names = [m.name for m in TINY_LLAMA.linear_modules()]
    full = estimate(TINY_LLAMA, batch=2, seq=4, trained_names=names, checkpointing="full")
    # block inputs + one block (its norm saves an fp32 copy, not the kept 2-byte input) + head
    assert full.total_bytes == 2 * (128 * 8) + 2456 * 8 + (388 + 128 + 16 + 1200) * 8
    eager = estimate(TINY_LLAMA, batch=1, seq=16, trained_names=names, attention="eager")
    selective = estimate(TINY_LLAMA, batch=1, seq=16, trained_names=names, attention="eager", checkpointing="selective")
    # the softmax scores: fp32 output + 2-byte copy, 6·a·s²·b
    assert eager.per_block_bytes - selective.per_block_bytes == 6 * 4 * 16 * 16


def test_full_mixed_is_16_bytes_per_param():
    arch = load_preset("llama-2-7b")
    est = training_memory(arch, make_memory_config(batch=0))
    psi = arch.total_params
    assert est.breakdown == {"weights": 2 * psi, "gradients": 2 * psi, "master_weights": 4 * psi,
                             "optimizer": 8 * psi, "activations": 0}


def test_precisions():
    psi = 10**9
    assert params_only_memory(psi, make_memory_config(batch=0, precision="fp32")).total_bytes == 16 * psi
    assert params_only_memory(psi, make_memory_config(batch=0, precision="bf16")).total_bytes == 12 * psi
    assert params_only_memory(psi, make_memory_config(batch=0, optimizer="sgd")).total_bytes == 8 * psi


def test_lora_state_bytes():
    arch = load_preset("llama-2-7b")
    est = training_memory(arch, make_memory_config(method="lora", batch=0), r=8)
    n = 4_194_304  # golden: q,v at r=8
    assert est.breakdown["adapters"] == est.breakdown["gradients"] == 4 * n   # fp32 adapters (peft autocast)
    assert est.breakdown["optimizer"] == 8 * n
    assert "master_weights" not in est.breakdown
    assert est.breakdown["weights"] == 2 * arch.total_params


def test_qlora_weights_are_the_quant_model():
    arch = load_preset("llama-2-13b")
    est = training_memory(arch, make_memory_config(method="qlora", batch=0), r=64, targets=["all-linear"])
    storage = model_storage(arch, "nf4", double_quant=True)
    assert est.breakdown["weights"] + est.breakdown["quant_constants"] == storage.total_bytes


def test_adam8bit_keeps_small_tensors_in_32_bit():
    # GPT-2 has 768-long norm weights/biases (< 4096 values): 8 B each; large tensors 2 B + 2·4/256
    est = training_memory(load_preset("gpt2"), make_memory_config(batch=0, optimizer="adamw8bit"))
    arch = load_preset("gpt2")
    small = sum(n for m in arch.modules if m.tied_to is None for n in m.params.values() if n < 4096)
    big = [n for m in arch.modules if m.tied_to is None for n in m.params.values() if n >= 4096]
    assert est.breakdown["optimizer"] == 8 * small + sum(2 * n + 8 * -(-n // 256) for n in big)


def test_adafactor_factors_matrices():
    est = training_memory(TINY_LLAMA, make_memory_config(batch=0, optimizer="adafactor"))
    expected = 0
    for m in TINY_LLAMA.modules:
        if m.tied_to is None:
            expected += 4 * (m.out_features + m.in_features) if m.kind != "norm" else 4 * m.out_features
    assert est.breakdown["optimizer"] == expected


@pytest.mark.parametrize("model", ["llama-2-7b", "mistral-7b", "gpt2"])
@pytest.mark.parametrize(("method", "opts"), [("full", {}), ("lora", {"r": 16}), ("qlora", {"r": 64})])
def test_components_sum_to_total(capsys, model, method, opts):
    argv = ["memory", "--model", model, "--method", method, "--batch", "2", "--seq", "512", "--json"]
    for key, value in opts.items():
        argv += [f"--{key}", str(value)]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(data["breakdown"].values()) == data["total_bytes"]
    assert set(data["breakdown"]) <= {"weights", "gradients", "optimizer", "master_weights", "activations",
                                      "quant_constants", "adapters"}


GPT2 = load_preset("gpt2")


@settings(max_examples=25, deadline=None)
@given(r1=st.integers(1, 64), r2=st.integers(1, 64), b1=st.integers(0, 8), b2=st.integers(0, 8),
       s1=st.integers(1, 2048), s2=st.integers(1, 2048), method=st.sampled_from(["lora", "qlora", "dora"]))
def test_more_rank_batch_seq_never_needs_less(r1, r2, b1, b2, s1, s2, method):
    lo = training_memory(GPT2, make_memory_config(method=method, batch=min(b1, b2), seq=min(s1, s2)), r=min(r1, r2))
    hi = training_memory(GPT2, make_memory_config(method=method, batch=max(b1, b2), seq=max(s1, s2)), r=max(r1, r2))
    assert hi.total_bytes >= lo.total_bytes


@settings(max_examples=25, deadline=None)
@given(stage=st.integers(1, 3), g1=st.integers(2, 512), g2=st.integers(2, 512), psi=st.integers(10**6, 10**12))
def test_more_gpus_never_more_per_gpu(stage, g1, g2, psi):
    few = params_only_memory(psi, make_memory_config(batch=0, zero=stage, gpus=min(g1, g2)))
    many = params_only_memory(psi, make_memory_config(batch=0, zero=stage, gpus=max(g1, g2)))
    assert many.total_bytes <= few.total_bytes


def test_kv_cache_gqa():
    # llama-3-8b: 2 (K,V) × 32 layers × 1024 (8 kv heads × 128) × 8192 tokens × 2 B
    assert kv_cache_bytes(load_preset("llama-3-8b"), batch=1, seq=8192) == 2 * 32 * 1024 * 8192 * 2


@pytest.mark.parametrize(("argv", "message"), [
    (["memory", "--model", "gpt2", "--batch", "-1"], "`--batch` must be an integer in [0, 1,000,000], got -1"),
    (["memory", "--params", "7e9", "--zero", "3", "--gpus", "0", "--batch", "0"], "`--gpus` must be an integer in [1"),
    (["memory", "--model", "gpt2", "--optimizer", "adam9"], "`--optimizer` must be one of adamw, adamw8bit"),
    (["memory", "--model", "gpt2", "--gpu", "24XB"], "`--gpu` must be a size such as 24GB, 80GiB or 40 (GB), got 24XB"),
    (["memory", "--params", "1e30", "--batch", "0"], "`--params` must be a whole number of parameters"),
    (["memory", "--params", "7.5e9"], "`--batch` must be 0 with --params"),
    (["memory", "--model", "gpt2", "--zero", "3"], "`--gpus` must be given with --zero 3"),
    (["memory", "--model", "gpt2", "--quant-dtype", "nf4"], "`--quant-dtype` must be used with --method qlora"),
    (["memory", "--model", "gpt2", "--method", "full", "--r", "8"], "`--r` must be an option of a PEFT method"),
    (["memory", "--model", "gpt2", "--method", "lorra"], "`method` must be one of lora, dora"),
    (["quant", "--model", "gpt2", "--dtype", "int3"], "`--dtype` must be one of fp32"),
    (["cost", "--input-price", "nan", "--output-price", "0.03"], "argument --input-price: must be a finite number"),
    (["cost", "--few-shot", "5y200", "--input-price", "0.01", "--output-price", "0.03"], "`--few-shot` must be COUNTxTOKENS"),
])
def test_bad_input_exit_2(capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_memory_command_is_torch_free():
    code = ("import sys, peftcalc.cli as c; rc = c.main(['memory', '--model', 'llama-2-7b', '--method', 'qlora', "
            "'--json']); assert 'torch' not in sys.modules; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["method"] == "qlora"


def test_bad_memory_config_raises_input_error():
    with pytest.raises(InputError, match="`--zero` must be an integer in \\[0, 3\\], got 4"):
        make_memory_config(zero=4)

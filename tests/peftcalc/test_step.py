"""The step-peak model: phases in allocation order, the options that move the peak, the three levels."""

from __future__ import annotations

import json

import pytest

from peftcalc import load_preset, overheads
from peftcalc.cli import main
from peftcalc.training import make_memory_config, training_memory

LLAMA = load_preset("llama-2-7b")


def test_gradients_appear_as_activations_die():
    # full fine-tuning, b=1: the step's peak is never weights + states + *all* gradients + *all* activations
    est = training_memory(LLAMA, make_memory_config(batch=1, seq=2048))
    additive = sum(est.static.values())
    assert est.total_bytes < additive
    assert est.total_bytes == max(p.total_bytes for p in est.phases)
    assert sum(est.breakdown.values()) == est.total_bytes
    # in the forward no gradient exists (zero_grad(set_to_none=True)); at the optimizer step all of them do
    phases = {p.name: p.breakdown for p in est.phases}
    assert phases["forward (at the loss)"]["gradients"] == 0
    assert phases["optimizer step"]["gradients"] == 2 * LLAMA.total_params
    assert phases["optimizer step"]["activations"] == 0


def test_foreach_adamw_adds_one_state_during_the_step():
    fused = training_memory(LLAMA, make_memory_config(batch=0, precision="fp32"))
    foreach = training_memory(LLAMA, make_memory_config(batch=0, precision="fp32", optimizer_impl="foreach"))
    # torch's foreach AdamW: _foreach_sqrt of every second moment (4 B/param) — measured on CPU in verify
    assert foreach.total_bytes - fused.total_bytes == 4 * LLAMA.total_params
    assert foreach.peak_phase == "optimizer step"


def test_bf16_optimizer_states_halve_adamw():
    fp32 = training_memory(LLAMA, make_memory_config(batch=0, precision="bf16"))
    bf16 = training_memory(LLAMA, make_memory_config(batch=0, precision="bf16", optimizer_dtype="bf16"))
    assert fp32.breakdown["optimizer"] == 8 * LLAMA.total_params
    assert bf16.breakdown["optimizer"] == 4 * LLAMA.total_params  # torch's AdamW: zeros_like(bf16 param)


def test_optimizer_in_backward_keeps_at_most_one_gradient():
    est = training_memory(LLAMA, make_memory_config(batch=1, seq=512, optimizer_in_backward=True))
    largest = max(m.numel for m in LLAMA.modules if m.tied_to is None)
    assert max(p.breakdown["gradients"] for p in est.phases) == 2 * largest
    assert "optimizer step" not in {p.name for p in est.phases}


def test_chunked_loss_drops_the_vocabulary_terms():
    cfg = dict(method="qlora", batch=2, seq=2048, checkpointing="full")
    arch = load_preset("llama-3-8b")
    standard = training_memory(arch, make_memory_config(**cfg), r=16, targets=["all-linear"])
    chunked = training_memory(arch, make_memory_config(**cfg, loss="chunked"), r=16, targets=["all-linear"])
    # 12·s·b·V = 12 · 2048 · 2 · 128,256 bytes at the loss's backward (issue 19: 6.3 GB of Llama-3-8B's 7.5 GiB)
    assert standard.activation.loss_gradient_bytes + standard.activation.loss_saved_bytes == 12 * 2048 * 2 * 128_256
    assert chunked.activation.loss_saved_bytes == 0
    assert standard.peak_phase == "loss backward (log-softmax)"
    assert "loss backward (log-softmax)" not in {p.name for p in chunked.phases}
    # the peak moves into the forward / a block's backward, so the saving is less than the whole 6.3 GB
    assert 4 * 10**9 < standard.total_bytes - chunked.total_bytes < 12 * 2048 * 2 * 128_256


def test_offload_moves_states_to_the_host():
    est = training_memory(LLAMA, make_memory_config(batch=0, offload="cpu", zero=2, gpus=1))
    psi = LLAMA.total_params
    assert est.host_bytes == (4 + 8 + 2) * psi  # master weights, AdamW states, gradients (ZeRO-Offload)
    assert est.total_bytes == 2 * psi           # the 16-bit weights stay on the GPU
    z3 = training_memory(LLAMA, make_memory_config(batch=0, offload="cpu", zero=3, gpus=1))
    assert z3.total_bytes == 0 and z3.host_bytes == 16 * psi


def test_three_levels():
    est = training_memory(LLAMA, make_memory_config(method="lora", batch=1), r=8)
    assert est.total_bytes < est.reserved_bytes < est.device_bytes
    assert est.device_bytes - est.reserved_bytes == overheads.CUDA_CONTEXT_BYTES
    assert est.fits(est.device_bytes) == (True, 0) and not est.fits(est.device_bytes - 1)[0]


def test_memory_json_has_levels_and_phases(capsys):
    assert main(["memory", "--model", "gpt2", "--method", "lora", "--r", "8", "--batch", "2", "--seq", "256",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_bytes"] < data["reserved_bytes"] < data["device_bytes"]
    assert set(data["levels"]) == {"total_bytes", "reserved_bytes", "device_bytes"}
    assert data["peak_phase"] in [p["name"] for p in data["phases"]]
    assert max(p["total_bytes"] for p in data["phases"]) == data["total_bytes"]


def test_solve_batch_for_the_issue_example(capsys):
    argv = ["memory", "--model", "llama-3-8b", "--method", "qlora", "--r", "16", "--targets", "all-linear",
            "--seq", "2048", "--checkpointing", "--gpu", "24GB", "--solve", "batch", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["value"] >= 1 and data["device_bytes"] <= 24 * 10**9 < data["next"]["device_bytes"]
    assert data["config"]["batch"] == data["value"]


@pytest.mark.parametrize("what", ["seq", "r"])
def test_solve_seq_and_r(what, capsys):
    argv = ["memory", "--model", "gpt2", "--method", "lora", "--batch", "2", "--seq", "512", "--gpu", "6GB",
            "--solve", what, "--json"]
    if what == "seq":
        argv += ["--r", "8"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["value"] >= 1 and data["device_bytes"] <= 6 * 10**9
    assert "next" not in data or data["next"]["device_bytes"] > 6 * 10**9


@pytest.mark.parametrize(("argv", "message"), [
    (["memory", "--model", "gpt2", "--solve", "batch"], "`--solve` must be used with --gpu SIZE"),
    (["memory", "--model", "gpt2", "--solve", "r", "--gpu", "24GB"], "`--solve` must be used with --method lora"),
    (["memory", "--model", "gpt2", "--method", "lora", "--r", "8", "--solve", "r", "--gpu", "24GB"],
     "`--r` must be left out with --solve r"),
])
def test_solve_errors(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_zero_0_over_many_gpus_is_the_baseline(capsys):
    assert main(["memory", "--params", "7.5e9", "--zero", "0", "--gpus", "64", "--batch", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_bytes"] == 16 * 7_500_000_000  # ZeRO paper: 120 GB per GPU without ZeRO


def test_zero_3_holds_one_block_whole():
    # ZeRO-3 over 8 GPUs: two gathered blocks of 16-bit weights and, in a block's backward, its whole gradient
    # before the reduce-scatter — on top of the 1/8 shards
    psi_block = sum(m.numel for m in LLAMA.modules if m.name.startswith("model.layers.0."))
    est = training_memory(LLAMA, make_memory_config(batch=1, seq=512, zero=3, gpus=8, checkpointing="full"))
    sharded = -(-2 * LLAMA.total_params // 8)
    assert est.static["weights"] == sharded + 2 * 2 * psi_block
    block_phase = next(p for p in est.phases if p.name.startswith("backward, first block: MLP"))
    assert block_phase.breakdown["gradients"] >= 2 * psi_block

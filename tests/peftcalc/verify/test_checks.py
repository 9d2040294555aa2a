"""The verifier's checks pass on CPU, and each can fail: a wrong model or a wrong layer is caught."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="torch not installed (pip install 'peftcalc[torch]')")

from peftcalc.cli import main  # noqa: E402
from peftcalc.verify import GROUP_NAMES, run  # noqa: E402
from peftcalc.verify import checks  # noqa: E402


@pytest.mark.parametrize("group", [g for g in GROUP_NAMES if g not in ("latency", "cuda")])
def test_group_passes_on_cpu(group):
    results = run([group])
    assert results, group
    failed = [(c.name, c.detail) for c in results if c.status == "fail"]
    assert failed == []


def test_cuda_group_skips_cleanly_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the CUDA checks run instead")
    (only,) = run(["cuda"])
    assert only.status == "skip" and "no CUDA device" in only.detail


def test_latency_check_reports_ratios():
    (c,) = checks.check_merged_latency(d=256, tokens=256, repeats=3)
    assert c.numbers["merged_over_base"] > 0 and c.numbers["unmerged_over_base"] > 0


def test_counts_check_catches_a_wrong_formula(monkeypatch):
    real = checks.params

    class OffByOne:
        def __init__(self, res):
            self._res = res

        def __getattr__(self, name):
            return getattr(self._res, name)

        @property
        def trainable_params(self):
            return self._res.trainable_params + 1

    monkeypatch.setattr(checks, "params", lambda *a, **k: OffByOne(real(*a, **k)))
    results = list(checks.check_counts(checks.tiny_llama_arch(), (("lora", {"r": 8}),)))
    assert [c.status for c in results] == ["fail"]


def test_identity_check_catches_a_random_B(monkeypatch):
    real = checks.apply_lora

    def random_b(model, *a, **k):
        names = real(model, *a, **k)
        checks._randomize_lora(model)
        return names

    monkeypatch.setattr(checks, "apply_lora", random_b)
    lora = next(c for c in checks.check_identity_at_init() if c.name.startswith("LoRA"))
    assert lora.status == "fail"


def test_memory_check_catches_a_wrong_optimizer_model(monkeypatch):
    real = checks.training_memory

    def no_second_moment(*a, **k):
        est = real(*a, **k)
        comps = dict(est.components)
        comps["optimizer"] = type(comps["optimizer"])(comps["optimizer"].bytes // 2, "m only")
        return type(est)(est.model, est.method, comps, est.trainable_params, est.base_params, est.assumptions)

    monkeypatch.setattr(checks, "training_memory", no_second_moment)
    assert all(c.status == "fail" for c in checks.check_memory_accounting())


def test_nf4_code_book_and_bits():
    from peftcalc.verify.nf4 import nf4_code_book, quantize_nf4

    codes = nf4_code_book()
    assert codes.numel() == 16 and float(codes[0]) == -1.0 and float(codes[-1]) == 1.0 and 0.0 in codes.tolist()
    # QLoRA §3: 4 + 32/64 = 4.5 bits without, 4 + 8/64 + 32/(64·256) ≈ 4.127 with double quantization
    n = 64 * 256 * 4
    plain = quantize_nf4(torch.randn(n)).nbytes()
    dq = quantize_nf4(torch.randn(n), double_quant=True).nbytes()
    assert 8 * sum(plain.values()) / n == 4.5
    assert 8 * sum(dq.values()) == 4 * n + 8 * (n // 64) + 32 * (n // 64 // 256) + 32


def test_meta_device_memory_accounting_for_a_7b_model():
    from peftcalc.arch.presets import load_preset

    results = list(checks.check_memory_accounting(load_preset("llama-2-7b"), "lora", {"r": 16}))
    assert [c.status for c in results] == ["pass", "pass"]
    assert results[1].numbers["measured"]["adapters"] == 4 * 16 * 2 * 32 * (4096 + 4096)  # fp32 q,v r=16


def test_cuda_step_accounting_on_cpu_allocations():
    # The CUDA check's own code, with CPU storages counted instead of the CUDA allocator's. It caught a
    # reset between the second step and reading its peak (activations read 0 B on an H100).
    from peftcalc.verify.cuda import CpuAllocations, cuda_memory_checks

    shape = {"t": dict(hidden=64, layers=2, heads=4, kv_heads=2, ffn=128, vocab=256)}
    with CpuAllocations() as probe:
        results = list(cuda_memory_checks(batch=2, seq=32, shapes=shape, probe=probe, name="cpu"))
    assert [c.name.split()[-6] for c in results] == ["full", "lora"]
    for check in results:
        measured, model = check.numbers["measured"], check.numbers["model"]
        assert measured["activations (peak above static)"] > 0.5 * model["activations"]
        assert measured["peak_step"] == sum(v for k, v in measured.items() if k != "peak_step")
        assert 0.8 <= check.numbers["ratio"] <= 1.25, check.detail
    assert all("differ: " in c.detail for c in results)
    full, lora = (c.numbers["measured"] for c in results)
    assert abs(full["gradients"] / results[0].numbers["model"]["gradients"] - 1) < 0.01  # + a few temporaries
    assert lora["gradients"] < full["gradients"] / 10


def test_differences_name_the_components_and_why():
    from peftcalc.verify.cuda import differences

    model = {"weights": 1000, "adapters": 0, "gradients": 1000, "optimizer": 2000, "activations": 5000}
    measured = {"weights+adapters": 1001, "gradients": 1100, "optimizer": 2000,
                "activations (peak above static)": 4000, "peak_step": 8101}
    diff = differences(measured, model)
    assert [d.split()[0] for d in diff] == ["gradients", "activations"]
    assert "+10.0% (cuBLAS" in diff[0] and "-20.0%" in diff[1]


def test_step_peak_with_a_large_vocabulary_is_the_loss_backward():
    # V ≫ h: the peak is in the loss's backward, where the fp32 log-probs, their gradient and the logits'
    # gradient (12sbV) are alive together. Counting only what is saved (4sbV) would miss it by ~2/3.
    from peftcalc.activations import estimate
    from peftcalc.verify.cuda import CpuAllocations, step_peak
    from peftcalc.verify.models import tiny_llama_arch

    shape = dict(hidden=64, layers=2, heads=4, kv_heads=4, ffn=128, vocab=8192)
    with CpuAllocations() as probe:
        step, memory = step_peak(shape, "full", 2, 64, probe)
    peak, model = step["activations (peak above static)"], memory.breakdown["activations"]
    assert abs(peak / model - 1) < 0.03
    names = [m.name for m in tiny_llama_arch(**shape).linear_modules()]
    gradients = estimate(tiny_llama_arch(**shape), batch=2, seq=64, trained_names=names, attention="eager",
                         dtype_bytes=4).loss_gradient_bytes
    assert gradients == 8 * 2 * 64 * 8192 and peak / (model - gradients) > 1.3


def test_cli_verify_json_and_errors(capsys):
    assert main(["verify", "--only", "init,gradients", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["failed"] == 0 and {c["group"] for c in data["checks"]} == {"init", "gradients"}
    assert main(["verify", "--only", "nope"]) == 2
    assert main(["verify", "--method", "lora"]) == 2
    assert main(["verify", "--model", "gpt2", "--r", "8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


def test_cli_verify_named_model(capsys):
    assert main(["verify", "--model", "llama-3-8b", "--method", "dora", "--r", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["group"] for c in data["checks"]] == ["counts", "memory", "memory"]


def test_cli_memory_example_from_the_issue(capsys):
    # `peftcalc verify --memory --model gpt2 --method qlora --batch 4 --seq 512` (smaller numbers here)
    assert main(["verify", "--memory", "--model", "gpt2", "--method", "qlora", "--batch", "2", "--seq", "32",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    groups = [c["group"] for c in data["checks"]]
    cuda = [c for c in data["checks"] if c["group"] == "cuda"]  # one skip without a GPU; 2 shapes × 2 methods with
    assert len(cuda) == (4 if torch.cuda.is_available() else 1)
    assert groups == ["memory"] + ["activations"] * 4 + ["cuda"] * len(cuda)
    assert "b=2, s=32" in data["checks"][1]["name"]
    assert main(["verify", "--memory", "--batch", "0"]) == 2

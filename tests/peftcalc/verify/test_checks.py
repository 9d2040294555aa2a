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


def test_cuda_code_path_runs_with_a_stand_in_probe():
    from peftcalc.verify.cuda import cuda_memory_checks

    class Probe:
        device = torch.device("cpu")
        allocated = peak = staticmethod(lambda: 0)
        reset = release = staticmethod(lambda: None)

    shape = {"t": dict(hidden=32, layers=1, heads=2, kv_heads=1, ffn=64, vocab=50)}
    results = list(cuda_memory_checks(batch=1, seq=8, shapes=shape, probe=Probe(), name="dry run"))
    assert [c.name.split()[-6] for c in results] == ["full", "lora"]
    assert all("model:" in c.detail for c in results)


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
    assert groups == ["memory", "activations", "activations", "cuda"]
    assert "b=2, s=32" in data["checks"][1]["name"]
    assert main(["verify", "--memory", "--batch", "0"]) == 2

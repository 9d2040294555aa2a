"""`peftcalc experiment miniproject`: LoRA from scratch merges exactly, the params column is peftcalc's count,
the quick run's JSON has the schema, and without torch the command says what to install (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from peftcalc.cli import main
from peftcalc.experiments.plot import png_size, sweep_png

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    """This checkout first on the path, whatever peftcalc the interpreter has installed."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _needs_torch():
    pytest.importorskip("torch", reason="torch not installed (pip install 'peftcalc[torch]')")
    pytest.importorskip("sklearn", reason="scikit-learn not installed (pip install 'peftcalc[torch]')")


# ---- without torch ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("blocked, named", [("torch", "torch==2.13.0"), ("sklearn", "scikit-learn")])
def test_missing_dependency_is_one_line_and_exit_2(capsys, monkeypatch, blocked, named):
    monkeypatch.setitem(sys.modules, blocked, None)  # `import torch` now raises ImportError, as if absent
    code = main(["experiment", "miniproject", "--quick"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert named in err and "pip install 'peftcalc[torch]'" in err


def test_help_names_the_data_and_imports_no_torch():
    code = ("import sys; from peftcalc.cli import main\n"
            "try:\n    main(['experiment', 'miniproject', '--help'])\nexcept SystemExit as e:\n    rc = e.code\n"
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "load_digits" in proc.stdout and "scikit-learn" in proc.stdout and "peftcalc[torch]" in proc.stdout


def test_sweep_png_is_a_valid_image():
    rows = [{"r": r, "params": 100 * r, "accuracy": 0.9 + r / 1000, "accuracy_std": 0.01} for r in (1, 2, 4, 8)]
    result = {"sweep": rows, "rows": [{"method": "full", "accuracy": 0.97, "seeds": [0, 1, 2]}],
              "qlora": {"rows": [{"r": 4, "accuracy": 0.9}]},
              "baselines": [{"method": "scratch", "accuracy": 0.93}]}
    png = sweep_png(result)
    assert png == sweep_png(result)  # a pure function of the numbers
    width, height = png_size(png)
    idat = png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    assert bytes((31, 119, 180)) in raw  # the LoRA series was drawn


# ---- with torch ------------------------------------------------------------------------------------------------


def _tiny():
    from peftcalc.experiments import miniproject as mp

    return mp, mp.Settings(seeds=(0,), ranks=(4, 16), qlora_ranks=(4,), pretrain_steps=3, finetune_steps=3,
                           baselines=False)


@pytest.mark.torch
def test_lora_from_scratch_merged_equals_unmerged():
    _needs_torch()
    import torch

    mp, s = _tiny()
    from peftcalc.verify.layers import lora_modules

    torch.manual_seed(0)
    clf = mp.build_classifier(s, mp.RowModel(mp.model_arch(s)), "lora", 4)
    layers = lora_modules(clf)
    assert [m.r for m in layers] == [4] * (2 * s.layers)  # q_proj and v_proj of each layer
    for m in layers:  # B = 0 at init makes merging trivial: give the update a value first
        torch.nn.init.normal_(m.lora_B, std=0.5)
    rows = torch.rand(16, 8, 8)
    with torch.no_grad():
        before = clf(rows)
    checked = mp.merge_check(clf, rows)
    assert 0 < checked["max_abs_diff"] <= checked["tolerance"] < 1e-3
    with torch.no_grad():  # unmerged again: the same model as before the check
        assert float((clf(rows) - before).abs().max()) <= checked["tolerance"]
    assert not any(m.merged for m in layers)


@pytest.mark.torch
def test_merge_check_catches_a_wrong_merge(monkeypatch):
    _needs_torch()
    import torch

    from peftcalc.verify.layers import LoRALinear

    mp, s = _tiny()
    clf = mp.build_classifier(s, mp.RowModel(mp.model_arch(s)), "lora", 4)
    for m in clf.modules():
        if isinstance(m, LoRALinear):
            torch.nn.init.normal_(m.lora_B)
    monkeypatch.setattr(LoRALinear, "delta_weight", lambda self: (self.lora_B @ self.lora_A))  # scaling forgotten
    with pytest.raises(RuntimeError, match="merged logits differ"):
        mp.merge_check(clf, torch.rand(4, 8, 8))


@pytest.mark.torch
@pytest.mark.parametrize("method, r", [("full", None), ("lora", 4), ("lora", 16), ("qlora", 16)])
def test_params_column_equals_peftcalc_cli_count(capsys, tmp_path, method, r):
    """The torch model's trainable numel == `peftcalc lora|full --config <the model's config.json>`."""
    _needs_torch()
    mp, s = _tiny()
    clf = mp.build_classifier(s, mp.RowModel(mp.model_arch(s)), method, r)
    trainable = sum(p.numel() for p in clf.parameters() if p.requires_grad)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(mp.model_config(s)))
    argv = ["full", "--config", str(config), "--json"] if method == "full" else \
        ["lora", "--config", str(config), "--r", str(r), "--alpha", "16", "--targets", "q_proj,v_proj", "--json"]
    assert main(argv) == 0
    counted = json.loads(capsys.readouterr().out)
    assert trainable == counted["trainable_params"] == mp.expected_trainable(s, method, r)
    if method == "full":
        assert trainable == counted["base_params"] == sum(p.numel() for p in clf.parameters())


@pytest.mark.torch
def test_tiny_run_is_deterministic_and_checks_the_nf4_bytes():
    _needs_torch()
    mp, s = _tiny()
    first, second = mp.run(s), mp.run(s)
    for res in (first, second):
        res.pop("seconds")
    assert first == second
    q = first["qlora"]["base_bytes_detail"]
    assert q["total"] == q["peftcalc_model_storage"] < q["fp32_base"] / 5


@pytest.mark.torch
def test_bad_targets_are_one_line_and_exit_2(capsys):
    _needs_torch()
    code = main(["experiment", "miniproject", "--quick", "--targets", "q_proj,wq"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "--targets" in err and "all-linear" in err


@pytest.mark.torch
def test_quick_json_subprocess(tmp_path):
    _needs_torch()
    plot = tmp_path / "sweep.png"
    proc = subprocess.run([sys.executable, "-m", "peftcalc", "experiment", "miniproject", "--quick", "--json",
                           "--plot", str(plot)], capture_output=True, text=True, timeout=300, env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    rows = {row["method"]: row for row in data["rows"]}
    assert list(rows) == ["full", "lora_r4", "lora_r16"]
    assert rows["lora_r4"]["params"] < rows["lora_r16"]["params"] < rows["full"]["params"]
    assert rows["full"]["params"] == data["model"]["total_params"]
    for row in [*data["rows"], *data["sweep"], *data["qlora"]["rows"]]:
        assert row["params"] == row["params_peftcalc"] and isinstance(row["params"], int)
        assert 0 <= row["accuracy_min"] <= row["accuracy"] <= row["accuracy_max"] <= 1
        assert row["accuracy_std"] >= 0 and len(row["accuracies"]) == len(row["seeds"]) >= 3
    assert [row["r"] for row in data["sweep"]] == [1, 4, 16, 64]
    assert data["qlora"]["base_bytes"] < data["qlora"]["base_bytes_detail"]["fp32_base"]
    assert data["data"]["package"] == "scikit-learn" and data["data"]["loader"] == "sklearn.datasets.load_digits"
    assert data["model"]["adapted_modules"] == [f"model.layers.{i}.self_attn.{m}" for i in (0, 1)
                                                for m in ("q_proj", "v_proj")]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and data["plot"] == str(plot)
    # without a terminal there is no progress bar: stderr stays empty
    assert proc.stderr == ""
    # a student who states this model in 9.mini (the analytical grader) is graded against the same counts
    from grader.analytic import grade_answers

    stated = {"model": data["model"]["config"], "targets": ",".join(data["model"]["lora_targets"]),
              **{m: str(rows[m]["params"]) for m in ("full", "lora_r4", "lora_r16")}}
    graded = [p for p in grade_answers("stage9", {"9.mini": stated}).parts if p.id.startswith("9.mini.")]
    assert len(graded) == 3 and all(p.score == p.max_score for p in graded), [p.feedback for p in graded]

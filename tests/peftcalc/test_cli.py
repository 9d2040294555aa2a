"""The CLI in-process through main(argv): exit codes, one-line errors, --json schema, rendering."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from peftcalc.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_acceptance_lora_4096_r8(capsys):
    code, out, err = run(capsys, "lora", "--d", "4096", "--r", "8")
    assert code == 0 and err == ""
    text = " ".join(out.split())
    assert "65,536 trainable of 16,777,216 base (0.390625 %, 256× fewer)" in text
    assert "r*(d + k)" in text


def test_json_has_design_keys(capsys):
    code, out, _ = run(capsys, "lora", "--d", "4096", "--r", "8", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["trainable_params"] == 65536 and data["base_params"] == 16777216
    assert data["total_params"] == 16777216 + 65536
    assert data["trainable_fraction"] == 1 / 256
    assert data["formula"] == "r*(d + k)"
    assert data["breakdown"] == {"layers.*.W0": 65536}
    assert data["checkpoint"]["bytes"] == {"fp32": 262144, "fp16": 131072, "bf16": 131072}


def test_json_for_config_all_linear(capsys, tmp_path):
    from golden import config_path

    code, out, _ = run(capsys, "lora", "--config", str(config_path("llama2-7b")), "--r", "64",
                       "--targets", "all-linear", "--json")
    assert code == 0 and json.loads(out)["trainable_params"] == 159_907_840  # golden lora_r64_all_linear


def test_latex(capsys):
    code, out, _ = run(capsys, "dora", "--d", "64", "--r", "4", "--latex")
    assert code == 0 and out.strip() == r"d + r \left(d + k\right)"


def test_model_list_and_model(capsys):
    code, out, _ = run(capsys, "model", "--list")
    assert code == 0 and "llama-2-70b" in out and "68,976,648,192" in out
    code, out, _ = run(capsys, "model", "--model", "t5-base", "--json")
    data = json.loads(out)
    assert data["total_params"] == 222_903_552
    assert sum(data["breakdown"].values()) == data["total_params"]


def test_compare_every_method(capsys):
    from peftcalc import REGISTRY

    code, out, _ = run(capsys, "compare", "--model", "mistral-7b", "--json")
    data = json.loads(out)
    assert code == 0 and set(data["methods"]) == set(REGISTRY)
    assert data["methods"]["lora"]["trainable_params"] == 32 * 8 * ((4096 + 4096) + (4096 + 1024))
    assert "no default targets" in data["methods"]["adalora"]["error"]
    code, out, _ = run(capsys, "compare", "--model", "mistral-7b")
    assert code == 0 and "AdaLoRA" in out and "not applicable" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["lora", "--d", "4096", "--r", "0"], "`--r` must be an integer in [1, 1,000,000]"),
    (["lora", "--d", "4096", "--r", "-3"], "`--r` must be an integer in [1, 1,000,000]"),
    (["lora", "--d", "4096", "--r", "1e30"], "argument --r: must be an integer, got '1e30'"),
    (["lora", "--d", "4096", "--r", "abc"], "argument --r: must be an integer, got 'abc'"),
    (["lora", "--d", "4096", "--r", "5000"], "`--r` must be a positive integer ≤ min(d, k) = 4096"),
    (["lora", "--d", "0", "--r", "8"], "`--d` must be an integer in [1, 10,000,000], got 0"),
    (["lora", "--d", "4096", "--alpha", "nan"], "argument --alpha: must be a finite number, got 'nan'"),
    (["lora", "--model", "llama-2-7b", "--targets", "qkv"], "`--targets` must be module names in llama-2-7b"),
    (["lora", "--model", "llama-9"], "`--model` must be a bundled preset (bert-base-uncased"),
    (["lora", "--r", "8"], "exactly one of --model NAME, --config PATH or --d N"),
    (["lora", "--model", "gpt2", "--d", "64"], "exactly one of"),
    (["lora", "--model", "gpt2", "--k", "64"], "`--k` must be used only with --d"),
    (["lora", "--config", "/nonexistent/config.json"], "an existing config.json file"),
    (["model"], "exactly one of --model NAME, --config PATH"),
    (["nosuch"], "invalid choice: 'nosuch'"),
])
def test_bad_input_one_line_exit_2(capsys, argv, message):
    code, out, err = run_catching_exit(capsys, argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def run_catching_exit(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors exit from inside parse_args
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("content", ["{oops", '{"model_type": "bloom"}', "[]", '{"model_type": "llama"}'])
def test_malformed_config_files(capsys, tmp_path, content):
    path = tmp_path / "config.json"
    path.write_text(content)
    code, out, err = run_catching_exit(capsys, ["lora", "--config", str(path)])
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_subprocess_entry_point_never_imports_torch():
    # One real process: the console entry point's module, and a check that torch stayed out.
    code = ("import sys, runpy; sys.argv=['peftcalc','lora','--d','4096','--r','8','--json'];"
            "import peftcalc.cli as c; rc=c.main(sys.argv[1:]); assert 'torch' not in sys.modules, 'torch imported';"
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["trainable_params"] == 65536


def test_console_script_exit_codes():
    from pathlib import Path

    script = Path(sys.executable).with_name("peftcalc")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    ok = subprocess.run([str(script), "lora", "--d", "4096", "--r", "8", "--json"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout)["trainable_params"] == 65536
    bad = subprocess.run([str(script), "lora", "--d", "4096", "--r", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1

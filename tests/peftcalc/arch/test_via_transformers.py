"""``--via transformers`` against the family files, on every published config (runs when the hf extra is
installed): both paths must give the same architecture total and the same counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch not installed")
pytest.importorskip("transformers", reason="transformers not installed (pip install 'peftcalc[hf]')")

from peftcalc import load_config_file, params  # noqa: E402
from peftcalc.arch.hf_config import SUPPORTED_MODEL_TYPES  # noqa: E402
from peftcalc.arch.via_transformers import arch_via_transformers  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "configs"
CONFIGS = sorted(p for p in DATA.glob("*.json") if p.name != "peft_counts.json"
                 and json.loads(p.read_text()).get("model_type") in SUPPORTED_MODEL_TYPES)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_family_file_agrees_with_transformers(path):
    cfg = json.loads(path.read_text())
    ours, theirs = load_config_file(path), arch_via_transformers(cfg, name=path.name)
    assert ours.total_params == theirs.total_params
    assert ours.output_head == theirs.output_head
    for options in ({"r": 8, "targets": ["all-linear"]}, {"r": 4, "bias": "all", "targets": ["all-linear"]}):
        assert params("lora", arch=ours, **options).trainable_params == \
            params("lora", arch=theirs, **options).trainable_params, options


def test_a_model_type_without_a_family_file(capsys):
    from peftcalc.cli import main

    path = DATA / "distilbert-base-uncased.json"
    assert main(["lora", "--config", str(path), "--r", "8", "--targets", "q_lin"]) == 2
    assert "--via transformers" in capsys.readouterr().err
    assert main(["lora", "--config", str(path), "--r", "8", "--targets", "all-linear", "--via", "transformers",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    record = json.loads((DATA / "peft_counts.json").read_text())["models"]["distilbert-base-uncased"]
    assert out["base_params"] == record["base"]
    # 6 layers × 8 × (q, k, v, out: 768+768 each; lin1 768+3072; lin2 3072+768) + the MLM transform 768→768
    assert out["trainable_params"] == 6 * 8 * (4 * 1536 + 2 * 3840) + 8 * 1536 == 675_840

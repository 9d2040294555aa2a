"""``--model`` takes what people type: preset names, Hugging Face ids in any case, aliases, a local HF cache
folder; ``--config`` takes a model folder. Nothing is downloaded."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from peftcalc import params
from peftcalc.cli import main
from peftcalc.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "configs"
# meta-llama/Llama-3.1-8B, all-linear at r=16: 32 layers × 16 × (q 4096+4096, k 4096+1024, v 4096+1024,
# o 4096+4096, gate 4096+14336, up 4096+14336, down 14336+4096)
LLAMA31_ALL_LINEAR_R16 = 32 * 16 * (8192 + 5120 + 5120 + 8192 + 18432 * 3)


@pytest.mark.parametrize("name", ["meta-llama/Llama-3.1-8B", "META-LLAMA/llama-3.1-8b", "llama-3.1-8b",
                                  "Llama-3.1-8B"])
def test_hub_ids_and_aliases(name):
    assert params("lora", model=name, r=16, targets=["all-linear"]).trainable_params == LLAMA31_ALL_LINEAR_R16


def test_a_presets_own_source_name():
    assert params("lora", model="meta-llama/Meta-Llama-3-8B", r=8).trainable_params == \
        params("lora", model="llama-3-8b", r=8).trainable_params


def test_cli_acceptance_command(capsys):
    assert main(["lora", "--model", "meta-llama/Llama-3.1-8B", "--r", "16", "--targets", "all-linear", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trainable_params"] == LLAMA31_ALL_LINEAR_R16


def _fake_cache(root: Path, repo: str, config: Path, *, pinned: bool = True) -> Path:
    folder = root / f"models--{repo.replace('/', '--')}"
    snap = folder / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    shutil.copy(config, snap / "config.json")
    old = folder / "snapshots" / "old" / "config.json"  # an older revision, which must not be read
    old.parent.mkdir()
    old.write_text('{"model_type": "gpt2"}')
    os.utime(old, (1_000_000, 1_000_000))
    if pinned:
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text("0123abcd")
    return snap / "config.json"


def test_the_local_hugging_face_cache_comes_first(tmp_path, monkeypatch, capsys):
    _fake_cache(tmp_path, "Qwen/Qwen3-0.6B", DATA / "qwen3-0.6b.json")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    cached = params("lora", model="Qwen/Qwen3-0.6B", r=8)
    assert cached.trainable_params == 28 * 8 * ((1024 + 2048) + (1024 + 1024))  # q 1024→2048, v 1024→1024
    assert main(["model", "--model", "qwen/qwen3-0.6b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == 596_049_920  # transformers 5.23 on the meta device (peft_counts.json)


def test_a_cached_model_not_among_the_presets(tmp_path, monkeypatch):
    _fake_cache(tmp_path, "someone/tiny-pythia", DATA / "pythia-410m.json", pinned=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path.parent / "home"))
    with pytest.raises(InputError, match="never downloads"):
        params("lora", model="someone/tiny-pythia", r=8)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert params("lora", model="someone/tiny-pythia", r=8).trainable_params == 24 * 8 * (1024 + 3072)


def test_config_takes_a_model_folder(tmp_path):
    shutil.copy(DATA / "gemma-2-2b.json", tmp_path / "config.json")
    assert params("lora", config=tmp_path, r=8).trainable_params == \
        params("lora", config=DATA / "gemma-2-2b.json", r=8).trainable_params
    with pytest.raises(InputError, match="folder holding one"):
        params("lora", config=tmp_path / "nothing-here", r=8)

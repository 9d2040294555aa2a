"""The real transformers + peft agree with peftcalc on every golden config (runs when the hf extra is installed)."""

from __future__ import annotations

import json

import pytest

from tests.golden import GOLDEN_DIR

pytest.importorskip("torch", reason="torch not installed")
pytest.importorskip("transformers", reason="transformers not installed (pip install 'peftcalc[hf]')")
pytest.importorskip("peft", reason="peft not installed (pip install 'peftcalc[hf]')")


def test_golden_configs_against_real_peft():
    from peftcalc.verify.hf_peft import crosscheck

    configs = [(p.name, json.loads(p.read_text())) for p in sorted((GOLDEN_DIR / "configs").glob("*.json"))]
    results = list(crosscheck(configs))
    assert len(results) >= 5 * 12
    failed = [f"{c.name}: {c.detail}" for c in results if c.status == "fail"]
    assert failed == []

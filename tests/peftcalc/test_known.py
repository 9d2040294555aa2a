"""Every published figure in peftcalc.known is reproduced; the verdict logic can fail."""

from __future__ import annotations

import json

import pytest

from peftcalc.cli import main
from peftcalc.known import Known, catalogue, check

CATALOGUE = catalogue()


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.id)
def test_entry_reproduced(entry):
    verdict = check(entry)
    assert verdict.ok, f"{entry.id}: {verdict.verdict} (model {verdict.value}, published {entry.published})"
    if entry.kind == "discrepancy":
        assert entry.explanation, "a published figure called wrong must say why"


def test_issue_required_entries_present():
    ids = {e.id for e in CATALOGUE}
    required = {"zero.bytes_per_param", "zero.7.5b_64gpu.stage0", "zero.7.5b_64gpu.stage1", "zero.7.5b_64gpu.stage2",
                "zero.7.5b_64gpu.stage3", "qlora.absmax_bits", "qlora.double_quant_bits", "qlora.65b_qlora",
                "lora.gpt3_r1", "lora.gpt3_r8", "lora.roberta_base", "houlsby.adapter_params",
                "accelerate.llama2_7b_fp32", "accelerate.llama2_7b_fp16", "lora.gpt2_medium", "lora.gpt2_large"}
    assert required <= ids
    assert sum(1 for i in ids if i.startswith("seed004.")) >= 20
    assert sum(1 for i in ids if i.startswith("seed003.")) >= 9


def test_zero_example_exact():
    # ZeRO Figure 1, Ψ = 7.5B, N_d = 64: 16Ψ = 120 GB; 4Ψ + 12Ψ/64; 2Ψ + 14Ψ/64; 16Ψ/64
    by_id = {e.id: check(e).value for e in CATALOGUE}
    assert by_id["zero.7.5b_64gpu.stage0"] == 120_000_000_000
    assert by_id["zero.7.5b_64gpu.stage1"] == 4 * 7_500_000_000 + 12 * 7_500_000_000 // 64 == 31_406_250_000
    assert by_id["zero.7.5b_64gpu.stage2"] == 2 * 7_500_000_000 + 14 * 7_500_000_000 // 64 == 16_640_625_000
    assert by_id["zero.7.5b_64gpu.stage3"] == 16 * 7_500_000_000 // 64 == 1_875_000_000


def test_verdicts_can_fail():
    assert not check(Known("x", "wrong", "test", "5", lambda: 4, target=5)).ok
    assert not check(Known("x", "bound", "test", "< 3", lambda: 4, kind="bound", bound="<", target=3)).ok
    # a "discrepancy" that is not one (model agrees with the publication) must fail too
    assert not check(Known("x", "d", "test", "10", lambda: 10, kind="discrepancy", target=10, correct=10)).ok


def test_known_command(capsys):
    assert main(["known", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["all_reproduced"] is True and len(data["results"]) == len(CATALOGUE)
    assert main(["known"]) == 0
    assert f"{len(CATALOGUE)} of {len(CATALOGUE)} reproduced" in capsys.readouterr().out

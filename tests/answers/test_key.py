"""The answer key as a whole: nothing missing, every answer well-formed, variants, the CLI, ANSWERS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import answers
from answers.render import render_markdown
from peftcalc.cli import main
from peftcalc.errors import InputError

ROOT = Path(__file__).resolve().parents[2]

# Written from the seeds, not from the code: every lettered part of Exercises 9.1–9.4 (seeds 000/001)
# and 24.1–24.10 (seed 002), and every quantity of Lesson 19's Exercises 1–4 (seed 004: the
# `???` lines of Exercise 1, the cells of Exercise 2's table, Exercise 3's rank/justification
# columns for tasks A–C, Exercise 4's merge formula and explanation).
SEED_PARTS = (
    [f"9.{n}{x}" for n in (1, 2, 3, 4) for x in "abc"]
    + ["24.1a", "24.1b", "24.1c", "24.1d", "24.1e", "24.2a", "24.2b", "24.2c", "24.2d"]
    + [f"24.{n}{x}" for n in range(3, 11) for x in ("abc" if n in (7, 9) else "abcd")]
    + ["19.1.full_ft_params", "19.1.lora_r8_params", "19.1.lora_r64_params", "19.1.reduction_ratio"]
    + [f"19.2.{col}.{row}" for col in ("full_ft", "lora", "qlora")
       for row in ("weights", "optimizer", "gradients", "total")]
    + ["19.2.lora.adapters", "19.2.qlora.adapters"]
    + [f"19.3.{task}.{col}" for task in "ABC" for col in ("rank", "justification")]
    + ["19.4.merge_formula", "19.4.why_lora_merges", "19.4.why_adapters_cannot"]
    # seed 003's demo output and seed 004's §1.1 / §6.1 tables
    + ["seed003.lora_params", "seed003.compression", "seed003.adapter_params", "seed003.prompt_params",
       "seed003.prompt_seq_len"]
    + [f"seed003.compare.{m}" for m in ("full", "lora", "adapters", "prefix", "prompt")]
    + [f"seed003.compare.{m}.ratio" for m in ("lora", "adapters", "prefix", "prompt")]
    + [f"seed004.why_peft.{c}" for c in ("weights", "optimizer", "gradients", "total")]
    + [f"seed004.table.{m}" for m in ("lora_r8", "lora_r64", "prefix", "prompt", "ia3")]
)
CONCEPTUAL = ["9.1b", "9.1c", "9.4a", "9.4b", "9.4c", "24.5a", "24.5b", "24.5d", "24.7b", "24.8c", "24.8d", "24.9b",
              "24.10a", "24.10b", "24.10c", "24.10d", "19.4.why_lora_merges", "19.4.why_adapters_cannot"]


def test_list_covers_every_part_of_the_seeds():
    listed = {p.id for p in answers.parts()}
    missing = [pid for pid in SEED_PARTS if pid not in listed]
    assert missing == []


@pytest.mark.parametrize("part", answers.parts(), ids=lambda p: p.id)
def test_every_answer_is_well_formed(part):
    ans = part.answer()
    data = json.loads(json.dumps(ans.to_json()))  # plain JSON all the way down
    assert {"id", "value", "unit", "text", "accepted", "assumptions"} <= set(data)
    assert data["id"] == part.id and ans.text
    if ans.kind == "numeric":
        assert isinstance(ans.value, (int, Fraction)) and ans.unit
        assert ans.accepted and ans.accepted[0].value == ans.value  # the primary convention comes first
        for m in ans.mistakes:  # a "mistake" that equals an accepted value would be graded both ways
            assert all(m.value != a.value for a in ans.accepted), m.label
    if ans.kind == "group":
        assert len(ans.items) >= 2 and all(i.id.startswith(part.id + ".") for i in ans.items)
    if ans.kind == "choice":
        assert isinstance(ans.value, str) and ans.accepted


@pytest.mark.parametrize("pid", CONCEPTUAL)
def test_conceptual_parts_have_a_rubric_with_keywords(pid):
    ans = answers.answer(pid)
    assert ans.kind == "conceptual" and len(ans.rubric) >= 2
    assert all(r.keywords and all(k == k.lower() for k in r.keywords) for r in ans.rubric)
    # the model answer itself earns every rubric point it asks for
    text = ans.text.lower()
    hits = [any(k in text for k in r.keywords) for r in ans.rubric]
    assert sum(hits) >= len(hits) - 1, [r.point for r, hit in zip(ans.rubric, hits) if not hit]


def test_variants_are_computed_not_stored():
    # 9.2a for r=4 on a 1024×512 matrix: 4·(1024 + 512) = 6,144
    assert answers.answer("9.2a", d=1024, k=512, r=4).value == 6144
    # 24.2c with a $1,000 fine-tune: saving $0.015/query → 1000/0.015 = 66,666.7 → 66,667
    assert answers.answer("24.2c", finetune_cost=1000).value == 66_667
    with pytest.raises(InputError, match="one of d, k, r"):
        answers.answer("9.2a", rank=4)
    with pytest.raises(InputError):
        answers.answer("9.2a", r=-1)


def test_item_ids_resolve():
    assert answers.answer("24.9a.ratio").value == 64
    assert "24.9a.prefix" in answers.all_ids()
    with pytest.raises(InputError):
        answers.answer("24.9a.nope")


def test_answers_md_is_current():
    committed = (ROOT / "ANSWERS.md").read_text(encoding="utf-8")
    from grader.coverage import coverage_markdown

    fresh = render_markdown([p.answer() for p in answers.parts()]) + "\n" + coverage_markdown()
    assert committed == fresh, "ANSWERS.md is stale: run `python scripts/refresh_docs.py`"


def test_cli_answer_json(capsys):
    assert main(["answer", "24.4d", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "24.4d" and data["value"] == {"24.4d.params": 16_777_216,
                                                       "24.4d.percent": pytest.approx(0.1290555)}
    assert any("Llama-2-13B" in n for n in data["notes"])


def test_cli_list_and_errors(capsys):
    assert main(["answer", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(pid in out for pid in ("9.1a", "24.10d", "19.1.lora_r8_params"))
    assert main(["answer", "42.1a"]) == 2
    assert main(["answer"]) == 2
    assert main(["answer", "9.2a", "--set", "r"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


def test_console_script_regenerates_the_markdown():
    out = subprocess.run([sys.executable, "-m", "peftcalc", "answer", "--all", "--format", "markdown"],
                         capture_output=True, text=True, check=True).stdout
    # ANSWERS.md is the key, then what the grader grades (scripts/refresh_docs.py appends it)
    assert (ROOT / "ANSWERS.md").read_text(encoding="utf-8").startswith(out + "\n## What the grader grades")

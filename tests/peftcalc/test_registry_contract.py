"""Every registered method honours the same contract (run over the registry, no hand-kept list)."""

from __future__ import annotations

import pytest

from peftcalc import REGISTRY, load_preset, params
from peftcalc.cli import build_parser
from peftcalc.methods import get_method

METHODS = sorted(REGISTRY)


@pytest.mark.parametrize("name", METHODS)
def test_registry_key_is_the_method_name(name):
    assert REGISTRY[name].name == name
    assert get_method(name.replace("_", "-")) is REGISTRY[name]


@pytest.mark.parametrize("name", METHODS)
def test_module_docstring_has_formula_and_source(name):
    import importlib

    module = importlib.import_module(f"peftcalc.methods.{name}")
    doc = module.__doc__ or ""
    assert "Formula" in doc, name
    assert "arXiv" in doc or "peft" in doc, name
    assert REGISTRY[name].paper


@pytest.mark.parametrize("name", METHODS)
def test_config_round_trips_through_json(name):
    cls = REGISTRY[name].config
    cfg = cls()
    assert cls.model_validate_json(cfg.model_dump_json()) == cfg


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("model", ["llama-2-7b", "gpt2", "roberta-base", "t5-base"])
def test_counts_are_consistent_ints(name, model):
    try:
        res = params(name, model=model)
    except ValueError as exc:  # e.g. LoKr on GPT-2's Conv1D, AdaLoRA without defaults: must be a clear error
        assert "must be" in str(exc)
        return
    assert isinstance(res.trainable_params, int) and res.trainable_params >= 0
    assert res.base_params == load_preset(model).total_params
    assert res.total_params >= res.base_params
    assert sum(row.params for row in res.rows) >= res.trainable_params - 200_000  # rows list what is trained
    assert res.to_json()["trainable_params"] == res.trainable_params


@pytest.mark.parametrize("name", METHODS)
def test_cli_subcommand_exists_with_config_flags(name):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[name]  # noqa: SLF001 - argparse has no public accessor
    flags = {opt for action in sub._actions for opt in action.option_strings}
    for field in REGISTRY[name].config.model_fields:
        assert "--" + field.replace("_", "-") in flags
    assert {"--json", "--model", "--config", "--d"} <= flags

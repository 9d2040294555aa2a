"""Every row of tests/data/golden/peft_counts.json, reproduced exactly.

Source: the golden file — transformers 5.23.0 + peft 0.21.2 on the meta device,
``PeftModel.get_nb_trainable_parameters()`` → (trainable, all); BitFit rows are Σ numel of *.bias.
"""

from __future__ import annotations

import pytest
from golden import config_path, golden, row_to_options

from peftcalc import load_config_file, params

GOLDEN = golden()


@pytest.mark.parametrize("name", sorted(GOLDEN["base_models"]))
def test_base_model_totals(name):
    expected = GOLDEN["base_models"][name]
    arch = load_config_file(config_path(name))
    assert arch.total_params == expected["total"]
    assert arch.bias_params == expected["biases"]
    embeddings = sum(m.numel for m in arch.modules if m.kind == "embedding" and m.tied_to is None)
    assert embeddings == expected["nn_embedding_params"]


@pytest.mark.parametrize("row", GOLDEN["rows"], ids=lambda r: f"{r['model']}-{r['experiment']}")
def test_golden_row(row):
    method, options = row_to_options(row)
    res = params(method, config=config_path(row["model"]), **options)
    assert res.base_params == row["base_params"]
    assert (res.trainable_params, res.total_params) == (row["trainable"], row["all"]), (
        f"{row['model']} {row['experiment']}: peft says trainable={row['trainable']:,} all={row['all']:,}, "
        f"peftcalc says trainable={res.trainable_params:,} all={res.total_params:,}"
    )


def test_golden_covers_every_method_it_can():
    """The golden file exercises these peft methods; a new row kind must get a translation."""
    kinds = {row.get("peft_config", {}).get("peft_type", "BITFIT") for row in GOLDEN["rows"]}
    assert kinds == {"LORA", "ADALORA", "VERA", "LOHA", "LOKR", "IA3", "LN_TUNING", "PREFIX_TUNING",
                     "PROMPT_TUNING", "P_TUNING", "BITFIT"}

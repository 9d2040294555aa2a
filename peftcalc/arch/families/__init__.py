"""Every model family peftcalc builds without torch: one file each, one line here.

Adding a family = a file ``<model_type>.py`` defining ``FAMILY`` + its line below; the CLI, the method
defaults, the activation model and the cross-check tests follow from the registry. A family's module is
imported the first time a config of its type is read (the calculator's start-up pays for none of them).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from peftcalc.arch.family import Family

# model_type (as in config.json) → module in this package
MODULES: dict[str, str] = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma2": "gemma2",
    "gemma3_text": "gemma3_text",
    "phi3": "phi3",
    "mixtral": "mixtral",
    "qwen3_moe": "qwen3_moe",
    "gpt_oss": "gpt_oss",
    "deepseek_v2": "deepseek_v2",
    "falcon": "falcon",
    "gpt_neox": "gpt_neox",
    "bloom": "bloom",
    "opt": "opt",
    "gpt2": "gpt2",
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "xlm_roberta",
    "deberta-v2": "deberta_v2",
    "modernbert": "modernbert",
    "t5": "t5",
    "bart": "bart",
}


class _Registry(Mapping[str, Family]):
    """model_type → Family, importing a family's file on first use."""

    def __getitem__(self, model_type: str) -> Family:
        family: Family = importlib.import_module(f"{__name__}.{MODULES[model_type]}").FAMILY
        if family.model_type != model_type:
            raise RuntimeError(f"{MODULES[model_type]}.py declares {family.model_type!r}, registered as {model_type!r}")
        return family

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)


FAMILIES: Mapping[str, Family] = _Registry()

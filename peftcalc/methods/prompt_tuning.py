"""Prompt tuning (Lester et al. 2021, arXiv 2104.08691): V soft token embeddings before the input.

Formula: V*S*d, S = 2 for encoder-decoder models (peft's SEQ_2_SEQ_LM learns prompts for encoder and
decoder), else 1. Source: peft 0.21 ``tuners/prompt_tuning/model.py: PromptEmbedding``,
``peft_model.py: _setup_prompt_encoder`` (num_virtual_tokens × num_transformer_submodules).
"""

from __future__ import annotations

from pydantic import Field

from peftcalc.arch.model import Arch
from peftcalc.errors import InputError
from peftcalc.methods.base import Count, Method, MethodConfig, Row, substitute
from peftcalc.symbols import S, V, d


class PromptTuningConfig(MethodConfig):
    """Options of prompt tuning."""

    tokens: int = Field(20, gt=0, le=1_000_000, description="num_virtual_tokens V")


def count(cfg: MethodConfig, arch: Arch) -> Count:
    assert isinstance(cfg, PromptTuningConfig)
    if arch.prompt_learning_error:
        raise InputError("--model", arch.name, f"a model peft can set prompt learning up for: {arch.prompt_learning_error}")
    formula = V * S * d
    values = {V: cfg.tokens, S: 2 if arch.is_encoder_decoder else 1, d: arch.hidden_size}
    params = int(formula.subs(values))
    return Count(trainable=params, added=params, saved=params,
                 rows=(Row("soft prompt embedding (V·S × d)", 1, params, substitute(formula, values)),),
                 formula=formula, formula_scope="whole model",
                 notes=("S = 2 (encoder and decoder prompts)" if arch.is_encoder_decoder else "S = 1",),
                 symbols={"V": cfg.tokens, "S": values[S], "d": arch.hidden_size})


METHOD = Method(
    name="prompt_tuning",
    title="Prompt tuning",
    config=PromptTuningConfig,
    count=count,
    formula=V * S * d,
    summary="soft token embeddings prepended to the input; the model itself is untouched",
    paper="Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning, arXiv:2104.08691",
    peft_source="peft/tuners/prompt_tuning/model.py: PromptEmbedding",
)

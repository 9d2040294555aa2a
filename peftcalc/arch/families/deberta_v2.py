"""DeBERTa-v2 / v3 (transformers 5.x ``modeling_deberta_v2.py``): disentangled attention with relative
positions — ``query_proj``/``key_proj``/``value_proj``, separate ``pos_key_proj``/``pos_query_proj`` unless
``share_att_key``, one ``rel_embeddings`` table (2·position_buckets rows, or 2·max_relative_positions) with a
LayerNorm, absolute positions only if ``position_biased_input``, token types only if ``type_vocab_size`` > 0,
an optional convolution beside the first layer (``conv_kernel_size``). Heads: the base model, masked LM (a
legacy BERT-style head, decoder tied), sequence classification (a ContextPooler + classifier) and question
answering (``qa_outputs``). peft 0.21.2's default targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.encoder import num_labels
from peftcalc.arch.family import Family, Head
from peftcalc.arch.model import Arch


def build(cfg: Mapping[str, Any], name: str, head: Head) -> Arch:
    rd = Reader(cfg, name)
    hidden, heads, layers, vocab = rd.core()
    inter = rd.int("intermediate_size")
    positions = rd.int("max_position_embeddings")
    embedding = rd.int("embedding_size", default=hidden)
    types = rd.int("type_vocab_size", default=0, minimum=0)
    relative = rd.bool("relative_attention", False)
    share_key = rd.bool("share_att_key", False)
    pos_att = cfg.get("pos_att_type") or []
    pos_att = pos_att.split("|") if isinstance(pos_att, str) else list(pos_att)
    buckets = cfg.get("position_buckets", -1)
    max_rel = cfg.get("max_relative_positions", -1)
    max_rel = positions if not isinstance(max_rel, int) or max_rel < 1 else max_rel
    rel_rows = 2 * buckets if isinstance(buckets, int) and buckets > 0 else 2 * max_rel
    kernel = rd.int("conv_kernel_size", default=0, minimum=0)
    root = "" if head == "base" else "deberta."
    mods = Modules()
    mods.embedding(f"{root}embeddings.word_embeddings", vocab, embedding)
    if rd.bool("position_biased_input", True):
        mods.embedding(f"{root}embeddings.position_embeddings", positions, embedding, role="position")
    if types:
        mods.embedding(f"{root}embeddings.token_type_embeddings", types, embedding, role="position")
    if embedding != hidden:
        mods.linear(f"{root}embeddings.embed_proj", embedding, hidden, bias=False, role="")
    mods.norm(f"{root}embeddings.LayerNorm", hidden, bias=True)
    for i in range(layers):
        p = f"{root}encoder.layer.{i}"
        s = f"{p}.attention.self"
        for proj, role in (("query_proj", "q"), ("key_proj", "k"), ("value_proj", "v")):
            mods.linear(f"{s}.{proj}", hidden, hidden, bias=True, role=role)  # type: ignore[arg-type]
        if relative and not share_key:
            if "c2p" in pos_att:
                mods.linear(f"{s}.pos_key_proj", hidden, hidden, bias=True, role="")
            if "p2c" in pos_att:
                mods.linear(f"{s}.pos_query_proj", hidden, hidden, bias=True, role="")
        mods.linear(f"{p}.attention.output.dense", hidden, hidden, bias=True, role="o")
        mods.norm(f"{p}.attention.output.LayerNorm", hidden, bias=True)
        mods.linear(f"{p}.intermediate.dense", hidden, inter, bias=True, role="up")
        mods.linear(f"{p}.output.dense", inter, hidden, bias=True, role="down")
        mods.norm(f"{p}.output.LayerNorm", hidden, bias=True)
    if relative:
        mods.embedding(f"{root}encoder.rel_embeddings", rel_rows, hidden, role="position")
        if "layer_norm" in str(cfg.get("norm_rel_ebd", "none")):
            mods.norm(f"{root}encoder.LayerNorm", hidden, bias=True)
    if kernel:
        groups = rd.int("conv_groups", default=1)
        mods.parameters(f"{root}encoder.conv.conv", {"weight": (hidden, hidden // groups, kernel), "bias": (hidden,)},
                        role="")
        mods.norm(f"{root}encoder.conv.LayerNorm", hidden, bias=True)
    output_head = None
    if head == "masked_lm":
        mods.parameters("cls.predictions", {"bias": (vocab,)}, role="head")
        mods.linear("cls.predictions.transform.dense", hidden, embedding, bias=True, role="")
        mods.norm("cls.predictions.transform.LayerNorm", embedding, bias=True)
        mods.head("cls.predictions.decoder", embedding, vocab, tied_to=f"{root}embeddings.word_embeddings")
        output_head = "cls.predictions.decoder"
    elif head == "seq_cls":
        pooled = rd.int("pooler_hidden_size", default=hidden)
        mods.linear("pooler.dense", pooled, pooled, bias=True, role="pooler")
        mods.linear("classifier", pooled, num_labels(cfg), bias=True, role="classifier")
    elif head == "qa":
        mods.linear("qa_outputs", hidden, num_labels(cfg), bias=True, role="classifier")
    return Arch(name=name, model_type="deberta-v2", hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
                num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab, intermediate_size=inter,
                output_head=output_head, modules=tuple(mods.items), dropout=True)


FAMILY = Family("deberta-v2", build, {"DebertaV2Model": "base", "DebertaV2ForMaskedLM": "masked_lm",
                                      "DebertaV2ForSequenceClassification": "seq_cls",
                                      "DebertaV2ForQuestionAnswering": "qa"}, dropout=True, summary="DeBERTa-v2/v3",
                defaults={"lora": ("query_proj", "value_proj"),
                          "adalora": ("query_proj", "key_proj", "value_proj", "dense"),
                          "ia3": ("key_proj", "value_proj", "output.dense"), "ia3_feedforward": ("output.dense",)})

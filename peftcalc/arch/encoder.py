"""The BERT-style encoder (BERT, RoBERTa, XLM-RoBERTa): post-LN blocks with biases everywhere, learned
absolute positions, token types; as ``<Family>Model`` (with pooler), ``…ForMaskedLM`` (no pooler; a
transform + a decoder tied to the word embeddings, with its own bias) or ``…ForSequenceClassification``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peftcalc.arch.builder import Modules, Reader
from peftcalc.arch.model import Arch
from peftcalc.errors import InputError


def encoder_heads(prefix: str) -> dict[str, str]:
    return {f"{prefix}Model": "base", f"{prefix}ForMaskedLM": "masked_lm",
            f"{prefix}ForSequenceClassification": "seq_cls"}


def num_labels(cfg: Mapping[str, Any]) -> int:
    """transformers' ``num_labels``: the length of ``id2label`` when the config has one, else 2."""
    from peftcalc.arch.builder import Reader

    labels = cfg.get("id2label")
    if isinstance(labels, Mapping) and labels:
        return len(labels)
    return Reader(cfg, "config.json").int("num_labels", default=2) if cfg.get("num_labels") else 2


def build_encoder(cfg: Mapping[str, Any], name: str, head: str, *, root: str, mlm: str) -> Arch:
    """``root``: the base model's attribute in a task model (``bert``, ``roberta``); ``mlm``: the MLM head's
    layout (``"bert"``: cls.predictions.transform…, ``"roberta"``: lm_head.dense …)."""
    rd = Reader(cfg, name)
    cross = rd.bool("add_cross_attention", False)  # a decoder (is_decoder) of an encoder-decoder pair
    hidden = rd.int("hidden_size")
    layers = rd.int("num_hidden_layers")
    heads = rd.int("num_attention_heads")
    inter = rd.int("intermediate_size")
    vocab = rd.int("vocab_size")
    positions = rd.int("max_position_embeddings")
    type_vocab = rd.int("type_vocab_size", default=2)
    base = "" if head == "base" else f"{root}."
    mods = Modules()
    mods.embedding(f"{base}embeddings.word_embeddings", vocab, hidden)
    mods.embedding(f"{base}embeddings.position_embeddings", positions, hidden, role="position")
    mods.embedding(f"{base}embeddings.token_type_embeddings", type_vocab, hidden, role="position")
    mods.norm(f"{base}embeddings.LayerNorm", hidden, bias=True)
    for i in range(layers):
        p = f"{base}encoder.layer.{i}"
        for proj, role in (("query", "q"), ("key", "k"), ("value", "v")):
            mods.linear(f"{p}.attention.self.{proj}", hidden, hidden, bias=True, role=role)  # type: ignore[arg-type]
        for block in ("attention", "crossattention") if cross else ("attention",):
            if block == "crossattention":
                for proj, role in (("query", "q"), ("key", "k"), ("value", "v")):
                    mods.linear(f"{p}.crossattention.self.{proj}", hidden, hidden, bias=True, role=role)  # type: ignore[arg-type]
            mods.linear(f"{p}.{block}.output.dense", hidden, hidden, bias=True, role="o")
            mods.norm(f"{p}.{block}.output.LayerNorm", hidden, bias=True)
        mods.linear(f"{p}.intermediate.dense", hidden, inter, bias=True, role="up")
        mods.linear(f"{p}.output.dense", inter, hidden, bias=True, role="down")
        mods.norm(f"{p}.output.LayerNorm", hidden, bias=True)
    output_head = None
    word = f"{base}embeddings.word_embeddings"
    if head in ("base", "seq_cls"):
        mods.linear(f"{base}pooler.dense", hidden, hidden, bias=True, role="pooler")
    if head == "seq_cls":
        if mlm == "roberta":  # RobertaClassificationHead: dense + out_proj on the <s> token, no pooler
            mods.items.pop()
            mods.linear("classifier.dense", hidden, hidden, bias=True, role="classifier")
            mods.linear("classifier.out_proj", hidden, num_labels(cfg), bias=True, role="classifier")
        else:
            mods.linear("classifier", hidden, num_labels(cfg), bias=True, role="classifier")
    elif head == "masked_lm":
        if mlm == "bert":
            mods.parameters("cls.predictions", {"bias": (vocab,)}, role="head")
            mods.linear("cls.predictions.transform.dense", hidden, hidden, bias=True, role="")
            mods.norm("cls.predictions.transform.LayerNorm", hidden, bias=True)
            output_head = "cls.predictions.decoder"
        else:
            mods.parameters("lm_head", {"bias": (vocab,)}, role="head")
            mods.linear("lm_head.dense", hidden, hidden, bias=True, role="")
            mods.norm("lm_head.layer_norm", hidden, bias=True)
            output_head = "lm_head.decoder"
        mods.head(output_head, hidden, vocab, tied_to=word)  # its bias is the head's own, listed above
    elif head != "base":
        raise InputError(f"{name}: architectures", head, "a base, masked-LM or sequence-classification class")
    return Arch(
        name=name, model_type=str(cfg.get("model_type", "bert")), hidden_size=hidden, num_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, head_dim=hidden // heads, vocab_size=vocab,
        intermediate_size=inter, output_head=output_head, modules=tuple(mods.items), dropout=True,
    )

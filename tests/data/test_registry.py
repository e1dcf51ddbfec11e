"""Contract of the data-generator registry: every entry, on a tiny config, gives a usable corpus.

Each generator's config class validates its own ``generator`` name, its
corpus has one annotation per document and JSON-serialisable info, train and
eval documents differ, and the documents are tokens of the generator's
declared vocabulary: encoded by the tokenizer the data brings (or a BPE
trained on it) without unknown tokens, inside the tokenizer's vocabulary.
"""

from __future__ import annotations

import json

import pytest

from pathdep.data import generate, registry
from pathdep.data.tokenizer import check_encodes, train_bpe
from pathdep.errors import PathdepError


def _tiny(name: str, tmp_path):
    if name == "world":
        return {"n_docs": 20, "n_eval_docs": 5, "n_entities": 10, "n_words": 40, "n_canaries": 3}
    if name == "markov-mixture":
        return {"k": 4, "n_chains": 2, "n_docs": 10, "n_eval_docs": 5, "seq_len": 20}
    if name == "repeat-copy":
        return {"n_symbols": 8, "length": 12, "span": 4, "n_docs": 10, "n_eval_docs": 5}
    if name == "text":
        p = tmp_path / "c.txt"
        p.write_text("\n\n".join(f"Document number {i} says hello." for i in range(20)))
        return {"path": str(p), "eval_fraction": 0.2}
    if name == "hf-dataset":
        datasets = pytest.importorskip("datasets")
        folder = tmp_path / "ds"
        datasets.Dataset.from_dict({"text": [f"line {i} of the set" for i in range(20)]}
                                   ).save_to_disk(str(folder))
        return {"name": str(folder), "eval_fraction": 0.2}
    raise AssertionError(f"add a tiny config for the new generator {name!r} to this test")


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: e.name)
def test_generator_contract(entry, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = entry.config.model_validate({"generator": entry.name, **_tiny(entry.name, tmp_path)})
    assert cfg.generator == entry.name and registry.get(entry.name) is entry
    train, ev = generate(cfg, "train"), generate(cfg, "eval")
    for c in (train, ev):
        assert c.docs and all(isinstance(d, str) and d.strip() for d in c.docs)
        assert len(c.annotations) == len(c.docs)
        json.dumps(c.info)
    assert train.docs != ev.docs
    tok = train.tokenizer or train_bpe(train.docs, 300)
    check_encodes(tok, train.docs + ev.docs, n=len(train.docs) + len(ev.docs))
    for d in train.docs + ev.docs:
        assert max(tok(d, add_special_tokens=False)["input_ids"]) < len(tok)
    if entry.vocab is not None:
        vocab = entry.vocab(cfg)
        assert {w for d in train.docs + ev.docs for w in d.split()} <= vocab
        assert all(tok.convert_tokens_to_ids(w) != tok.unk_token_id for w in vocab)


def test_unknown_generator_names_the_nearest_one():
    with pytest.raises(PathdepError, match="did you mean 'world'"):
        registry.get("wrold")


def test_the_spec_union_lists_every_registered_config():
    import typing

    from pathdep.spec import DataSpec

    union = typing.get_args(DataSpec)[0]
    assert set(typing.get_args(union)) == set(registry.config_classes())

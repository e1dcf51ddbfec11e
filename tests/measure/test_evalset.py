"""Evaluation sets: sources, hashing, the one-tokenizer rule."""

import json

import numpy as np
import pytest

from pathdep.data.tokenizer import train_bpe
from pathdep.errors import PathdepError
from pathdep.measure.evalset import build_evalset, token_hash

from .suitekit import build_suite


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return build_suite(tmp_path_factory.mktemp("ev"), runs=("a", "b"), steps=(0,))


def test_default_is_the_generators_held_out_split(suite):
    es = build_evalset(suite, context=32, n_seq=6)
    assert es.tokens.shape == (6, 32) and es.tokens.dtype == np.int32
    assert es.source == "markov-mixture:eval"
    assert set(np.unique(es.token_str)) <= {f"s{i}" for i in range(10)} | {"<|endoftext|>"}
    assert (es.tokens == 10).any()  # documents are joined with EOS (id k = 10)
    again = build_evalset(suite, context=32, n_seq=6)
    assert es.hash == again.hash == token_hash(again.tokens)
    assert token_hash(es.tokens[:3]) != es.hash


def test_text_and_jsonl_files(suite, tmp_path):
    docs = [" ".join(f"s{(i * j) % 10}" for j in range(40)) for i in range(6)]
    txt = tmp_path / "e.txt"
    txt.write_text("\n\n".join(docs))
    jsl = tmp_path / "e.jsonl"
    jsl.write_text("\n".join(json.dumps({"text": d}) for d in docs))
    a = build_evalset(suite, str(txt), context=32, n_seq=4)
    b = build_evalset(suite, jsl, context=32, n_seq=4)
    assert a.hash == b.hash and a.source == "file:e.txt"
    with pytest.raises(PathdepError, match="fewer than one sequence"):
        build_evalset(suite, str(txt), context=64 * 64, n_seq=1)


def test_hf_dataset_folder(suite, tmp_path):
    import datasets

    docs = [" ".join(f"s{(i + j) % 10}" for j in range(50)) for i in range(5)]
    datasets.Dataset.from_dict({"text": docs}).save_to_disk(str(tmp_path / "ds"))
    es = build_evalset(suite, str(tmp_path / "ds"), context=32, n_seq=3)
    assert es.tokens.shape == (3, 32) and es.source.startswith("hf:")


def test_unknown_source_and_missing_spec(suite):
    with pytest.raises(PathdepError, match="neither a file"):
        build_evalset(suite, "no/such/file.txt", context=32, n_seq=2)
    bare = suite.model_copy(update={"meta": {}})
    with pytest.raises(PathdepError, match="has no spec"):
        build_evalset(bare, context=32, n_seq=2)


def test_runs_with_different_tokenizers_need_an_explicit_one(suite, tmp_path):
    other = train_bpe([f"s{i} s{(i + 3) % 10} s{i}" for i in range(200)], 300)
    other.save_pretrained(tmp_path / "bpe")
    mixed = suite.model_copy(deep=True)
    mixed.runs[1].tokenizer = str(tmp_path / "bpe")
    with pytest.raises(PathdepError, match="different tokenizers"):
        build_evalset(mixed, context=32, n_seq=2)
    es = build_evalset(mixed, context=32, n_seq=2, tokenizer=mixed.runs[0].tokenizer)
    assert es.tokens.shape == (2, 32)


def _lopsided_corpus():
    """One long document (a 'man page') first, then many short ones, as in a real folder."""
    long_doc = " ".join(f"option -{i % 26} sets the block size of the file system" for i in range(600))
    short = [f"Document {i}: the {['cat', 'dog', 'bird'][i % 3]} sat on mat {i}." for i in range(300)]
    return [long_doc, *short]


def test_natural_text_is_sampled_across_documents():
    from pathdep.data.tokenizer import train_bpe
    from pathdep.measure.evalset import MAX_DOC_SHARE, chunk_documents

    docs = _lopsided_corpus()
    tok = train_bpe(docs, vocab_size=300)
    in_order, m0 = chunk_documents(tok, docs, 32, 16)
    assert m0["documents"] == 1 and m0["largest_share"] == 1.0  # the long document is all of it
    tokens, m = chunk_documents(tok, docs, 32, 16, sample_seed=0)
    assert tokens.shape == (16, 32)
    assert m["sampled"] and m["pool"] == len(docs)
    assert m["largest_share"] <= MAX_DOC_SHARE + 1e-9 and m["documents"] >= 20
    assert len(m["seq_doc"]) == 16 and len(set(m["seq_doc"])) > 8
    again, _ = chunk_documents(tok, docs, 32, 16, sample_seed=0)
    other, _ = chunk_documents(tok, docs, 32, 16, sample_seed=1)
    assert (again == tokens).all() and not (other == tokens).all()  # seeded


def test_few_documents_share_the_set_evenly():
    from pathdep.data.tokenizer import train_bpe
    from pathdep.measure.evalset import chunk_documents

    docs = [" ".join(f"word{j} of document {i}" for j in range(200)) for i in range(4)]
    tok = train_bpe(docs, vocab_size=300)
    tokens, m = chunk_documents(tok, docs, 32, 8, sample_seed=0)
    assert tokens.shape == (8, 32) and m["documents"] == 4 and m["largest_share"] <= 0.26


def test_only_natural_sources_are_sampled():
    from pathdep.measure.evalset import is_natural

    assert is_natural("file:corpus.txt") and is_natural("hf:wikitext") and is_natural("text:eval")
    assert not is_natural("world:eval") and not is_natural("markov-mixture:eval")

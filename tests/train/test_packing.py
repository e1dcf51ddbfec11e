"""[train] packing: 'stream' cuts the joined documents every context tokens; 'doc_start'
starts every context at a document's start (or context, 2*context, ... into a long one)."""

import numpy as np

from pathdep.spec import parse_spec
from pathdep.train.batches import DataOrder, TokenizedCorpus

EOS = 0


def _corpus(lengths, seed=0):
    rng = np.random.default_rng(seed)
    docs = [rng.integers(1, 50, size=n).astype(np.int32) for n in lengths]
    ids = np.concatenate([np.append(d, EOS) for d in docs]).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([n + 1 for n in lengths])])
    return TokenizedCorpus(ids, offsets, {i: [f"doc{i}"] for i in range(len(lengths))}), docs


def test_doc_start_blocks_begin_where_documents_begin():
    lengths = [5, 12, 3, 20, 7, 9]
    corpus, docs = _corpus(lengths)
    T, B = 8, 2
    order = DataOrder(corpus, data_seed=3, context=T, batch_size=B, packing="doc_start")
    # ceil((n + 1) / T) blocks per document (n tokens plus its end-of-text)
    assert order.blocks_per_epoch == sum(-(-(n + 1) // T) for n in lengths) == 10
    windows = [np.append(d, EOS)[k:k + T] for d in docs for k in range(0, len(d) + 1, T)]
    rows = [r for s in range(order.blocks_per_epoch // B) for r in order.batch(s)[0].numpy()]
    assert len(rows) == order.blocks_per_epoch and all(len(r) == T for r in rows)
    # every block opens a document (or a window T, 2T, ... into one), each window exactly once
    opened = [next(i for i, w in enumerate(windows) if np.array_equal(r[:len(w)], w)) for r in rows]
    assert sorted(opened) == list(range(len(windows)))
    # the same step gives the same batch (a resumed run sees what it would have seen)
    again = DataOrder(corpus, data_seed=3, context=T, batch_size=B, packing="doc_start")
    assert np.array_equal(again.batch(3)[0], order.batch(3)[0])
    # and a document tracked in a block is recorded as seen there
    batch, seen = order.batch(0)
    assert seen and all(isinstance(d, int) for d in seen)


def test_stream_packing_cuts_documents_anywhere():
    corpus, _ = _corpus([5, 12, 3, 20, 7, 9])
    order = DataOrder(corpus, data_seed=3, context=8, batch_size=2)
    assert order.blocks_per_epoch == len(corpus.ids) // 8
    rows = np.concatenate([order.batch(s)[0].numpy() for s in range(order.blocks_per_epoch // 2)])
    assert np.array_equal(rows.ravel(), order._stream[: rows.size])  # back to back


def test_packing_default_keeps_older_digests():
    base = {"name": "p", "data": {"generator": "markov-mixture", "n_docs": 10, "n_eval_docs": 5},
            "model": {"n_layers": 1, "d_model": 16, "n_heads": 1, "context": 16},
            "train": {"steps": 2}}
    plain = parse_spec(base).digest()
    assert parse_spec({**base, "train": {"steps": 2, "packing": "stream"}}).digest() == plain
    assert parse_spec({**base, "train": {"steps": 2, "packing": "doc_start"}}).digest() != plain

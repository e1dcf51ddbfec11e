"""The repeat-copy generator: the copy is where its annotation says, one token per symbol."""

import pytest

from pathdep.data.repeat_copy import RepeatCopyConfig, generate
from pathdep.errors import PathdepError
from pathdep.spec import parse_spec


def test_documents_hold_their_copy_and_tokenise_one_token_per_symbol():
    cfg = RepeatCopyConfig(n_symbols=16, length=20, span=6, n_docs=50, n_eval_docs=10)
    c = generate(cfg, "train")
    assert len(c.docs) == 50
    offsets = set()
    for doc, ann in zip(c.docs, c.annotations, strict=True):
        x = doc.split()
        (rec,) = ann["repeats"]
        (a, b), (p, q) = rec["first"], rec["second"]
        assert len(x) == 20 and x[a:b] == x[p:q] and q - p == 6 and p >= b
        offsets.add(p)
        ids = c.tokenizer(doc, add_special_tokens=False)["input_ids"]
        assert ids == [int(s[1:]) for s in x]  # c{i} -> id i, nothing unknown
    assert len(offsets) > 3  # the offset varies from document to document
    ev = generate(cfg, "eval")
    assert len(ev.docs) == 10 and not set(ev.docs) & set(c.docs)


def test_span_longer_than_half_is_refused():
    with pytest.raises(PathdepError, match="at most half"):
        parse_spec({"name": "x", "data": {"generator": "repeat-copy", "length": 10, "span": 6},
                    "model": {"n_layers": 1, "d_model": 16, "n_heads": 1, "context": 16},
                    "train": {"steps": 1}})


def test_cycle_layout_repeats_distinct_symbols_with_a_varying_period():
    cfg = RepeatCopyConfig(n_symbols=32, length=40, layout="cycle", period=(5, 9), n_docs=60,
                           n_eval_docs=5)
    c = generate(cfg, "train")
    periods = set()
    for doc, ann in zip(c.docs, c.annotations, strict=True):
        x = doc.split()
        k = ann["cycle"]["period"]
        periods.add(k)
        assert len(x) == 40 and 5 <= k <= 9
        assert len(set(x[:k])) == k  # distinct within a period: the next symbol is never ambiguous
        assert all(x[i] == x[i - k] for i in range(k, 40))  # every later one repeats
    assert len(periods) > 2
    assert c.info["layout"] == "cycle"
    # the default layout leaves the dump (so older specs keep their digest)
    assert "layout" not in RepeatCopyConfig().model_dump() and "period" not in \
        RepeatCopyConfig().model_dump()


def test_a_period_longer_than_the_symbols_is_refused():
    with pytest.raises(PathdepError, match="period"):
        parse_spec({"name": "x", "data": {"generator": "repeat-copy", "n_symbols": 8,
                                          "layout": "cycle", "period": [4, 12]},
                    "model": {"n_layers": 1, "d_model": 16, "n_heads": 1, "context": 32},
                    "train": {"steps": 1}})

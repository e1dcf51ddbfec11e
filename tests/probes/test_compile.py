"""Compiling probes: joint tokenisation split at the boundary, scoring carried to the store."""

import logging

import numpy as np
import pytest

from pathdep.data.markov import tokenizer_for
from pathdep.data.tokenizer import train_bpe
from pathdep.probes import Item, Probe, compile_probes
from pathdep.store import Dims, create_store, read_probe_inputs

# a byte-level BPE that learns the merges GPT-2 has across a bracket boundary
CORPUS = ['x = f(a)] + g(b)] and {"k": "v"} or [1, 2]} f(x) y'] * 30


@pytest.fixture(scope="module")
def bpe():
    return train_bpe(CORPUS, vocab_size=300)


def _continuations(tok, c) -> list[str]:
    return [tok.decode(c.tokens[r, c.row_start[r]:c.row_len[r]]) for r in range(len(c.row_len))]


def test_a_token_merged_across_the_boundary_goes_to_the_continuation(bpe):
    items = [Item('d = {"k": "v"', "}", [")", "]"]), Item("a = [1, 2]", "}", [")", "]"])]
    c = compile_probes([Probe("br", items)], bpe, context=32)
    for r, it in enumerate(np.repeat(items, 3)):  # the row is the text tokenised as one string
        text = it.prompt + (it.correct + it.incorrect)[r % 3]
        ids = bpe(text, add_special_tokens=False)["input_ids"]
        assert c.tokens[r, :c.row_len[r]].tolist() == ids
    assert _continuations(bpe, c)[:2] == ['"}', '")'] and _continuations(bpe, c)[3] == "]}"
    assert bpe.convert_ids_to_tokens(c.tokens[0, c.row_start[0]:c.row_len[0]].tolist()) == ['"}']


def test_every_row_of_an_item_scores_the_same_span(bpe):
    """')]' merges but ') y' does not: both rows start before ')', so they share a prompt."""
    it = Item("f(x)", "]", " y")
    c = compile_probes([Probe("mixed", [it])], bpe, context=32)
    assert _continuations(bpe, c) == [")]", ") y"]
    assert c.row_start.tolist() == [3, 3]
    assert c.tokens[0, :3].tolist() == c.tokens[1, :3].tolist()


def test_long_prompts_are_still_cut_from_the_left(bpe):
    c = compile_probes([Probe("long", [Item("f(a) " * 40 + "f(x)", "]", " y")])], bpe, context=12)
    assert c.row_len.max() == 12 and _continuations(bpe, c) == [")]", ") y"]


class Slow:
    """A tokenizer without an offset mapping (as a slow, pure-Python one)."""

    is_fast = False

    def __init__(self, tok):
        self.tok, self.unk_token_id = tok, tok.unk_token_id

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": self.tok(text, add_special_tokens=False)["input_ids"]}


def test_a_tokenizer_without_offsets_tokenises_apart(caplog):
    tok = tokenizer_for(10)
    with caplog.at_level(logging.WARNING, logger="pathdep.probes.compile"):
        c = compile_probes([Probe("p", [Item("s1 s2", " s3 s4", " s5")])], Slow(tok), context=16)
    assert c.tokens[:, :4].tolist() == [[1, 2, 3, 4], [1, 2, 5, 0]] and c.row_start.tolist() == [2, 2]
    assert "no offset mapping" in caplog.text


def test_sum_probes_with_unequal_lengths_are_warned_about(caplog):
    tok = tokenizer_for(10)
    items = [Item("s1", " s2 s3", " s4"), Item("s1", " s2", " s3"), Item("s5", " s6", " s7 s8 s9")]
    with caplog.at_level(logging.WARNING, logger="pathdep.probes.compile"):
        compile_probes([Probe("uneven", items)], tok, context=16)
    assert "total log-prob" in caplog.text and "uneven (2 of 3 items)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pathdep.probes.compile"):
        c = compile_probes([Probe("fair", items, scoring="mean")], tok, context=16)
    assert caplog.text == "" and c.probe_scoring.tolist() == ["mean"]


def test_scoring_goes_into_the_store_and_back(tmp_path):
    from tests.store.test_store import _layout

    tok = tokenizer_for(10)
    probes = [Probe("a", [Item("s1", " s2", " s3")]), Probe("b", [Item("s1", " s2", " s3 s4")],
                                                             scoring="mean")]
    c = compile_probes(probes, tok, context=16)
    dims = Dims(seq=2, pos=4, sample=1, k=3, hsample=1, hlayer=1, layer_h=1, head=2, d=4,
                probe=2, item=2)
    create_store(tmp_path / "s.zarr", _layout(probes=c, dims=dims))
    assert read_probe_inputs(tmp_path / "s.zarr").probe_scoring.tolist() == ["sum", "mean"]
    summed = compile_probes([probes[0], Probe("b", probes[1].items)], tok, context=16)
    digest = {k: _layout(probes=v, dims=dims).digest() for k, v in [("mean", c), ("sum", summed)]}
    c.scoring = None  # a store from before issue 15: every probe sums, with the old digest
    assert c.probe_scoring.tolist() == ["sum", "sum"] and not c.per_token
    assert digest["sum"] == _layout(probes=c, dims=dims).digest() != digest["mean"]

"""The symbols battery: symbol_induction's items are cut where only induction predicts the next
symbol, its wrong answers are symbols of the same context, and `auto` picks it for repeat-copy
suites (and only those)."""

import numpy as np
import pytest

from pathdep.data import generate
from pathdep.errors import PathdepError
from pathdep.probes import compile_probes, select_probes
from pathdep.probes.symbols import N_WRONG, symbol_induction
from pathdep.spec import parse_spec


def spec(layout: str, **data) -> dict:
    d = {"generator": "repeat-copy", "n_symbols": 32, "length": 63, "layout": layout,
         "n_docs": 10, "n_eval_docs": 80, **data}
    if layout == "copy":
        d["span"] = 20
    return {"name": "sym", "data": d, "model": {"n_layers": 2, "context": 64},
            "train": {"steps": 2, "batch_size": 2, "checkpoints": [0, 2]}}


def induction_answer(words: list[str]) -> str | None:
    """What an ideal induction head predicts: the word after the last earlier occurrence of the
    current (last) word."""
    last = words[-1]
    earlier = [i for i, w in enumerate(words[:-1]) if w == last]
    return words[earlier[-1] + 1] if earlier else None


@pytest.mark.parametrize("layout", ["cycle", "copy"])
def test_every_item_is_answered_by_induction_and_its_wrong_answers_are_in_context(layout):
    corpus = generate(parse_spec(spec(layout)).data, "eval")
    probe = symbol_induction(corpus)
    assert len(probe.items) == 64  # one per document, capped
    for it in probe.items:
        words = it.prompt.split(" ")
        d, at = (int(v) for v in it.id.removeprefix("doc").split("@"))
        assert len(words) == at
        ann = corpus.annotations[d]
        if layout == "cycle":  # distinct symbols: the last earlier occurrence is the one
            assert at > ann["cycle"]["period"]
            assert it.correct == (" " + induction_answer(words),)
        else:  # copy: the symbol after the matching position of the first copy
            (a, _), (s, e) = ann["repeats"][0]["first"], ann["repeats"][0]["second"]
            assert s < at < e
            assert it.correct == (" " + corpus.docs[d].split(" ")[a + at - s],)
        assert len(it.incorrect) == N_WRONG and len(set(it.incorrect)) == N_WRONG
        assert all(w.strip() in words and w not in it.correct for w in it.incorrect)


def test_a_unigram_in_context_guess_is_at_chance_and_induction_is_perfect():
    corpus = generate(parse_spec(spec("cycle")).data, "eval")
    probe = symbol_induction(corpus)
    rng = np.random.default_rng(0)
    # A model that knows only which symbols occur in the context picks one of the item's four
    # (all occur in it) at random: about 1/4 right. Induction gets every item right.
    guess = [rng.choice([*it.correct, *it.incorrect]) == it.correct[0] for it in probe.items]
    assert 0.1 < np.mean(guess) < 0.45
    assert all(" " + induction_answer(it.prompt.split(" ")) == it.correct[0] for it in probe.items)


def test_auto_picks_the_symbols_battery_for_repeat_copy_and_items_compile_to_one_token():
    s = spec("cycle")
    probes = select_probes("auto", s)
    assert [p.name for p in probes] == ["symbol_induction"]
    tok = generate(parse_spec(s).data, "eval").tokenizer
    c = compile_probes(probes, tok, context=64)
    assert c.n_items == 64 and len(c.row_len) == 64 * (1 + N_WRONG)
    assert np.all(c.tokens.shape[1] <= 64)


def test_the_probe_on_data_of_another_generator_is_refused_with_the_fix():
    world = {**spec("cycle"), "data": {"generator": "world", "n_docs": 20, "n_eval_docs": 10}}
    with pytest.raises(PathdepError, match="repeat-copy.*measure.probes"):
        select_probes(["symbol_induction"], world)

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
def test_every_item_is_answered_by_induction_and_by_no_simpler_rule(layout):
    corpus = generate(parse_spec(spec(layout, n_symbols=64)).data, "eval")
    probe = symbol_induction(corpus)
    assert len(probe.items) == 64
    longest_period = 26  # the generator's default period range is 16-26
    for it in probe.items:
        words = it.prompt.split(" ")
        assert len(words) <= 62
        assert it.correct == (" " + induction_answer(words),)
        assert len(it.incorrect) == N_WRONG and len(set(it.incorrect)) == N_WRONG
        back = {w: len(words) - i for i, w in enumerate(words)}  # how far back it was last seen
        right = it.correct[0].strip()
        wrong = [w.strip() for w in it.incorrect]
        assert all(w in words for w in wrong)  # every candidate occurs in the context
        # one wrong answer was seen longer ago than the right one and two more recently, and the
        # right one lies further back than any period the training documents repeat at
        assert sum(back[w] > back[right] for w in wrong) == 1
        assert sum(back[w] < back[right] for w in wrong) == 2
        assert back[right] > longest_period + 1


def test_a_context_unigram_guess_is_at_chance():
    probe = symbol_induction(generate(parse_spec(spec("cycle", n_symbols=64)).data, "eval"))
    rng = np.random.default_rng(0)
    guess = [rng.choice([*it.correct, *it.incorrect]) == it.correct[0] for it in probe.items]
    assert 0.1 < np.mean(guess) < 0.45


def test_the_segment_follows_the_data_and_too_few_symbols_give_no_items():
    short = generate(parse_spec(spec("cycle", period=[4, 8])).data, "eval")
    p = symbol_induction(short)
    assert len(p.items) == 64 and all(len(it.prompt.split(" ")) < 8 + 12 + 12 for it in p.items)
    tiny = generate(parse_spec(spec("cycle", n_symbols=16, period=[4, 12])).data, "eval")
    assert symbol_induction(tiny).items == []  # a 16-symbol segment leaves no prefix


def test_auto_picks_the_symbols_battery_for_repeat_copy_and_items_compile_to_one_token():
    s = spec("cycle", n_symbols=64)
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

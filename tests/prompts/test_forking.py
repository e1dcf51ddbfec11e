import numpy as np
import pytest

from pathdep.errors import PathdepError
from pathdep.prompts import forking as fk
from pathdep.prompts.extractors import get_extractor
from tests.prompts.planted import Planted, decode, encode


@pytest.mark.parametrize(("k", "seed"), [(4, 0), (6, 1), (3, 2)])
def test_one_planted_fork_at_its_index(k, seed):
    model = Planted(k=k, length=10)
    s = fk.scan(model, encode("?"), decode, get_extractor("re:([12])"), max_new=10, n=30,
                seed=seed)
    cats = fk.categories(s)
    o = fk.outcome_series(s, cats)
    assert fk.forks(o, fk.noise_var(s, o)) == [k]
    assert s.tokens[k] in {"X", "Y"}
    d = fk.drift_index(o, 0.3)
    assert d == k + 1
    assert fk.survival([d], 10).tolist() == [1.0] * (k + 1) + [0.0] * (9 - k)


def test_greedy_base_and_json_roundtrip():
    s = fk.scan(Planted(), encode("?"), decode, get_extractor("last_word"), max_new=10, n=4,
                greedy_base=True)
    assert decode(s.base).split()[4] == "X" and s.base[-1] == encode("1")[0]
    assert fk.ForkScan.from_json(s.to_json()) == s


def test_no_fork_in_constant_series():
    o = np.tile([0.5, 0.5], (12, 1))
    assert fk.forks(o, np.full(12, 0.01)) == []


def test_overlap():
    assert fk.overlap([3], [3]) == 1.0
    assert fk.overlap([3], [4]) == 0.0
    assert fk.overlap([3], [4], tol=1) == 1.0
    assert fk.overlap([], []) == 1.0


def test_extractors():
    assert get_extractor("number")("it is 1984 or 12") == "1984"
    assert get_extractor("re:(\\w+)!")("a! b!") == "b"
    assert get_extractor("first_word")("  Zorv is") == "zorv"
    assert get_extractor("os.path:basename")("a/b") == "b"
    with pytest.raises(PathdepError, match="unknown extractor"):
        get_extractor("nonsense")
    with pytest.raises(PathdepError, match="cannot import"):
        get_extractor("no_such_mod:f")

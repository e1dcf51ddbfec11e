"""The one definition of a formed head (analysis/circuits.py) on hand-set scores."""

import numpy as np
import pytest

from pathdep.analysis import circuits
from pathdep.store.schema import KINDS


def _scores(**by_kind) -> np.ndarray:
    """(head, kind) scores, one row per head, from per-kind lists."""
    n = len(next(iter(by_kind.values())))
    out = np.zeros((n, len(KINDS)))
    for k, v in by_kind.items():
        out[:, KINDS.index(k)] = v
    return out


def test_induction_heads_need_prefix_matching_and_copying():
    """Copying is judged by the OV eigenvalues; the copying score does not overrule them."""
    s = _scores(induction=[0.9, 0.9, 0.39, 0.4, np.nan, 0.9],
                ov_eigen=[0.5, -0.1, 0.5, np.nan, 0.5, 0.8],
                copying=[0.5, 0.5, 0.5, 0.5, 0.5, -0.4])
    assert circuits.formed(s, KINDS, "induction").tolist() == [True, False, False, True, False, True]
    assert circuits.role_score(s, KINDS, "induction")[1] == 0.0  # does not copy: counts as 0


def test_stores_without_eigenvalues_judge_copying_by_the_copying_score():
    old = [k for k in KINDS if k != "ov_eigen"]  # stores measured before December 2026
    s = _scores(induction=[0.9, 0.9], copying=[0.5, -0.1])[:, [KINDS.index(k) for k in old]]
    assert circuits.formed(s, old, "induction").tolist() == [True, False]


def test_previous_token_heads_need_only_their_score():
    s = _scores(previous_token=[0.4, 0.39, np.nan], copying=[-1.0, 1.0, 1.0])
    assert circuits.formed(s, KINDS, "previous_token").tolist() == [True, False, False]
    assert circuits.formed(s, KINDS, "previous_token", threshold=0.3).tolist() == [True, True, False]


def test_thresholds_are_on_the_scale_where_a_perfect_head_scores_one():
    assert circuits.THRESHOLD == {"previous_token": 0.4, "induction": 0.4}
    assert circuits.COPYING_MIN == 0.0
    assert circuits.describe("induction") == ("induction score >= 0.4 and the head copies "
                                              "(OV eigenvalues Σλ/Σ|λ| > 0)")


def test_unknown_role_is_an_error():
    with pytest.raises(ValueError, match="duplicate_token"):
        circuits.role_score(_scores(induction=[1.0]), KINDS, "duplicate_token")

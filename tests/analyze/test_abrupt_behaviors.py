"""Abrupt behaviours on curves whose answer is known: a step is abrupt, a slow sigmoid gradual,
noise unchanged, a step the schedule cannot resolve unresolved; the suite's verdict names only
probes abrupt in most runs, holds its false-positive rate on the null, and its numbers are in
its tables."""

import numpy as np
import pytest

from pathdep.analysis import simulate
from pathdep.analyze import abrupt_behaviors as A
from tests.analyze.verdict_numbers import unbacked

X = np.log10(np.unique(np.r_[simulate.log_steps(12, 2000)[1:], np.arange(100, 401, 20)]))


def sigmoid(mid: float, width: float, lo=0.25, hi=0.95, x=X) -> np.ndarray:
    return lo + (hi - lo) / (1 + np.exp(-(x - mid) * A.WIDTH_PER_SCALE / width))


def test_a_step_inside_the_dense_window_is_abrupt_and_dated_at_the_first_checkpoint_after_it():
    c = A.classify(X, sigmoid(np.log10(230), 0.05))
    assert c["class"] == "abrupt" and c["step"] == 240 and c["width_decades"] <= A.ABRUPT_DECADES


def test_a_slow_rise_is_gradual_and_noise_is_unchanged():
    assert A.classify(X, sigmoid(2.2, 1.2))["class"] == "gradual"
    rng = np.random.default_rng(0)
    assert A.classify(X, 0.3 + rng.normal(0, 0.03, len(X)))["class"] == "unchanged"
    # a clean change smaller than MIN_CHANGE is not a change either
    assert A.classify(X, sigmoid(np.log10(230), 0.05, lo=0.3, hi=0.45))["class"] == "unchanged"


def test_a_step_between_checkpoints_far_apart_is_not_called_abrupt():
    x = np.log10([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048])[:]
    sparse = x[[0, 2, 4, 6, 8, 10]]  # factors of 4: 0.6 decades apart
    c = A.classify(sparse, sigmoid(np.log10(100), 0.05, x=sparse))
    assert c["class"] == "unresolved" and c["resolution_decades"] > A.ABRUPT_DECADES
    dense = A.classify(x, sigmoid(np.log10(100), 0.05, x=x))  # doublings (0.3 decades): resolved
    assert dense["class"] == "abrupt"


def test_the_verdict_names_the_abrupt_probe_and_backs_its_numbers():
    rng = np.random.default_rng(1)
    steps = np.r_[0, np.round(10 ** X).astype(int)]
    ds = simulate.store(6, steps)
    x = np.r_[0.0, X]
    step = sigmoid(np.log10(rng.uniform(150, 300, (6, 1))), 0.05, x=x)
    step[5] = 0.25 + rng.normal(0, 0.01, len(x))  # one run never learns it
    slow = sigmoid(2.0, 1.5, x=x) + rng.normal(0, 0.01, (6, len(x)))
    res = A.abrupt_behaviors(simulate.with_behavior(ds, {"copy": step, "facts": slow}), n_boot=100)
    t = res.tables["per_probe"].set_index("probe")
    assert t.loc["copy", "verdict"] == "abrupt" and t.loc["copy", "abrupt"] == 5
    assert t.loc["copy", "unchanged"] == 1 and t.loc["facts", "verdict"] == "gradual"
    assert res.summary["abrupt"] == ["copy"] and res.summary["gradual"] == ["facts"]
    assert "copy (abrupt in 5 of the 5 runs where it changed, unchanged in 1" in res.verdict
    assert "gradually: facts (6 of 6)" in res.verdict
    assert not unbacked(res.verdict, res.summary, res.tables)


def test_two_abrupt_runs_are_too_few_to_claim():
    assert A.decide(2, 0, 2) == "cannot tell" and A.decide(3, 0, 4) == "abrupt"
    assert A.decide(3, 4, 7) == "gradual" and A.decide(3, 3, 9) == "cannot tell"


@pytest.mark.parametrize("n_runs", [4, 8])
def test_gradual_suites_are_not_called_abrupt_and_abrupt_ones_are(n_runs):
    null = [bool(A.abrupt_behaviors(A.SIMULATION.null(n_runs, s), n_boot=20).summary["abrupt"])
            for s in range(20)]
    planted = [bool(A.abrupt_behaviors(A.SIMULATION.planted(n_runs, s), n_boot=20)
                    .summary["abrupt"]) for s in range(20)]
    assert np.mean(null) <= 0.10 and np.mean(planted) >= 0.8

"""Multi-Bootstrap (Sellam et al.): intervals cover the truth, and both levels are resampled."""

import numpy as np

from pathdep.analysis import bootstrap


def _coverage(sample_runs: bool, n_rep: int = 120, n_runs: int = 20, n_items: int = 40) -> float:
    rng = np.random.default_rng(0)
    hits = 0
    for rep in range(n_rep):
        # value = 1 + run effect (sd 1) + item effect (sd 0.5) + noise: the truth is 1
        x = (1 + rng.normal(0, 1, (n_runs, 1)) + rng.normal(0, 0.5, (1, n_items))
             + rng.normal(0, 0.3, (n_runs, n_items)))

        def stat(r, w, x=x):
            return (x[r] @ w).mean() / w.sum()

        iv = bootstrap.estimate(stat, n_runs, n_items, n_boot=200, seed=rep, sample_runs=sample_runs)
        hits += iv.low <= 1 <= iv.high
    return hits / n_rep


def test_intervals_cover_the_truth():
    assert 0.85 <= _coverage(True) <= 1.0


def test_resampling_items_alone_undercovers_when_runs_vary():
    assert _coverage(False) < 0.6


def test_paired_compare_finds_a_planted_difference():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, (10, 30))
    expt = base + 0.5 + rng.normal(0, 0.1, base.shape)
    out = bootstrap.compare(base, expt, n_boot=200)
    assert out["delta"].low < 0.5 < out["delta"].high
    assert out["delta"].low > 0 and out["p"] == 1 / 200
    same = bootstrap.compare(base, base + rng.normal(0, 0.1, base.shape), n_boot=200)
    assert same["delta"].low < 0 < same["delta"].high


def test_pairs_of_a_run_with_itself_are_left_out():
    m = np.eye(3)  # self-agreement 1, agreement between different runs 0
    assert bootstrap.mean_over_pairs(m, np.array([0, 0, 1])) == 0.0
    assert np.isnan(bootstrap.mean_over_pairs(m, np.array([2, 2, 2])))

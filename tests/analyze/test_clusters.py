"""C/D: a bimodal property is detected and a unimodal one is not; lock-in step is the planted one."""

import numpy as np

from pathdep.analyze.clusters import bimodality, clusters, split

from .synthetic import add_behavior, base, bimodal_curves, unimodal_curves


def test_bimodality_of_planted_values():
    rng = np.random.default_rng(0)
    assert bimodality(np.r_[rng.normal(0, 0.1, 20), rng.normal(1, 0.1, 20)])["label"] == "clustered"
    assert bimodality(rng.normal(0, 1, 40))["label"] == "continuous"
    assert bimodality(np.r_[rng.normal(0, 1, 39), 8.0])["label"] != "clustered"


def test_two_means_split():
    lab = split(np.array([0.1, 0.9, np.nan, 0.15, 1.0]))
    assert lab.tolist() == [False, True, False, False, True]


def test_bimodal_detected_unimodal_not_and_membership_locks_at_the_planted_step():
    n, lock = 40, 6
    ds = base(n_runs=n, n_steps=12, n_seq=2, n_pos=4)
    bi, group = bimodal_curves(n, 12, lock)
    ds = add_behavior(ds, {"bi": bi, "uni": unimodal_curves(n, 12)})
    res = clusters(ds, n_boot=50)
    t = res.tables["properties"].set_index("property")
    assert t.loc["behavior:bi", "label"] == "clustered"
    assert t.loc["behavior:uni", "label"] == "continuous"
    st = ds["step"].values
    assert t.loc["behavior:bi", "stable_from_step"] == st[lock]
    lk = res.tables["lock_in"]
    assert (lk[lk.property == "behavior:bi"].lock_in_step <= st[lock]).all()
    assert "1 of" in res.verdict and "behavior:bi" in res.verdict


def test_a_probe_with_few_distinct_values_is_not_tested_not_clustered():
    """A two-item probe scores 0, 0.5 or 1: ties look like tight clusters to any split test."""
    from pathdep.analysis import simulate
    from pathdep.analyze.clusters import clusters as run_clusters

    rng = np.random.default_rng(0)
    n = 12
    curves = {"graded": simulate.learning(rng.normal(0.6, 0.08, n), 12, rng=rng),
              "two_items": np.repeat(rng.choice([0.0, 0.5, 1.0], n)[:, None], 12, 1)}
    ds = simulate.with_behavior(simulate.store(n, simulate.log_steps(12)), curves)
    res = run_clusters(ds, n_boot=20)
    t = res.tables["properties"].set_index("property")
    assert t.loc["behavior:two_items", "label"] == "not tested"
    assert t.loc["behavior:graded", "label"] != "not tested"
    assert res.summary["n_clustered"] == 0 and res.summary["n_not_tested"] == 1
    assert "1 more not tested: fewer than 4 distinct values" in res.verdict

"""E: early-fixed ranks are predictive, late-decided ones are not; homogeneity as planted."""

import numpy as np

from pathdep.analyze.predictiveness import consistency, homogeneity, predictiveness

from .synthetic import add_behavior, base


def _curves(n=20, t=12, seed=0):
    rng = np.random.default_rng(seed)
    prog = np.linspace(0, 1, t)
    early = rng.uniform(0.2, 0.8, (n, 1)) * prog + rng.normal(0, 0.005, (n, t))
    decided = (np.arange(t) == t - 1).astype(float)  # only at the last checkpoint
    late = 0.5 * prog + decided * rng.normal(0, 0.2, (n, 1)) + rng.normal(0, 0.01, (n, t))
    same = np.tile(prog, (n, 1)) + rng.normal(0, 0.001, (n, t))
    return {"early": early, "late": late, "same": same}, np.arange(t) * 100


def test_consistency_and_homogeneity_of_planted_curves():
    c, steps = _curves()
    assert consistency(c["early"], steps, 0.5) > 0.9
    assert abs(consistency(c["late"], steps, 0.25)) < 0.5
    assert homogeneity(c["same"]) > 0.99 and homogeneity(c["early"]) < homogeneity(c["same"])


def test_analysis_table_and_single_axis_correlation():
    c, _ = _curves()
    ds = add_behavior(base(n_runs=20, n_steps=12, n_seq=2, n_pos=4), c)
    res = predictiveness(ds, n_boot=50)
    t = res.tables["properties"].set_index("property")
    assert t.loc["behavior:early", "consistency_50"] > 0.9
    assert t.loc["behavior:early", "consistency_50_low"] > t.loc["behavior:late", "consistency_50_high"]
    axis = res.summary["axis_correlation"]
    assert axis.low <= axis.value <= axis.high
    assert set(res.figures) == {"consistency_vs_homogeneity", "consistency_by_fraction"}

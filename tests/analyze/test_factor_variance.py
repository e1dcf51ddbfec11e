"""B: two planted factors with known variance shares are recovered; agrees with statsmodels."""

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
import xarray as xr
from statsmodels.stats.anova import anova_lm

from pathdep.analysis import simulate
from pathdep.analyze import analyze
from pathdep.analyze.factor_variance import decompose, factor_variance

from .synthetic import add_behavior, base


def _grid(seed=0):
    """4 lr × 4 size × 4 seeds; final value = lr effect (var 1) + size effect (var 0.5) + noise (0.25)."""
    rng = np.random.default_rng(seed)
    lr, size = np.repeat(np.arange(4), 16), np.tile(np.repeat(np.arange(4), 4), 4)
    a = np.array([-1.5, -0.5, 0.5, 1.5]) / np.sqrt(1.25)
    b = np.array([-1.5, -0.5, 0.5, 1.5]) / np.sqrt(2.5)
    design = np.hstack([np.eye(4)[lr], np.eye(4)[size]])
    noise = rng.normal(0, 1, 64)
    noise -= design @ np.linalg.lstsq(design, noise, rcond=None)[0]  # orthogonal to the factors
    final = a[lr] + b[size] + noise * 0.5 / noise.std()  # shares exactly 1, 0.5, 0.25 over 1.75
    ds = base(n_runs=64, n_steps=3, n_seq=2, n_pos=4,
              factors={"lr": lr.astype(str), "size": size.astype(str), "seed": np.arange(64)})
    curves = np.stack([np.zeros(64), final / 2, final], 1)
    return add_behavior(ds, {"p": curves}), final, lr, size


def test_known_variance_shares_are_recovered():
    ds, *_ = _grid()
    res = factor_variance(ds, n_boot=100)
    t = res.tables["shares"].set_index("source")
    assert abs(t.loc["lr", "share"] - 1 / 1.75) < 1e-6
    assert abs(t.loc["size", "share"] - 0.5 / 1.75) < 1e-6
    assert abs(t.loc["residual", "share"] - 0.25 / 1.75) < 1e-6
    assert t.loc["lr", "share_low"] < 1 / 1.75 < t.loc["lr", "share_high"]
    assert "seed" not in t.index  # one value per run: it is the residual
    assert "lr" in res.verdict


def test_shares_match_statsmodels_type2_anova():
    _, final, lr, size = _grid(1)
    ours = decompose({"lr": lr.astype(str), "size": size.astype(str)}, final)
    df = pd.DataFrame({"y": final, "lr": lr.astype(str), "size": size.astype(str)})
    table = anova_lm(smf.ols("y ~ C(lr) + C(size)", df).fit(), typ=2)
    total = ((final - final.mean()) ** 2).sum()
    assert np.isclose(ours["lr"], table.loc["C(lr)", "sum_sq"] / total)
    assert np.isclose(ours["size"], table.loc["C(size)", "sum_sq"] / total)
    assert np.isclose(ours["residual"], table.loc["Residual", "sum_sq"] / total)


def test_skipped_without_a_factor_with_repeated_levels(caplog):
    ds = add_behavior(base(n_runs=4, n_steps=3), {"p": np.random.default_rng(0).random((4, 3))})
    with caplog.at_level("INFO"):
        assert analyze(ds, names=["factor_variance"]) == {}
    assert "skipping factor_variance" in caplog.text


def test_a_constant_property_has_no_shares_and_factor_order_does_not_matter():
    """Round-off variance of a property equal in every run was split into shares of +-100."""
    import pytest

    f = {"seed": np.array(list("aabbccdd")), "lr": np.array(list("xyxyxyxy"))}
    flat = decompose(f, np.ones(8))
    assert all(np.isnan(v) for v in flat.values())
    y = np.random.default_rng(0).normal(size=8)
    rev = decompose(dict(reversed(f.items())), y)
    assert decompose(f, y) == pytest.approx(rev)


def test_without_replicates_the_residual_is_called_the_interaction():
    """A 2x2 grid of init seed x data order, one run per cell: the residual is the interaction."""
    rng = np.random.default_rng(3)
    seed, data_seed = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    ds = base(n_runs=4, n_steps=6, factors={"seed": seed, "data_seed": data_seed})
    final = 0.5 + 0.1 * seed + 0.2 * seed * data_seed + rng.normal(0, 0.01, 4)
    ds = add_behavior(ds, {"p": np.repeat(final[:, None], 6, 1)})
    res = factor_variance(ds, n_boot=20)
    assert res.summary["replicated"] is False
    assert "the interaction of the factors: no combination of levels is repeated" in res.verdict
    grid = base(n_runs=8, n_steps=6, factors={"seed": np.r_[seed, seed],
                                             "data_seed": np.r_[data_seed, data_seed]})
    grid = add_behavior(grid, {"p": np.repeat(np.r_[final, final + 0.01][:, None], 6, 1)})
    rep = factor_variance(grid, n_boot=20)
    assert rep.summary["replicated"] is True and "seed noise and interactions" in rep.verdict


def test_f_tests_match_statsmodels_and_holm_decides_the_claim():
    from pathdep.analyze.factor_variance import SIMULATION, f_tests, holm

    rng = np.random.default_rng(2)
    lr, size = np.repeat(np.arange(3), 8), np.tile(np.arange(2), 12)
    y = 0.4 * (lr == 2) + rng.normal(0, 1, 24)
    ours = f_tests({"lr": lr.astype(str), "size": size.astype(str)}, y)
    df = pd.DataFrame({"y": y, "lr": lr.astype(str), "size": size.astype(str)})
    table = anova_lm(smf.ols("y ~ C(lr) + C(size)", df).fit(), typ=2)
    assert np.isclose(ours["lr"], table.loc["C(lr)", "PR(>F)"])
    assert np.isclose(ours["size"], table.loc["C(size)", "PR(>F)"])
    assert np.allclose(holm(np.array([0.01, 0.04, np.nan, 0.03])), [0.03, 0.06, np.nan, 0.06],
                       equal_nan=True)
    # the largest share of a null grid is not called an effect; a planted lr effect is found
    null = factor_variance(SIMULATION.null(16, 0), n_boot=10)
    assert not null.summary["factor_effects"] and "exceeds what seed noise gives" in null.verdict
    planted = factor_variance(SIMULATION.planted(16, 0), n_boot=10)
    assert planted.summary["factor_effects"] == ["lr on behavior:p0"]


def _formation_store(n_per: int, shift: int, seed: int, never: int = 0) -> xr.Dataset:
    """Runs whose induction heads form at a checkpoint index of 6-7 (arch a) or 6-7 + shift
    (arch b) of 20 log-spaced checkpoints; the last ``never`` runs of arch b never form one."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per
    arch = np.array(["a"] * n_per + ["b"] * n_per)
    ds = simulate.store(n, simulate.log_steps(20), {"arch": arch.tolist(),
                                                    "seed": [i % n_per for i in range(n)]},
                        seed=seed)
    at = rng.integers(6, 8, n) + np.where(arch == "b", shift, 0)
    if never:
        at[-never:] = 99
    return simulate.with_heads(ds, at, at, rng)


def test_formation_step_share_of_a_factor_is_recovered():
    # Known answer: arch moves formation by 5 checkpoints (about 1.1 decades) against a
    # 1-checkpoint jitter within each arch, so arch explains nearly all the variance.
    res = factor_variance(_formation_store(6, 5, seed=3), n_boot=100)
    t = res.tables["shares"]
    row = t[(t["property"] == "formation:induction") & (t["source"] == "arch")].iloc[0]
    assert row["share"] > 0.85
    info = res.summary["formation"]["induction"]
    assert info["runs"] == 12 and info["not_formed"] == [] and info["skipped"] is None
    assert "Of the formation step of induction heads" in res.verdict
    assert f"arch explains {row['share']:.2g}" in res.verdict
    # ... and when arch does not move it, arch explains little.
    res0 = factor_variance(_formation_store(6, 0, seed=3), n_boot=100)
    t0 = res0.tables["shares"]
    assert t0[(t0["property"] == "formation:induction") & (t0["source"] == "arch")]["share"].iloc[0] < 0.5


def test_runs_that_never_form_are_named_not_decomposed():
    res = factor_variance(_formation_store(6, 5, seed=4, never=2), n_boot=50)
    info = res.summary["formation"]["induction"]
    assert info["runs"] == 10 and info["not_formed"] == ["run10", "run11"]
    assert "not formed in 2: run10, run11" in res.verdict
    # fewer than 3 runs form: said, not decomposed
    res2 = factor_variance(_formation_store(2, 5, seed=4, never=2), n_boot=50)
    assert res2.summary["formation"]["induction"]["skipped"].startswith("formed in 2 run(s)")
    assert not (res2.tables["shares"]["property"] == "formation:induction").any()

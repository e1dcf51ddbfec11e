"""Agreement between runs: exact correlations, and the planted outliers (brackets) are found."""

import numpy as np
from scipy.stats import spearmanr

from pathdep.analysis import data
from pathdep.analyze.agreement import agreement

from .synthetic import add_logprob, base, drop_cells


def _store(n_runs=4):
    ds = base(n_runs=n_runs, n_steps=10, n_seq=40, n_pos=32)
    truth = add_logprob(ds, outlier_run=1)  # run1 fails on bracket tokens in the last 3 steps
    return ds, truth


def test_correlations_are_exact_and_outlier_run_stands_out():
    ds, _ = _store()
    res = agreement(ds, n_boot=50)
    pairs = res.tables["pairs"]
    assert len(pairs) == 6 and res.summary["step"] == 256
    idx = data.valid_tokens(ds)
    x0, x1 = (data.snapshot(ds, "logprob", r, 9, idx) for r in (0, 1))
    row = pairs[(pairs.run_a == "run0") & (pairs.run_b == "run1")].iloc[0]
    assert np.isclose(row.pearson, np.corrcoef(x0, x1)[0, 1])
    assert np.isclose(row.spearman, spearmanr(x0, x1).statistic)
    assert row.pearson_low <= row.pearson <= row.pearson_high
    with_outlier = pairs[(pairs.run_a == "run1") | (pairs.run_b == "run1")].pearson
    without = pairs[(pairs.run_a != "run1") & (pairs.run_b != "run1")].pearson
    assert with_outlier.max() < without.min()


def test_outliers_are_the_planted_bracket_tokens():
    ds, _ = _store(8)
    res = agreement(ds, n_boot=20)
    out = res.tables["outliers"]
    top = out[out.run_b == "run1"].groupby("run_a").head(5)
    assert set(top.token) <= {"(", ")", "[", "]", "{", "}"}
    assert (top.better != "run1").all() and top.context.str.contains("⟦").all()
    cats = res.tables["outlier_categories"]
    assert cats.iloc[0].category == "bracket" and cats.iloc[0].lift > 1.5  # one run of 8 fails
    assert "bracket" in res.verdict and res.summary["outlier_categories"] == ["bracket"]


def test_below_eight_runs_no_category_is_claimed():
    # At 4 runs the stratified test claimed a category in 19 % of null suites (the harness):
    # the same planted brackets are listed but not claimed, and the verdict says why.
    ds, _ = _store(4)
    res = agreement(ds, n_boot=20)
    assert res.tables["outlier_categories"].iloc[0].category == "bracket"
    assert res.summary["outlier_categories"] == []
    assert "with fewer than 8 runs no token category is tested" in res.verdict


def test_default_step_is_the_last_done_by_most_runs():
    ds, _ = _store()
    ds = drop_cells(ds, 2, [9])
    assert agreement(ds, n_boot=10).summary["step"] == 128
    res = agreement(ds, step=256, n_boot=10)
    assert res.summary["n_runs"] == 3


def test_difficulty_alone_does_not_make_a_category_of_outliers():
    """Issue 14's null: run-to-run noise grows with a token's difficulty (sd 20% of it), rare tokens are
    the hard ones, and no category has an effect of its own. Raw |difference| would call
    rare tokens over-represented; relative to tokens of like difficulty nothing is."""
    from pathdep.analysis import tokens
    from pathdep.analyze.agreement import relative_spread

    ds = base(n_runs=8, n_steps=3, n_seq=80, n_pos=32)
    rng = np.random.default_rng(3)
    ids = ds["tokens"].values
    difficulty = 0.5 + np.log1p(ids).astype(float)  # token id = frequency rank (Zipf)
    lp = np.stack([-(difficulty + rng.normal(0, 0.2, (3,) + ids.shape) * difficulty)
                   for _ in range(8)])
    lp[..., 0] = np.nan
    ds["logprob"] = (("run", "step", "seq", "pos"), lp.astype(np.float32))
    res = agreement(ds, n_boot=20)
    assert "no token category is over-represented" in res.verdict
    # the same selection by raw |difference| finds the difficulty confound
    idx = data.valid_tokens(ds)
    x0, x1 = (data.snapshot(ds, "logprob", r, 2, idx) for r in (0, 1))
    cats = tokens.categories(ds, idx)
    n_top = int(0.01 * len(idx))
    raw = np.zeros(len(idx), bool)
    raw[np.argsort(-np.abs(x0 - x1))[:n_top]] = True
    rare = tokens.enrichment(cats, raw).set_index("category").loc["rare"]
    assert rare["lift"] > 2 and rare["p_value"] < 0.01
    rel = np.zeros(len(idx), bool)
    xs = np.stack([data.snapshot(ds, "logprob", r, 2, idx) for r in range(8)])
    rel[np.argsort(-relative_spread(x0 - x1, -xs.mean(0)))[:n_top]] = True
    assert tokens.enrichment(cats, rel).set_index("category").loc["rare", "lift"] < 1.5


def test_stratified_permutation_ignores_a_category_that_is_only_harder():
    """A category that sits in the hard strata, and a selection that depends on the stratum
    alone: Fisher's test (tokens independent, no strata) calls it over-represented; the
    permutation within strata does not, and still finds a category selected for itself."""
    import pandas as pd

    from pathdep.analysis import tokens

    rng = np.random.default_rng(0)
    strata = rng.integers(0, 10, 3000)
    hard = rng.random(3000) < np.where(strata >= 8, 0.6, 0.05)
    own = rng.random(3000) < 0.1
    sel = rng.random(3000) < np.where(strata >= 8, 0.08, 0.01)
    cats = pd.DataFrame({"hard": hard, "own": own})
    fisher = tokens.enrichment(cats, sel).set_index("category")
    assert fisher.loc["hard", "p_value"] < 1e-3
    assert tokens.stratified_p(cats, sel, strata, n_perm=400).min() > 0.05
    sel2 = sel | (own & (rng.random(3000) < 0.2))
    p2 = tokens.stratified_p(cats, sel2, strata, n_perm=400)
    assert p2["own"] < 0.01 and p2["hard"] > 0.05

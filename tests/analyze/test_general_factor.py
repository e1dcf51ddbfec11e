"""The general factor: one planted latent gives a dominant PC1 with same-sign loadings."""

import numpy as np

from pathdep.analyze.general_factor import (
    INDICATORS,
    _null_share,
    general_factor,
    null_shares,
    pca,
    permutation_p,
)


def test_one_latent_factor_is_found_and_noise_is_not():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(30, 1))
    table = latent * np.array([1.0, 0.8, 0.9, 1.1]) + rng.normal(0, 0.2, (30, 4))
    ratio, vt = pca(table)
    assert ratio[0] > 0.8 and np.all(vt[0] > 0)
    assert permutation_p(ratio[0], null_shares(table, 200, 0)) < 0.01
    noise = rng.normal(size=(30, 4))
    assert pca(noise)[0][0] < 0.5
    assert _null_share(table, 50, 0) < 0.5


def test_general_factor_claims_stay_rare_without_one():
    """Null tables (8 properties, independent indicators): the claim, p < 0.05 and same-sign
    loadings, is made in at most 10 % of them; a planted factor is found most of the time."""
    rng = np.random.default_rng(1)
    k = len(INDICATORS)

    def claims(table):
        ratio, vt = pca(table)
        same = np.all(vt[0][np.abs(vt[0]) > 0.1] > 0)
        return permutation_p(ratio[0], null_shares(table, 99, int(rng.integers(1 << 30)))) < 0.05 and same

    null = np.mean([claims(rng.normal(size=(8, k))) for _ in range(200)])
    planted = np.mean([claims(rng.normal(size=(8, 1)) * np.ones(k) + rng.normal(0, 0.5, (8, k)))
                       for _ in range(100)])
    assert null <= 0.10 and planted >= 0.5, (null, planted)


def test_analysis_on_a_full_store(store):
    res = general_factor(store, n_boot=30, n_perm=30)
    ind = res.tables["indicators"]
    assert list(ind.columns) == ["property", *INDICATORS] and len(ind) >= 3
    assert np.isclose(res.tables["loadings"].loading.pow(2).sum(), 1.0)
    share = res.summary["pc1_share"]
    assert 1 / len(INDICATORS) <= share.value <= 1 and share.low <= share.value <= share.high

"""The general factor: one planted latent gives a dominant PC1 with same-sign loadings."""

import numpy as np

from pathdep.analyze.general_factor import INDICATORS, _null_share, general_factor, pca


def test_one_latent_factor_is_found_and_noise_is_not():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(30, 1))
    table = latent * np.array([1.0, 0.8, 0.9, 0.7, 1.1]) + rng.normal(0, 0.2, (30, 5))
    ratio, vt = pca(table)
    assert ratio[0] > 0.8 and np.all(vt[0] > 0)
    noise = rng.normal(size=(30, 5))
    assert pca(noise)[0][0] < 0.45
    assert _null_share(table, 50, 0) < 0.45


def test_analysis_on_a_full_store(store):
    res = general_factor(store, n_boot=30, n_perm=30)
    ind = res.tables["indicators"]
    assert list(ind.columns) == ["property", *INDICATORS] and len(ind) >= 3
    assert np.isclose(res.tables["loadings"].loading.pow(2).sum(), 1.0)
    share = res.summary["pc1_share"]
    assert 1 / len(INDICATORS) <= share.value <= 1 and share.low <= share.value <= share.high

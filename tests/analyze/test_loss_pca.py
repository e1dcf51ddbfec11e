"""Out-of-core PCA: matches exact PCA, recovers an inserted component, same through Zarr."""

import warnings

import numpy as np
import pytest

from pathdep.analysis import stream_pca
from pathdep.analyze import analyze
from pathdep.analyze.loss_pca import loss_pca

from .synthetic import add_pca_logprob, base


def test_streamed_randomised_pca_matches_exact_svd():
    rng = np.random.default_rng(0)
    n, m = 60, 3000  # more rows than components + oversampling: power iterations are used
    x = rng.normal(size=(n, 5)) * [10, 6, 4, 2, 1] @ rng.normal(size=(5, m)) + rng.normal(size=(n, m))
    x += rng.uniform(20, 60, m)  # a large per-token mean, as losses have: PCA must centre it
    x[:, :7] = np.nan  # columns without a value everywhere (like position 0) are left out
    x[30, 100] = np.nan  # ... and a column with one gap (the sketch is redone without it)
    got = stream_pca.randomized_pca(lambda rows: x[rows], n, m, 4, block=7)
    keep = np.isfinite(x).all(0)
    xc = x[:, keep] - x[:, keep].mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    assert np.allclose(got.explained_ratio, s[:4] ** 2 / (s**2).sum(), rtol=1e-3)
    for k in range(4):
        assert abs(got.components[k, keep] @ vt[k]) > 0.999
    assert np.all(got.components[:, ~keep] == 0) and got.valid.sum() == m - 8
    exact = np.abs(xc @ vt[0])
    assert np.allclose(np.abs(got.scores[:, 0]), exact, atol=1e-3 * exact.max())
    one_pass = stream_pca.randomized_pca(lambda rows: x[rows], n, m, 4, n_iter=0, block=7)
    assert np.allclose(one_pass.explained_ratio[:3], s[:3] ** 2 / (s**2).sum(), rtol=1e-2)


def test_inserted_components_are_recovered():
    ds = base(n_runs=3, n_steps=10, n_seq=20, n_pos=16)
    truth = add_pca_logprob(ds)
    res = loss_pca(ds, n_components=4, n_boot=50)
    comps = res.tables["top_tokens"]
    loads = _loadings(res, ds)
    assert abs(loads[0] @ truth["u"]) > 0.98 and abs(loads[1] @ truth["v"]) > 0.95
    support = set(np.flatnonzero(truth["u"]))
    top = comps[(comps.component == "PC1") & (comps.sign == "+")]
    assert {s * 16 + p for s, p in zip(top.seq, top.pos, strict=True)} <= support
    traj = res.tables["trajectories"]
    assert abs(np.corrcoef(traj.PC1, truth["a"].ravel())[0, 1]) > 0.99
    share = res.summary["pc1_share"]
    x = -ds["logprob"].values.reshape(30, -1)
    x = x[:, np.isfinite(x).all(0)]
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert np.isclose(share.value, s[0] ** 2 / (s**2).sum(), rtol=1e-6)
    assert share.low <= share.value <= share.high


def _loadings(res, ds):
    """Recompute the token loadings from the stored trajectories (scores) and the store."""
    x = -ds["logprob"].values.reshape(len(res.tables["trajectories"]), -1)
    ok = np.isfinite(x).all(0)
    xc = np.where(ok, x - np.where(ok, x, 0).mean(0), 0)
    scores = res.tables["trajectories"][["PC1", "PC2"]].to_numpy()
    v = (scores.T @ xc)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore")
def test_same_result_through_a_zarr_store(tmp_path):
    ds = base(n_runs=2, n_steps=8, n_seq=10, n_pos=16)
    add_pca_logprob(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(tmp_path / "s.zarr", mode="w")
    disk = analyze(tmp_path / "s.zarr", names=["loss_pca"], n_boot=20)["loss_pca"]
    mem = loss_pca(ds, n_boot=20)
    assert np.allclose(disk.summary["explained_ratio"], mem.summary["explained_ratio"], rtol=1e-4)
    assert (tmp_path / "s.zarr.analysis" / "loss_pca" / "trajectories.csv").exists()

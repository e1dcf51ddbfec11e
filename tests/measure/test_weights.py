"""Weight statistics equal a direct numpy computation on a model with known weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pathdep.measure.weights import STATS, weight_stats  # noqa: E402


def test_the_statistics_of_a_known_model_are_its_norms_and_singular_values():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(7, 5), torch.nn.Linear(5, 3))
    W = [p.detach().double().numpy() for p in model.parameters()]  # (7, 5), (3, 5), bias (3,)
    flat = np.concatenate([w.ravel() for w in W])
    sv = np.concatenate([np.linalg.svd(w, compute_uv=False) for w in W if w.ndim == 2])
    assert sv.size == 5 + 3  # the bias has no singular values
    got = weight_stats(model)
    assert set(got) == set(STATS)
    want = {"weight_l1": np.abs(flat).sum(), "weight_l2": np.sqrt((flat ** 2).sum()),
            "sv_mean": sv.mean(), "sv_var": sv.var(), "sv_max": sv.max()}
    assert got == pytest.approx(want, rel=1e-6)


def test_scaling_the_weights_scales_the_statistics():
    torch.manual_seed(1)
    model = torch.nn.Linear(4, 4)
    before = weight_stats(model)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    after = weight_stats(model)
    assert after["weight_l2"] == pytest.approx(2 * before["weight_l2"])
    assert after["sv_max"] == pytest.approx(2 * before["sv_max"])
    assert after["sv_var"] == pytest.approx(4 * before["sv_var"])


def test_measure_stores_each_checkpoints_weight_statistics(tmp_path):
    from pathdep.measure import measure
    from pathdep.measure.weights import weight_vector
    from pathdep.models import load_model
    from pathdep.store import open_store

    from .suitekit import build_suite

    suite = build_suite(tmp_path, runs=("a", "b"), steps_of={"a": (0, 10), "b": (0, 5)})
    assert measure(suite, out=tmp_path / "m.zarr").ok
    ds = open_store(tmp_path / "m.zarr")
    assert list(ds["wstat"].values) == list(STATS)
    for run in suite.runs:
        for ck in run.checkpoints:
            got = ds["weight_stats"].sel(run=run.id, step=ck.step).values
            assert got == pytest.approx(weight_vector(load_model(run, ck)), rel=1e-9)


def test_a_store_made_before_weight_statistics_is_measured_on_without_them(tmp_path,
                                                                           monkeypatch):
    from pathdep.measure import layout, measure
    from pathdep.store import open_store

    from .suitekit import build_suite

    suite = build_suite(tmp_path, runs=("a",), steps_of={"a": (0, 10)})
    with monkeypatch.context() as m:  # the layout of pathdep before issue 18
        m.setattr(layout, "WSTATS", ())
        assert measure(suite, out=tmp_path / "m.zarr", steps=[0]).ok
    assert "weight_stats" not in open_store(tmp_path / "m.zarr")
    res = measure(suite, out=tmp_path / "m.zarr")  # today's pathdep, into the old store
    assert res.ok and len(res.measured) == 1
    ds = open_store(tmp_path / "m.zarr")
    assert "weight_stats" not in ds and bool(ds["done"].all())


def test_float32_singular_values_agree_with_float64_and_fall_back_where_they_would_not():
    """Well-conditioned matrices take the float32 Gram matrix (statistics within float32
    rounding, far below the 1e-4 allowed); ill-conditioned and rank-deficient ones, whose
    small singular values a float32 Gram matrix loses (a 5e-3 error in Σs for the first
    here), are redone in float64, as every matrix was before (to 1e-6 of the float64 SVD:
    the Gram matrix squares the condition number in float64 too)."""
    from pathdep.measure import weights

    gen = torch.Generator().manual_seed(3)
    well = torch.randn(400, 60, generator=gen)  # condition number about 2
    ill = torch.randn(300, 200, generator=gen) * torch.logspace(0, -4, 200)
    low = torch.randn(300, 20, generator=gen) @ torch.randn(20, 200, generator=gen)
    used = []
    real = weights._gram_eigvals
    for w, f64, rtol in [(well, False, 1e-6), (ill, True, 1e-6), (low, True, 1e-6),
                         (well.T, False, 1e-6)]:
        used.clear()
        with pytest.MonkeyPatch.context() as m:
            m.setattr(weights, "_gram_eigvals", lambda x: used.append(x.dtype) or real(x))
            got = weights.singular_values(w).numpy()
        assert (torch.float64 in used) == f64
        ref = np.linalg.svd(w.double().numpy(), compute_uv=False)
        for stat in (np.mean, np.var, np.max):
            assert stat(got) == pytest.approx(stat(ref), rel=rtol, abs=0)


def test_matrices_done_one_per_thread_give_the_serial_statistics_and_restore_the_threads():
    """On a CPU with 2+ torch threads the matrices run one per Python thread, single-threaded
    (weights._matrices); the statistics are those of the one-thread path and of a float64
    SVD, and torch's thread count is what it was."""
    from pathdep.measure import weights

    torch.manual_seed(4)
    model = torch.nn.Sequential(*[torch.nn.Linear(96, 64 + 16 * i) for i in range(5)])
    W = [p.detach().double().numpy() for p in model.parameters()]
    sv = np.concatenate([np.linalg.svd(w, compute_uv=False) for w in W if w.ndim == 2])
    flat = np.concatenate([w.ravel() for w in W])
    want = {"weight_l1": np.abs(flat).sum(), "weight_l2": np.sqrt((flat ** 2).sum()),
            "sv_mean": sv.mean(), "sv_var": sv.var(), "sv_max": sv.max()}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(weights, "PARALLEL_MIN", 0)
            threads = []
            real = weights._matrix
            m.setattr(weights, "_matrix", lambda w: threads.append(torch.get_num_threads())
                      or real(w))
            parallel = weight_stats(model)
            assert threads == [1] * 5  # one matrix per thread, each single-threaded
            assert torch.get_num_threads() == 2
            m.setattr(weights, "PARALLEL_MIN", 1 << 60)
            serial = weight_stats(model)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert parallel == pytest.approx(serial, rel=1e-6)
    assert parallel == pytest.approx(want, rel=1e-6)


def test_the_l1_norm_of_a_large_float32_tensor_is_within_float32_rounding():
    """Σ|w| is summed in float32 per tensor (torch's cascade sum), not accumulated naively:
    a 16M-entry tensor is within 1e-6 of the float64 sum (a naive float32 sum is ~1e-2
    off at this size)."""
    from pathdep.measure import weights

    w = torch.randn(1 << 24, generator=torch.Generator().manual_seed(5)) * 0.02
    ref = float(w.double().abs().sum())
    assert weights._l1(w) == pytest.approx(ref, rel=1e-6)
    assert weights._l1(w.double()) == pytest.approx(ref, rel=1e-12)
    assert weights._l1(w.bfloat16()) == pytest.approx(float(w.bfloat16().double().abs().sum()),
                                                      rel=1e-6)

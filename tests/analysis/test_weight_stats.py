"""Weight statistics equal a direct numpy computation on a model with known weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pathdep.analysis.weight_stats import STATS, weight_stats  # noqa: E402


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

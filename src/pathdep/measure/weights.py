"""Per-checkpoint weight statistics: norms and singular-value statistics of a model's weights.

    from pathdep.measure.weights import weight_stats
    weight_stats(model)   # {"weight_l1": ..., "weight_l2": ..., "sv_mean": ..., ...}

Hu, Chen, Saphra and Cho ("Latent State Models of Training Dynamics", TMLR
2023) describe each checkpoint by statistics of its weights beside its
losses: the L1 and L2 norms of the weights and the mean and variance of the
singular values of the weight matrices, among others (their λ_max, the
largest eigenvalue, is here the largest singular value). Here:

- ``weight_l1``: Σ|w| over every parameter;
- ``weight_l2``: √(Σ w²) over every parameter;
- ``sv_mean``, ``sv_var``: mean and variance of the singular values of all
  2-D parameters (weight matrices and embeddings) pooled;
- ``sv_max``: the largest of those singular values (the largest spectral norm).

Singular values come from the eigenvalues of the smaller Gram matrix (WᵀW
or WWᵀ) in float64 on the model's device, not from an SVD: for GPT-2 small
the SVDs of its 50,257 x 768 embedding and 48 block matrices took about 100 s
per checkpoint on 2 CPU cores, the Gram matrices a few seconds. They are
exact up to float64 rounding (singular values below about 1e-7 of the
largest are lost to it, which moves none of the statistics by a measurable
amount).

They are measured with the other per-checkpoint values (store variable
``weight_stats[run, step, wstat]``, docs/store.md; stores created before it
lack it) and are metrics of the training maps (analyze/training_maps.py); the
llc analysis also records them where it loads its checkpoints (table
``weights``).
"""

from __future__ import annotations

import numpy as np
import torch

from pathdep.store.schema import WSTATS as STATS


def singular_values(w: torch.Tensor) -> torch.Tensor:
    """Singular values of a 2-D ``w`` (float64, on its device): the square roots of the
    eigenvalues of the smaller of WᵀW and WWᵀ."""
    w = w.double()
    g = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    return torch.linalg.eigvalsh(g).clamp_min(0).sqrt()


def weight_stats(model) -> dict[str, float]:
    """The statistics of ``model``'s parameters (a torch module), in float64."""
    l1 = sq = 0.0
    svs = []
    with torch.no_grad():
        for p in model.parameters():
            w = p.detach()
            l1 += float(w.double().abs().sum())
            sq += float(w.double().square().sum())
            if w.ndim == 2:
                svs.append(singular_values(w).cpu().numpy())
    s = np.concatenate(svs) if svs else np.array([np.nan])
    return {"weight_l1": l1, "weight_l2": float(np.sqrt(sq)), "sv_mean": float(s.mean()),
            "sv_var": float(s.var()), "sv_max": float(s.max())}


def weight_vector(model) -> np.ndarray:
    """:func:`weight_stats` in the order of the store's ``wstat`` (STATS)."""
    stats = weight_stats(model)
    return np.array([stats[k] for k in STATS], dtype=np.float64)

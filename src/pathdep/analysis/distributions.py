"""KL divergence between two runs' stored next-token distributions (``dist_*`` in the store).

The store keeps, per sampled position, the log-probs of ``k`` entries
(``dist_logp``), their token ids (``dist_ids``) and the log of the mass not
kept (``dist_rest``). When the whole vocabulary is kept the KL is exact. With
top-k, the two distributions are coarse-grained onto the ids both runs kept
plus one "other" bucket holding the remaining mass; by the data-processing
inequality this gives a lower bound on the true KL. Fehlauer et al. (2025,
methods.md §4) measure convergence between seeds as this expected per-token KL.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pathdep.analysis import data

EPS = 1e-12
LOG_FLOOR = -69.0  # log(1e-30): a kept entry with zero probability (underflow) stays finite


def read(ds: xr.Dataset, run_i: int, step_i: int) -> tuple[np.ndarray, np.ndarray]:
    """(sample, k) log-probs normalised to sum to one with the rest, and (sample, k) ids.

    Padding entries (NaN log-prob or id −1, the store's fill) become log-prob −inf, id −1.
    """
    logp = np.asarray(ds["dist_logp"].isel(run=run_i, step=step_i).transpose("sample", "k").values,
                      dtype=np.float64)
    ids = np.asarray(ds["dist_ids"].isel(run=run_i, step=step_i).transpose("sample", "k").values,
                     dtype=np.int64)
    pad = ~np.isfinite(logp) | (ids < 0)  # fill of entries a smaller vocabulary lacks
    logp, ids = np.where(pad, -np.inf, logp), np.where(pad, -1, ids)
    total = np.exp(logp).sum(1)
    if "dist_rest" in ds.variables:
        rest = np.asarray(ds["dist_rest"].isel(run=run_i, step=step_i).values, dtype=np.float64)
        total = total + np.exp(np.nan_to_num(rest, nan=-np.inf))
    return logp - np.log(total)[:, None], ids


def kl(p_logp: np.ndarray, p_ids: np.ndarray, q_logp: np.ndarray, q_ids: np.ndarray) -> np.ndarray:
    """Per-sample KL(p ‖ q) in nats (exact for identical id sets, else coarse-grained)."""
    q_logp = np.maximum(q_logp, LOG_FLOOR)
    if p_ids.shape == q_ids.shape and np.array_equal(p_ids, q_ids):
        p = np.exp(p_logp)
        inner = np.where(p > 0, p * (p_logp - q_logp), 0.0).sum(1)
        p_other, q_other = 1 - p.sum(1), 1 - np.exp(q_logp).sum(1)
    else:
        inner, p_other, q_other = _coarse(p_logp, p_ids, q_logp, q_ids)
    p_other, q_other = np.clip(p_other, 0, 1), np.clip(q_other, EPS, 1)
    tail = np.where(p_other > EPS, p_other * (np.log(np.maximum(p_other, EPS)) - np.log(q_other)), 0)
    return np.maximum(inner + tail, 0.0)


def _coarse(p_logp, p_ids, q_logp, q_ids):
    """Sum over ids kept by both runs, and each side's mass outside that common set."""
    n, width = p_ids.shape[0], int(max(p_ids.max(initial=0), q_ids.max(initial=0))) + 1
    row = np.arange(n)[:, None]
    pk, qk = (p_ids + row * width).ravel(), (q_ids + row * width).ravel()
    order = np.argsort(qk)
    pos = np.clip(np.searchsorted(qk[order], pk), 0, qk.size - 1)
    hit = (qk[order][pos] == pk) & (p_ids.ravel() >= 0)  # padding (id −1) never matches
    q_match = np.where(hit, q_logp.ravel()[order][pos], 0.0).reshape(p_ids.shape)
    hit = hit.reshape(p_ids.shape)
    p = np.exp(p_logp)
    inner = np.where(hit & (p > 0), p * (p_logp - q_match), 0.0).sum(1)
    p_common = np.where(hit, p, 0).sum(1)
    q_common = np.where(hit, np.exp(q_match), 0).sum(1)
    return inner, 1 - p_common, 1 - q_common


def kl_matrix(ds: xr.Dataset, step_i: int, run_idx: np.ndarray) -> np.ndarray:
    """(run, run, sample) per-sample KL(run_a ‖ run_b) at one step; NaN on the diagonal."""
    dists = [read(ds, r, step_i) for r in run_idx]
    n = len(run_idx)
    out = np.full((n, n, dists[0][0].shape[0]), np.nan)
    for a in range(n):
        for b in range(n):
            if a != b:
                out[a, b] = kl(dists[a][0], dists[a][1], dists[b][0], dists[b][1])
    return out


def has_distributions(ds: xr.Dataset) -> bool:
    return data.has_values(ds, "dist_logp") and "dist_ids" in ds.variables

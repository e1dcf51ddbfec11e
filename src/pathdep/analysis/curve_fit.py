"""Vectorised fits of many learning curves at once (one row per token).

- ``sigmoid_fit``: Chang et al.'s 4-parameter sigmoid ``start + (end-start) /
  (1 + exp((xmid-x)/scale))`` (methods.md §2), fitted by least squares over a
  grid of (xmid, scale) with ``start`` and ``end`` solved in closed form for
  every grid point, so thousands of curves fit in one matrix product and a fit
  never fails to converge.
- ``poly_rss`` and ``decay_rss``: least-squares polynomials and power laws
  (exponential decay in log-step), the smooth alternatives.
- ``bic``: Gaussian BIC from a residual sum of squares.
- ``gam_smooth``: a penalised cubic B-spline smoother with 25 basis functions
  and a second-difference penalty, λ chosen per curve by GCV over
  logspace(-3, 3, 11): the LinearGAM(n_splines=25) gridsearch Chang et al. use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline
from scipy.special import expit


@dataclass
class SigmoidFit:
    start: np.ndarray
    delta: np.ndarray  # end − start
    xmid: np.ndarray
    scale: np.ndarray
    rss: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(curve, len(x)) fitted values."""
        z = (np.asarray(x)[None, :] - self.xmid[:, None]) / self.scale[:, None]
        return self.start[:, None] + self.delta[:, None] * expit(z)


def _grid_ls(y: np.ndarray, basis: np.ndarray, chunk: int = 4096):
    """Best y ≈ start + delta·basis[g] per row over the grid of basis curves (closed form)."""
    bc = basis - basis.mean(1, keepdims=True)
    var = np.maximum((bc**2).sum(1), 1e-12)
    g, start, delta, rss = (np.empty(len(y), int), np.empty(len(y)), np.empty(len(y)),
                            np.empty(len(y)))
    for s in range(0, len(y), chunk):
        yc = y[s:s + chunk] - y[s:s + chunk].mean(1, keepdims=True)
        cov = yc @ bc.T  # (curve, grid)
        r = (yc**2).sum(1, keepdims=True) - cov**2 / var
        best = r.argmin(1)
        rows = np.arange(len(best))
        g[s:s + chunk], rss[s:s + chunk] = best, np.maximum(r[rows, best], 0)
        delta[s:s + chunk] = cov[rows, best] / var[best]
        start[s:s + chunk] = y[s:s + chunk].mean(1) - delta[s:s + chunk] * basis[best].mean(1)
    return g, start, delta, rss


def sigmoid_fit(x: np.ndarray, y: np.ndarray, n_mid: int = 40, n_scale: int = 16) -> SigmoidFit:
    """Fit every row of ``y`` (curve, len(x)); xmid ranges over the observed x."""
    x = np.asarray(x, dtype=float)
    span = max(x.max() - x.min(), 1e-9)
    mid, sc = np.meshgrid(np.linspace(x.min(), x.max(), n_mid),
                          np.geomspace(span / 100, span, n_scale), indexing="ij")
    mid, sc = mid.ravel(), sc.ravel()
    g, start, delta, rss = _grid_ls(y, expit((x[None, :] - mid[:, None]) / sc[:, None]))
    return SigmoidFit(start, delta, mid[g], sc[g], rss)


def decay_rss(x: np.ndarray, y: np.ndarray, n_rate: int = 40) -> np.ndarray:
    """RSS of the best ``a + b·exp(−k·x)`` per row (3 parameters): in x = log10(step) this is
    a power law in step, the usual smooth learning curve with no initial plateau."""
    x = np.asarray(x, dtype=float)
    span = max(x.max() - x.min(), 1e-9)
    rate = np.r_[-np.geomspace(0.05, 20, n_rate // 2)[::-1], np.geomspace(0.05, 20, n_rate // 2)]
    basis = np.exp(-rate[:, None] * (x[None, :] - x.min()) / span)
    return _grid_ls(y, basis)[3]


def poly_rss(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """Residual sum of squares of a least-squares polynomial per row."""
    v = np.vander((x - x.mean()) / max(x.std(), 1e-9), degree + 1)
    coef, *_ = np.linalg.lstsq(v, y.T, rcond=None)
    return ((y.T - v @ coef) ** 2).sum(0)


def bic(rss: np.ndarray, n: int, n_params: int) -> np.ndarray:
    """BIC of a Gaussian model: n·ln(RSS/n) + p·ln(n)."""
    return n * np.log(np.maximum(rss, 1e-12) / n) + n_params * np.log(n)


def _basis(x: np.ndarray, n_splines: int) -> np.ndarray:
    lo, hi = x.min(), x.max() + 1e-9 * max(1.0, abs(x.max()))
    inner = np.linspace(lo, hi, n_splines - 2)
    t = np.r_[[lo] * 3, inner, [hi] * 3]
    return BSpline.design_matrix(x, t, 3).toarray()


def hat_matrices(x: np.ndarray, n_splines: int = 25,
                 lams: np.ndarray | None = None) -> list[np.ndarray]:
    """Smoother (hat) matrices H_λ = B (BᵀB + λDᵀD)⁻¹ Bᵀ of the penalised spline."""
    lams = np.logspace(-3, 3, 11) if lams is None else lams
    b = _basis(np.asarray(x, dtype=float), n_splines)
    d = np.diff(np.eye(b.shape[1]), 2, axis=0)
    btb, dtd = b.T @ b, d.T @ d
    return [b @ np.linalg.solve(btb + lam * dtd, b.T) for lam in lams]


def gam_smooth(x: np.ndarray, y: np.ndarray, n_splines: int = 25) -> np.ndarray:
    """Smooth each row of ``y`` with the GCV-best λ of the penalised spline."""
    n = y.shape[1]
    best, best_gcv = np.array(y, dtype=float), np.full(len(y), np.inf)
    for h in hat_matrices(x, n_splines):
        fit = y @ h.T
        dof = max(n - np.trace(h), 1e-6)
        gcv = n * ((y - fit) ** 2).sum(1) / dof**2
        better = gcv < best_gcv
        best[better], best_gcv[better] = fit[better], gcv[better]
    return best


def crossing(fit: np.ndarray, x_fine: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """First x of ``x_fine`` where each fitted (decreasing) curve is ≤ its threshold;
    the last x when it never is (Chang et al.'s convention for never-acquired curves)."""
    below = fit <= threshold[:, None]
    first = np.argmax(below, axis=1)
    return np.where(below.any(1), x_fine[first], x_fine[-1])


def noise_sd(s: np.ndarray) -> np.ndarray:
    """Per curve (last axis), the point-to-point noise s.d. from first differences: their median
    absolute deviation / 0.6745 (a normal's MAD) / sqrt 2 (a difference has twice the variance);
    robust to the curve's trend and to its jumps."""
    d = np.diff(np.asarray(s, float), axis=-1)
    mad = np.median(np.abs(d - np.median(d, axis=-1, keepdims=True)), axis=-1)
    return mad / 0.6745 / np.sqrt(2)

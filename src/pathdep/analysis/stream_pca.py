"""Out-of-core PCA of a tall-and-wide matrix read one block of rows at a time.

The rows are snapshots (run × checkpoint), the columns tokens, possibly
millions. The matrix never sits in memory: each pass asks ``read(rows)`` for a
block of rows and keeps only (n_rows × l) and (n_cols × l) factors, l being the
number of components plus oversampling. The method is the randomised range
finder of Halko, Martinsson & Tropp (2011, Algorithm 4.4, with power
iterations), run on the column-centred matrix X_c = X − 1μᵀ:

    pass 1:  μ (column means), the columns finite in every row, and XΩ
             (Ω: n_cols × l Gaussian); Y = X_c Ω = XΩ − 1(μᵀΩ)   → Q = orth(Y)
    power:   Z = X_cᵀ Q → orth;  Y = X_c Z → Q = orth(Y)     (2 passes each)
    last:    Bᵀ = X_cᵀ Q           then SVD of the small B = Qᵀ X_c

so n_iter power iterations cost 2 + 2·n_iter passes. When n_rows ≤ l, Y
spans the whole row space and the result is exact PCA (power iterations are
skipped). Columns with any NaN (e.g. position 0, which has no prediction) are
left out, loadings 0; pass 1 sketches the columns finite in the first row, and
is redone in the rare case that a later row has NaN elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Reader = Callable[[np.ndarray], np.ndarray]  # row indices -> (len(rows), n_cols) array


@dataclass
class PCAResult:
    scores: np.ndarray  # (n_rows, k) coordinates of each row
    components: np.ndarray  # (k, n_cols) unit loadings over columns
    explained_variance: np.ndarray  # (k,) variance along each component (÷ n_rows − 1)
    explained_ratio: np.ndarray  # (k,) share of the total variance
    row_ss: np.ndarray  # (n_rows,) squared norm of each centred row (for resampling)
    valid: np.ndarray  # (n_cols,) columns used


def _orth(z: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of a tall z (n × l) through its small Gram matrix
    (Cholesky-QR style: one pass over z instead of a Householder QR of the tall matrix)."""
    evals, v = np.linalg.eigh(z.T @ z)
    keep = evals > evals.max(initial=0) * 1e-12
    return z @ (v[:, keep] / np.sqrt(evals[keep]))


def _blocks(n_rows: int, block: int):
    for start in range(0, n_rows, block):
        yield np.arange(start, min(start + block, n_rows))


def _first_pass(read: Reader, n_rows: int, n_cols: int, block: int, omega_seed: int, l_dim: int):
    """μ, the valid columns, and Y = X_c Ω in one pass (Ω over the first row's finite columns)."""
    valid0 = np.isfinite(np.asarray(read(np.arange(1)), dtype=np.float64)[0])
    if not valid0.any():
        raise ValueError("the first row has no finite value")
    omega = np.random.default_rng(omega_seed).standard_normal((int(valid0.sum()), l_dim))
    total, valid = np.zeros(n_cols), valid0.copy()
    y = np.empty((n_rows, l_dim))
    for rows in _blocks(n_rows, block):
        x = np.asarray(read(rows), dtype=np.float64)
        valid &= np.isfinite(x).all(0)
        total += np.nan_to_num(x).sum(0)
        y[rows] = np.nan_to_num(x[:, valid0]) @ omega
    mu = total / n_rows
    if np.array_equal(valid, valid0):
        return mu, valid, y - mu[valid] @ omega
    if not valid.any():
        raise ValueError("no column is finite in every row")
    omega = np.random.default_rng(omega_seed).standard_normal((int(valid.sum()), l_dim))
    return mu, valid, _project_rows(read, n_rows, mu, valid, omega, block)


def _centred(read: Reader, rows, mu, valid) -> np.ndarray:
    x = np.asarray(read(rows), dtype=np.float64)[:, valid]
    return x - mu[valid]


def _project_rows(read, n_rows, mu, valid, right: np.ndarray, block) -> np.ndarray:
    """X_c @ right (n_rows × l)."""
    y = np.empty((n_rows, right.shape[1]))
    for rows in _blocks(n_rows, block):
        y[rows] = _centred(read, rows, mu, valid) @ right
    return y


def _project_cols(read, n_rows, mu, valid, q: np.ndarray, block):
    """X_cᵀ @ q (n_valid_cols × l), and each centred row's squared norm."""
    z, ss = np.zeros((int(valid.sum()), q.shape[1])), np.empty(n_rows)
    for rows in _blocks(n_rows, block):
        x = _centred(read, rows, mu, valid)
        z += x.T @ q[rows]
        ss[rows] = np.einsum("ij,ij->i", x, x)
    return z, ss


def randomized_pca(read: Reader, n_rows: int, n_cols: int, n_components: int = 10, *,
                   oversample: int = 10, n_iter: int = 1, block: int = 16,
                   seed: int = 0) -> PCAResult:
    """PCA of the (n_rows × n_cols) matrix served by ``read``, streamed in row blocks."""
    l_dim = min(n_components + oversample, n_rows)
    mu, valid, y = _first_pass(read, n_rows, n_cols, block, seed, l_dim)
    q = np.linalg.qr(y)[0]
    for _ in range(n_iter if n_rows > l_dim else 0):
        z = _orth(_project_cols(read, n_rows, mu, valid, q, block)[0])
        q = np.linalg.qr(_project_rows(read, n_rows, mu, valid, z, block))[0]
    bt, row_ss = _project_cols(read, n_rows, mu, valid, q, block)  # (n_valid, l) = X_cᵀ Q
    evals, u_b = np.linalg.eigh(bt.T @ bt)  # B Bᵀ = U Σ² Uᵀ
    order = np.argsort(evals)[::-1][:n_components]
    sig = np.sqrt(np.clip(evals[order], 0, None))
    u_b = u_b[:, order]
    with np.errstate(invalid="ignore", divide="ignore"):
        comps_valid = np.where(sig > 0, (bt @ u_b) / sig, 0.0).T  # Vᵀ = Σ⁻¹ Uᵀ B
    scores = q @ u_b * sig
    comps = np.zeros((len(order), n_cols))
    comps[:, valid] = comps_valid
    signs = np.sign(comps[np.arange(len(order)), np.abs(comps).argmax(1)])
    signs[signs == 0] = 1
    total = row_ss.sum()
    var = sig**2 / max(n_rows - 1, 1)
    ratio = sig**2 / total if total > 0 else np.zeros_like(sig)
    return PCAResult(scores * signs, comps * signs[:, None], var, ratio, row_ss, valid)

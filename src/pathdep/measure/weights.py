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
or WWᵀ) on the model's device, not from an SVD: for GPT-2 small (50 matrices:
the 50,257 x 768 embedding, the positions and 48 block matrices, every Gram
matrix 768 x 768) the SVDs took about 100 s per checkpoint on 2 CPU cores,
float64 Gram matrices and eigenvalues about 4 s, float32 ones about 1.65 s,
and now about 1.0 s (2 threads, idle; 2.7 -> 2.1 s at 1 thread; BENCHMARKS.md,
issue 17, "The last fixed costs"). Two things make the last step: only the
Gram matrix's lower triangle is formed (all eigvalsh reads), in four column
blocks, 10/16 of the flops and the same bits; and on a CPU with n > 1 torch
threads, n Python threads take one matrix each, single-threaded (the
eigenvalue problems, mostly matrix-vector work in the tridiagonal reduction,
gain little from a second thread inside one matrix; torch's thread count is
process-wide, so it is 1 while they run and set back after).

The Gram matrix and its
eigenvalues are taken in float32; a matrix whose float32 singular values
could be off by more than ``SV_RTOL`` of their sum (an a-posteriori bound:
an eigenvalue of a float32 Gram matrix is off by about eps32 * sqrt(k) *
λ_max, k its inner dimension, so a singular value s by that over 2s) is
done again in float64, as every matrix was before. Ill-conditioned or
rank-deficient matrices (whose small singular values the float32 Gram
matrix loses) take the float64 path; well-conditioned ones, as at
initialisation, agree with it to about 1e-7 (tests/measure/test_weights.py).
The L1 norm is each tensor's float32 sum of |w| (torch's cascade sum, relative
error about 2e-8 on GPT-2's embedding; float64 tensors in float64), added up in
float64; the L2 norm takes Σw² of a matrix as Σs² (its Gram matrix's trace), to
the same accuracy. Against float64 throughout (Gram matrices, eigenvalues and
sums) on a random-init GPT-2 small the statistics are off by 2.4e-8
(weight_l1), 1.1e-8 (weight_l2), 2.0e-8 (sv_mean), 3.1e-8 (sv_var) and 4.4e-7
(sv_max), relative: all well inside the 1e-4 allowed.

They are measured with the other per-checkpoint values (store variable
``weight_stats[run, step, wstat]``, docs/store.md; stores created before it
lack it) and are metrics of the training maps (analyze/training_maps.py); the
llc analysis also records them where it loads its checkpoints (table
``weights``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from pathdep.store.schema import WSTATS as STATS

SV_RTOL = 1e-4  # bound on the float32 error of a matrix's Σs, relative, before float64 is used
GRAM_BLOCKS = 4  # column blocks of a Gram matrix's lower triangle: 10/16 of the full flops
PARALLEL_MIN = 1 << 20  # weights below which the matrices are done in one thread


def _gram(w: Tensor) -> Tensor:
    """The smaller Gram matrix of 2-D ``w`` (WᵀW or WWᵀ), its lower triangle only (all that
    eigvalsh reads; the rest is 0): four column blocks, block i against blocks 0..i, so 10
    of the 16 block products, the same sums as the full product (bit-identical here)."""
    x = w if w.shape[0] >= w.shape[1] else w.T  # (k, n): G = xᵀx
    n = x.shape[1]
    g = torch.zeros(n, n, dtype=x.dtype, device=x.device)
    b = -(-n // GRAM_BLOCKS)
    for i0 in range(0, n, b):  # rows [i0, i1) of G, columns up to i1
        i1 = min(n, i0 + b)
        g[i0:i1, :i1] = x[:, i0:i1].T @ x[:, :i1]
    return g


def _gram_eigvals(w: Tensor) -> Tensor:
    """Eigenvalues (ascending) of the smaller Gram matrix of 2-D ``w``, in ``w``'s dtype."""
    return torch.linalg.eigvalsh(_gram(w), UPLO="L")


def singular_values(w: Tensor) -> Tensor:
    """Singular values of a 2-D ``w`` (float64, on its device): the square roots of the
    eigenvalues of the smaller of WᵀW and WWᵀ, in float32 where that is accurate to SV_RTOL
    (see the module docstring), else in float64."""
    lam = _gram_eigvals(w.float()).double()
    s = lam.clamp_min(0).sqrt()
    err = torch.finfo(torch.float32).eps * max(w.shape) ** 0.5 * lam[-1].clamp_min(0)
    bound = (err / (2 * s.clamp_min(err.sqrt()))).clamp_max(s.max()).sum()
    if bound > SV_RTOL * s.sum():
        s = _gram_eigvals(w.double()).clamp_min(0).sqrt()
    return s


def _l1(w: Tensor) -> float:
    """Σ|w| of one tensor: a float32 sum for any dtype but float64 (torch's cascade sum:
    relative error about 2e-8 on GPT-2's 38.6M-entry embedding; float32
    ``vector_norm(w, 1)`` accumulates naively and is 3e-2 off there), added up over tensors
    in float64."""
    if w.dtype == torch.float64:
        return float(torch.linalg.vector_norm(w, 1))
    return float(w.abs().sum(dtype=torch.float32))


def _matrix(w: Tensor) -> tuple[float, np.ndarray]:
    """(Σ|w|, singular values) of one 2-D parameter."""
    with torch.no_grad():
        return _l1(w), singular_values(w).cpu().numpy()


def _matrices(mats: list[Tensor]) -> list[tuple[float, np.ndarray]]:
    """:func:`_matrix` of each matrix. On a CPU with n > 1 torch threads and enough work, n
    Python threads take one matrix each, single-threaded (largest first): the eigenvalue
    problems (tridiagonal reduction, mostly matrix-vector work) gain little from a second
    thread within one matrix, almost 2x from one matrix per core. torch's thread count is
    process-wide, so it is 1 while they run and set back after."""
    n = torch.get_num_threads()
    if (n < 2 or len(mats) < 2 or sum(w.numel() for w in mats) < PARALLEL_MIN
            or any(w.device.type != "cpu" for w in mats)):
        return [_matrix(w) for w in mats]

    def one(w: Tensor) -> tuple[float, np.ndarray]:
        torch.set_num_threads(1)  # this thread's OpenMP/MKL setting, and torch's count
        return _matrix(w)

    order = sorted(range(len(mats)), key=lambda i: -mats[i].numel())
    try:
        with ThreadPoolExecutor(min(n, len(mats))) as ex:
            done = dict(zip(order, ex.map(one, [mats[i] for i in order]), strict=True))
    finally:
        torch.set_num_threads(n)
    return [done[i] for i in range(len(mats))]


def weight_stats(model) -> dict[str, float]:
    """The statistics of ``model``'s parameters (a torch module)."""
    l1 = sq = 0.0
    params = [p.detach() for p in model.parameters()]
    mats = _matrices([w for w in params if w.ndim == 2])
    svs = [s for _, s in mats]
    with torch.no_grad():
        for w in params:
            if w.ndim != 2:
                l1 += _l1(w)
                sq += float(torch.linalg.vector_norm(w, 2, dtype=torch.float64)) ** 2
    for a, s in mats:
        l1 += a
        sq += float(np.sum(np.square(s)))  # Σw² = Σs², no second pass over w
    s = np.concatenate(svs) if svs else np.array([np.nan])
    return {"weight_l1": l1, "weight_l2": float(np.sqrt(sq)), "sv_mean": float(s.mean()),
            "sv_var": float(s.var()), "sv_max": float(s.max())}


def weight_vector(model) -> np.ndarray:
    """:func:`weight_stats` in the order of the store's ``wstat`` (STATS)."""
    stats = weight_stats(model)
    return np.array([stats[k] for k in STATS], dtype=np.float64)

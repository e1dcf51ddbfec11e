"""Do runs fork at different tokens? A like-with-like comparison with a permutation test.

Each (run, prompt) scan is split into two halves of its samples per branch
(``forking.outcome_series(half=0/1)``), and forking tokens are found in each
half alone. For one prompt the overlaps form an R x R matrix

    B[i, j] = overlap(forks of run i's first half, forks of run j's second half)

whose diagonal is the within-run split-half overlap (sampling noise alone)
and whose off-diagonal compares two runs at the *same* sample size (n/2 per
branch against n/2). The earlier baseline set split-half overlaps (n/2 vs
n/2) against between-run overlaps of full scans (n vs n); fork detection is
more reliable with n samples, so runs that fork at different tokens could
overlap about as much as one run's halves (issue 14: two independent 30-sample
scans of one model overlap 0.92, its halves 0.36). Opposite halves are used
between runs as well as within, because every run samples with the same
seeds (row k of a branch draws the same random numbers in each run), so only
opposite halves are independent in both comparisons.

Statistic: T = mean over prompts of (mean diagonal − mean off-diagonal).
Under the null that the runs fork alike, the second halves are exchangeable
across runs, so permuting the columns of each prompt's B independently gives
T's null distribution (a permutation test, Good 2005, *Permutation,
Parametric and Bootstrap Tests of Hypotheses*, ch. 3). "Runs fork at
different tokens" is claimed at p < ``ALPHA``. Power: the same test applied
to the most different runs possible (observed diagonal, off-diagonal 0) must
reach ``ALPHA``, and a non-significant difference is read as "no more than
sampling noise" only when its interval (bootstrap over prompts) stays below
``MARGIN``; otherwise the suite cannot tell.
"""

from __future__ import annotations

import numpy as np

from pathdep.analysis import bootstrap
from pathdep.prompts import forking as fk

ALPHA = 0.05
MARGIN = 0.2  # a within-minus-between overlap below this counts as "about the same"
N_PERM = 2000


def half_matrix(halves: list[tuple[list[int], list[int]]]) -> np.ndarray:
    """B[i, j] = overlap(halves[i][0], halves[j][1]) (tol 1): (R, R)."""
    r = len(halves)
    return np.array([[fk.overlap(halves[i][0], halves[j][1], tol=1) for j in range(r)]
                     for i in range(r)]).reshape(r, r)


def _diag_off(b: np.ndarray) -> tuple[float, float]:
    r = len(b)
    d = float(np.trace(b)) / r
    return d, float((b.sum() - np.trace(b)) / (r * (r - 1)))


def _perm_p(mats: list[np.ndarray], n_perm: int, seed: int) -> float:
    """One-sided permutation p of T (columns of each matrix permuted independently)."""
    if not mats:
        return float("nan")
    rng = np.random.default_rng((seed, 14))  # a stream of its own, not the sampling seed's
    t_obs = np.mean([np.subtract(*_diag_off(b)) for b in mats])
    t = np.zeros(n_perm)
    for b in mats:
        r = len(b)
        total = b.sum()
        perms = np.argsort(rng.random((n_perm, r)), axis=1)  # column for each row's "diagonal"
        diag = b[np.arange(r)[None, :], perms].sum(1) / r
        t += diag - (total - diag * r) / (r * (r - 1))
    t /= len(mats)
    return float((1 + np.sum(t >= t_obs - 1e-12)) / (1 + n_perm))


def _oracle(b: np.ndarray) -> np.ndarray:
    """The same diagonal, no overlap between runs: the largest effect this suite could show."""
    o = np.zeros_like(b)
    np.fill_diagonal(o, np.diag(b))
    return o


def compare(halves: dict[str, list[tuple[list[int], list[int]] | None]], *, seed: int = 0,
            n_perm: int = N_PERM, n_boot: int = 500) -> dict:
    """Within- against between-run overlap of half-sample forks, per prompt.

    ``halves[prompt][run]``: the two half-sample fork lists of that run, or
    None where the run did not resample along the shared base path (it is
    left out of that prompt). Prompts with fewer than 2 runs are skipped.
    """
    mats = []
    for per_run in halves.values():
        ok = [h for h in per_run if h is not None]
        if len(ok) >= 2:
            mats.append(half_matrix(ok))
    if not mats:
        return {"n_prompts_compared": 0}
    diffs = np.array([np.subtract(*_diag_off(b)) for b in mats])

    def mean_diff(_r, w):
        return float((diffs * w).sum() / w.sum())

    diff = bootstrap.estimate(mean_diff, 1, len(diffs), n_boot=n_boot, seed=seed,
                              sample_runs=False)
    p = _perm_p(mats, n_perm, seed)
    p_best = _perm_p([_oracle(b) for b in mats], n_perm, seed)
    can_tell = p_best < ALPHA
    differ = bool(p < ALPHA)
    same = bool(not differ and can_tell and diff.high < MARGIN)
    return {"n_prompts_compared": len(mats), "within_minus_between": diff, "p_value": p,
            "p_value_if_disjoint": p_best, "alpha": ALPHA, "margin": MARGIN,
            "runs_fork_differently": differ, "runs_fork_alike": same}

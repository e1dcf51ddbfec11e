"""Agreement between every pair of runs on per-token values, with Multi-Bootstrap intervals.

Pearson's r is computed from per-sequence sufficient statistics (counts, sums,
sums of squares and cross-products), so resampling sequences is a weighted sum
and a bootstrap replicate costs almost nothing even for a million tokens.
Sequences, not single tokens, are the resampled items, because tokens of one
sequence are not independent. Spearman's ρ is Pearson's r on ranks; the ranks
are computed once on all tokens and kept fixed under resampling (a standard
approximation for large samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from pathdep.analysis import bootstrap
from pathdep.analysis.result import Interval


class PairStats:
    """Per-sequence sufficient statistics for the correlation of every pair of rows of X."""

    def __init__(self, x: np.ndarray, seq: np.ndarray):
        # x: (run, token); seq: (token,) sequence id of each token
        _, s = np.unique(seq, return_inverse=True)
        n_seq, n_runs = int(s.max()) + 1 if s.size else 0, x.shape[0]
        x = x - x.mean(1, keepdims=True)  # centred: sums stay well conditioned
        self.n = np.bincount(s, minlength=n_seq).astype(float)
        self.sx = np.stack([np.bincount(s, x[a], n_seq) for a in range(n_runs)])
        self.sxy = np.empty((n_runs, n_runs, n_seq))
        for a in range(n_runs):
            for b in range(a, n_runs):
                self.sxy[a, b] = self.sxy[b, a] = np.bincount(s, x[a] * x[b], n_seq)
        self.n_items = n_seq

    def corr(self, w: np.ndarray | None = None) -> np.ndarray:
        """(run, run) Pearson matrix with sequence weights ``w`` (None: all once)."""
        w = np.ones(self.n_items) if w is None else w
        n = self.n @ w
        mx = self.sx @ w / n
        cov = self.sxy @ w / n - mx[:, None] * mx[None, :]
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            return cov / (sd[:, None] * sd[None, :])


@dataclass
class Agreement:
    """Pairwise and mean agreement of runs, each number an Interval."""

    pairs: list[tuple[int, int]]
    pearson: list[Interval]
    spearman: list[Interval]
    pearson_mean: Interval
    spearman_mean: Interval
    pearson_matrix: np.ndarray


def _intervals(stats: PairStats, n_runs: int, n_boot: int, seed: int):
    iu = np.triu_indices(n_runs, 1)
    per_pair = bootstrap.estimate_many(lambda r, w: stats.corr(w)[iu], n_runs, stats.n_items,
                                       n_boot=n_boot, seed=seed, sample_runs=False)
    mean = bootstrap.estimate(lambda r, w: bootstrap.mean_over_pairs(stats.corr(w), r), n_runs,
                              stats.n_items, n_boot=n_boot, seed=seed)
    return per_pair, mean


def agreement(x: np.ndarray, seq: np.ndarray, *, n_boot: int = 500, seed: int = 0,
              rank: bool = True) -> Agreement:
    """Pearson (and Spearman, if ``rank``) of every pair of rows of ``x`` (run, token).

    Only tokens finite in every row are used. Pair intervals resample sequences;
    the mean over pairs resamples runs and sequences (Multi-Bootstrap).
    """
    ok = np.isfinite(x).all(0)
    x, seq = x[:, ok], np.asarray(seq)[ok]
    n_runs = x.shape[0]
    ps = PairStats(x, seq)
    p_pairs, p_mean = _intervals(ps, n_runs, n_boot, seed)
    if rank:
        rs = PairStats(np.stack([rankdata(v) for v in x]), seq)
        s_pairs, s_mean = _intervals(rs, n_runs, n_boot, seed)
    else:
        s_pairs, s_mean = [Interval(np.nan, np.nan, np.nan)] * len(p_pairs), Interval(np.nan, np.nan, np.nan)
    iu = np.triu_indices(n_runs, 1)
    return Agreement(list(zip(iu[0].tolist(), iu[1].tolist(), strict=True)), p_pairs, s_pairs,
                     p_mean, s_mean, ps.corr())

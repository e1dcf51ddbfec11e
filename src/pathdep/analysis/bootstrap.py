"""The Multi-Bootstrap over runs and items (Sellam et al., ICLR 2022; methods.md §8).

Every summary number an analysis reports carries an interval from here. One
bootstrap replicate resamples the runs (seeds) with replacement and, where the
statistic is over items (tokens, sequences, samples), resamples the items with
replacement too, sharing the same items across all runs, as
``multibootstrap.py`` in google-research/language does. A statistic sees the
replicate as ``(runs, weights)``: an index array into the runs (with repeats)
and per-item multiplicities (counts summing to the number of items), so
statistics built from per-item sums resample cheaply.

``compare`` is Sellam et al.'s paired test: the same resampled seeds on both
sides, percentile intervals of L, L' and δ = L' − L, and the one-sided p-value
mean(δ ≤ 0) floored at 1/n_boot (``report_ci``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pathdep.analysis.result import Interval

Statistic = Callable[[np.ndarray, "np.ndarray | None"], "float | np.ndarray"]
N_BOOT = 500  # Sellam et al.'s default nboot


def replicates(stat: Statistic, n_runs: int, n_items: int | None = None, *, n_boot: int = N_BOOT,
               seed: int = 0, sample_runs: bool = True, sample_items: bool = True) -> np.ndarray:
    """``stat`` on ``n_boot`` Multi-Bootstrap replicates: array (n_boot, *stat shape)."""
    rng = np.random.default_rng(seed)
    all_runs = np.arange(n_runs)
    ones = None if n_items is None else np.ones(n_items)
    out = []
    for _ in range(n_boot):
        r = rng.integers(0, n_runs, n_runs) if sample_runs else all_runs
        w = ones
        if n_items is not None and sample_items:
            w = np.bincount(rng.integers(0, n_items, n_items), minlength=n_items).astype(float)
        out.append(np.asarray(stat(np.sort(r), w), dtype=float))
    return np.stack(out) if out else np.empty((0,))


def interval(value: float, reps: np.ndarray, level: float = 0.95) -> Interval:
    """The plain percentile interval of the bootstrap replicates, beside the estimate ``value``.

    Not widened to contain ``value``: a widened interval is no longer a
    percentile interval and covers less often than its level says (issue 14).
    The percentile interval of a skewed statistic can miss the estimate; that
    is information about the statistic, shown as it is (Efron & Tibshirani
    1993, ch. 13).
    """
    reps = np.asarray(reps, dtype=float)
    reps = reps[np.isfinite(reps)]
    if not reps.size or not np.isfinite(value):
        return Interval(float(value), float("nan"), float("nan"), level, 0)
    lo, hi = np.quantile(reps, [(1 - level) / 2, 1 - (1 - level) / 2])
    return Interval(float(value), float(lo), float(hi), level, int(reps.size))


def estimate(stat: Statistic, n_runs: int, n_items: int | None = None, *, n_boot: int = N_BOOT,
             seed: int = 0, level: float = 0.95, **kw) -> Interval:
    """The statistic on all runs and items, with its Multi-Bootstrap interval."""
    ones = None if n_items is None else np.ones(n_items)
    value = float(stat(np.arange(n_runs), ones))
    return interval(value, replicates(stat, n_runs, n_items, n_boot=n_boot, seed=seed, **kw), level)


def estimate_many(stat: Statistic, n_runs: int, n_items: int | None = None, *,
                  n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95, **kw) -> list[Interval]:
    """Like ``estimate`` for a statistic returning a 1-D array: one Interval per entry."""
    ones = None if n_items is None else np.ones(n_items)
    values = np.atleast_1d(np.asarray(stat(np.arange(n_runs), ones), dtype=float))
    reps = replicates(stat, n_runs, n_items, n_boot=n_boot, seed=seed, **kw).reshape(-1, values.size)
    return [interval(v, reps[:, i], level) for i, v in enumerate(values)]


def mean_over_runs(values: np.ndarray, *, n_boot: int = N_BOOT, seed: int = 0,
                   level: float = 0.95, fn: Callable = np.nanmean) -> Interval:
    """``fn`` (default nan-mean) of per-run values, with an interval over resampled runs."""
    v = np.asarray(values, dtype=float)
    return estimate(lambda r, w: fn(v[r]) if np.isfinite(v[r]).any() else np.nan, len(v),
                    n_boot=n_boot, seed=seed, level=level)


def mean_over_pairs(matrix: np.ndarray, runs: np.ndarray) -> float:
    """Mean of a (run, run) matrix over pairs of distinct resampled runs.

    A run drawn twice does not pair with itself (self-agreement is trivial).
    """
    m = np.asarray(matrix)[np.ix_(runs, runs)]
    keep = runs[:, None] != runs[None, :]
    vals = m[keep]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else float("nan")


def compare(base: np.ndarray, expt: np.ndarray, *, paired: bool = True, n_boot: int = N_BOOT,
            seed: int = 0, level: float = 0.95) -> dict:
    """Sellam et al.'s paired comparison of per-run scores (methods.md §8, ``report_ci``).

    ``base`` and ``expt`` are (run,) or (run, item) arrays of scores; an item axis
    is resampled too (shared between sides). Returns Intervals for L, L' and
    δ = L' − L and the one-sided p = P(δ ≤ 0), floored at 1/n_boot.
    """
    b, e = np.asarray(base, dtype=float), np.asarray(expt, dtype=float)
    n_items = b.shape[1] if b.ndim == 2 else None
    rng = np.random.default_rng(seed + 1)

    def score(x, r, w):
        x = x[r]
        if x.ndim == 2:
            x = np.nansum(x * w, 1) / w.sum()
        return np.nanmean(x)

    def stat(r, w):
        r_e = r if paired else np.sort(rng.integers(0, len(e), len(e)))
        return np.array([score(b, r, w), score(e, r_e, w)])

    ones = None if n_items is None else np.ones(n_items)
    full = np.array([score(b, np.arange(len(b)), ones), score(e, np.arange(len(e)), ones)])
    reps = replicates(stat, len(b), n_items, n_boot=n_boot, seed=seed)
    delta = reps[:, 1] - reps[:, 0]
    p = max(float(np.mean(delta <= 0)), 1.0 / max(n_boot, 1))
    return {"base": interval(full[0], reps[:, 0], level), "expt": interval(full[1], reps[:, 1], level),
            "delta": interval(full[1] - full[0], delta, level), "p": p}

"""Latent training states: a Gaussian HMM over per-checkpoint metrics, its state count by BIC.

    from pathdep.analysis import latent_states as ls
    fit = ls.select(X, lengths, k_max=6, restarts=5, seed=0)   # X: (cell, metric), z-scored
    fit.states      # one state per cell, states numbered in the order runs reach them
    ls.path(fit.states[:lengths[0]])                          # run 0's path, e.g. (0, 1, 2)

This follows Hu, Chen, Saphra and Cho, "Latent State Models of Training
Dynamics" (TMLR 2023; code michahu/modeling-training, scripts/04_train_hmm):
``hmmlearn.hmm.GaussianHMM`` with diagonal covariances, fitted jointly to all
runs (one sequence per run, ``lengths=``), K = 1..K_max states, several
restarts per K (seeds ``seed * 1000 + restart``), the restart with the highest
log-likelihood kept, and K chosen by BIC. Hu et al. also hold out 20 % of the
runs and look at test log-likelihood and AIC; here BIC on all runs decides
(suites have a few runs, not 40), and the table keeps the AIC.

BIC = −2 ln L + p ln N, with N the number of cells (run × checkpoint
observations) and p the free parameters of a K-state, d-metric HMM with
diagonal covariances: K − 1 start probabilities, K(K − 1) transition
probabilities, K·d means and K·d variances, so p = K² − 1 + 2Kd (what
hmmlearn 0.3's ``GaussianHMM.bic`` counts). AIC = −2 ln L + 2p.

K_max is capped by what the data bears: p(K) < N and K at most the number of
distinct cells. States are renumbered by when runs visit them (the mean
relative position, 0 = first checkpoint, 1 = last, of the cells decoded in
each state), so state 0 is where training starts. A run's *path* is its
Viterbi state sequence with repeats collapsed (0 0 1 1 1 2 -> 0→1→2).
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
MIN_COVAR = 1e-3  # variance floor of each state (z-scored metrics: 0.03 sd)


def n_params(k: int, d: int) -> int:
    """Free parameters of a k-state GaussianHMM with diagonal covariances over d metrics."""
    return (k - 1) + k * (k - 1) + 2 * k * d


def k_cap(X: np.ndarray, k_max: int) -> int:
    """The largest K <= k_max that the data bears: p(K) < N, K <= distinct cells (>= 1)."""
    n, d = X.shape
    distinct = len(np.unique(np.round(X, 9), axis=0))
    ok = [k for k in range(1, k_max + 1) if n_params(k, d) < n and k <= distinct]
    return max(ok, default=1)


def zscore(X: np.ndarray, lengths: list[int], per_run: bool = False) -> np.ndarray:
    """Each column minus its mean, divided by its s.d.: over all cells, or within each run.

    A column constant within a run (per_run) becomes 0 there.
    """
    if not per_run:
        sd = X.std(0)
        return (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    out, start = np.empty_like(X), 0
    for n in lengths:
        out[start:start + n] = zscore(X[start:start + n], [n])
        start += n
    return out


def _fit_one(X: np.ndarray, lengths: list[int], k: int, seed: int, n_iter: int):
    """One restart: (model, log-likelihood), or (None, -inf) when hmmlearn fails."""
    from hmmlearn.hmm import GaussianHMM

    model = GaussianHMM(n_components=k, covariance_type="diag", min_covar=MIN_COVAR,
                        n_iter=n_iter, tol=1e-4, random_state=seed)
    hmm_log = logging.getLogger("hmmlearn")
    level = hmm_log.level
    hmm_log.setLevel(logging.ERROR)  # "Model is not converging": recorded as converged=False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty state: NaN means
            model.fit(X, lengths)
            ll = float(model.score(X, lengths))
    except (ValueError, np.linalg.LinAlgError) as e:  # a state left without cells
        log.debug("GaussianHMM k=%d seed=%d failed: %s", k, seed, e)
        return None, -np.inf
    finally:
        hmm_log.setLevel(level)
    return model, (ll if np.isfinite(ll) else -np.inf)


@dataclass
class Fit:
    """The chosen model, its decoded states (renumbered), and the model-selection table."""

    model: object  # hmmlearn.hmm.GaussianHMM
    k: int
    states: np.ndarray  # (cell,) int, renumbered
    selection: pd.DataFrame  # one row per K


def select(X: np.ndarray, lengths: list[int], k_max: int = 6, restarts: int = 5,
           seed: int = 0, n_iter: int = 500) -> Fit:
    """Fit K = 1..k_cap(X, k_max) states with ``restarts`` seeds each; keep the best BIC."""
    n, d = X.shape
    rows, best = [], {}
    for k in range(1, k_cap(X, k_max) + 1):
        fits = [_fit_one(X, lengths, k, seed * 1000 + r, n_iter) for r in range(restarts)]
        model, ll = max(fits, key=lambda f: f[1])
        if model is None:
            continue
        p = n_params(k, d)
        rows.append({"n_states": k, "log_likelihood": ll, "n_params": p,
                     "bic": -2 * ll + p * np.log(n), "aic": -2 * ll + 2 * p,
                     "restarts_ok": sum(f[0] is not None for f in fits),
                     "converged": bool(model.monitor_.converged)})
        best[k] = model
    table = pd.DataFrame(rows)
    k = int(table.loc[table["bic"].idxmin(), "n_states"])
    table["chosen"] = table["n_states"] == k
    states = order_states(best[k].predict(X, lengths), lengths)
    return Fit(best[k], k, states, table)


def order_states(states: np.ndarray, lengths: list[int]) -> np.ndarray:
    """States renumbered by the mean relative position (0..1 in each run) of their cells."""
    rel = np.concatenate([np.linspace(0, 1, n) if n > 1 else np.zeros(n) for n in lengths])
    used = np.unique(states)
    order = used[np.argsort([rel[states == s].mean() for s in used], kind="stable")]
    relabel = {int(s): i for i, s in enumerate(order)}
    return np.array([relabel[int(s)] for s in states], dtype=int)


def path(seq: np.ndarray) -> tuple[int, ...]:
    """The run-length-collapsed state sequence: (0, 0, 1, 1, 2) -> (0, 1, 2)."""
    seq = np.asarray(seq)
    if not seq.size:
        return ()
    keep = np.r_[True, seq[1:] != seq[:-1]]
    return tuple(int(s) for s in seq[keep])


def show(p: tuple[int, ...]) -> str:
    """A path as text: 0→1→2."""
    return "→".join(map(str, p))


def modal(paths: list[tuple[int, ...]]) -> tuple[tuple[int, ...], int]:
    """The most common path and its count; ties go to the shorter, then the smaller path."""
    counts = Counter(paths)
    best = min(counts, key=lambda p: (-counts[p], len(p), p))
    return best, counts[best]


def detour(p: tuple[int, ...], modal_path: tuple[int, ...]) -> str:
    """How ``p`` departs from the modal path, in words ("" when it follows it)."""
    if p == modal_path:
        return ""
    parts = []
    extra = sorted(set(p) - set(modal_path))
    missed = sorted(set(modal_path) - set(p))
    back = sorted(s for s, c in Counter(p).items() if c > 1)
    if extra:
        parts.append(f"visits state {', '.join(map(str, extra))}")
    if missed:
        parts.append(f"skips state {', '.join(map(str, missed))}")
    if back:
        parts.append(f"returns to state {', '.join(map(str, back))}")
    return " and ".join(parts) or "visits the same states in another order"


def transitions(states: np.ndarray, lengths: list[int]) -> Counter:
    """Counts of observed transitions a -> b (a != b) over all runs."""
    out: Counter = Counter()
    start = 0
    for n in lengths:
        p = path(states[start:start + n])
        out.update(zip(p[:-1], p[1:], strict=True))
        start += n
    return out

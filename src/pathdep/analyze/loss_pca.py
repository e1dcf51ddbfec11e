"""PCA of per-token losses jointly over all runs and checkpoints (Olsson et al. 2022, methods.md §1).

Each done (run, step) snapshot is a point in token space (its per-token loss
= −logprob over every evaluation token); PCA runs jointly over all snapshots
of all runs, out of core (``stream_pca``: snapshots are read from the store
one block at a time, so a million tokens × hundreds of checkpoints fit in
memory). Outputs: each run's trajectory in the first components, the share
of variance each component explains, and the tokens with the largest
positive and negative loadings per component, with their context.

The interval on a component's explained share resamples runs (all of a run's
snapshots together) and recomputes the PCA inside the fitted k-dimensional
subspace (an approximation that avoids re-reading the store). The spread of
runs' end points is the mean distance between runs' final snapshots divided
by the mean length of a run's trajectory, both in the first k components.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures, stream_pca, tokens
from pathdep.analysis.contract import Analysis, BootOptions, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult, Interval

log = logging.getLogger(__name__)


def _rows(ds: xr.Dataset) -> np.ndarray:
    """(n_snapshots, 2) (run index, step index) of every done job, run-major."""
    r, s = np.nonzero(data.done(ds))
    return np.stack([r, s], 1)


def _reader(ds: xr.Dataset, rows: np.ndarray):
    def read(block: np.ndarray) -> np.ndarray:
        return np.stack([-data.snapshot(ds, "logprob", int(rows[i, 0]), int(rows[i, 1]))
                         for i in block])
    return read


def _ratio_ci(pca: stream_pca.PCAResult, run_of: np.ndarray, n_runs: int, n_boot, seed):
    def stat(r, w):
        sel = np.concatenate([np.flatnonzero(run_of == i) for i in r])
        z = pca.scores[sel]
        mean = z.mean(0)
        total = pca.row_ss[sel].sum() - len(sel) * (mean @ mean)
        ev = np.sort(np.linalg.eigvalsh((z - mean).T @ (z - mean)))[::-1]
        return ev / total if total > 0 else np.full(len(ev), np.nan)
    return bootstrap.estimate_many(stat, n_runs, n_boot=n_boot, seed=seed)


def _spread(traj: np.ndarray, run_of: np.ndarray, n_runs: int, n_boot: int, seed: int) -> Interval:
    """Distance between runs' end points ÷ mean trajectory length (first k components)."""
    ends = np.stack([traj[np.flatnonzero(run_of == r)[-1]] for r in range(n_runs)])
    length = np.array([np.linalg.norm(np.diff(traj[run_of == r], axis=0), axis=1).sum()
                       for r in range(n_runs)])
    dist = np.linalg.norm(ends[:, None] - ends[None], axis=-1)

    def stat(r, w):
        return bootstrap.mean_over_pairs(dist, r) / length[r].mean()
    return bootstrap.estimate(stat, n_runs, n_boot=n_boot, seed=seed)


def _top_tokens(ds: xr.Dataset, comps: np.ndarray, n_top: int) -> pd.DataFrame:
    rows, n_pos = [], ds.sizes["pos"]
    for c, v in enumerate(comps):
        for sign, order in (("+", np.argsort(-v)[:n_top]), ("-", np.argsort(v)[:n_top])):
            ctx, strs = tokens.contexts(ds, order), tokens.strings(ds, order)
            rows += [{"component": f"PC{c + 1}", "sign": sign, "rank": k + 1, "seq": int(i // n_pos),
                      "pos": int(i % n_pos), "token": strs[k], "context": ctx[k], "loading": v[i]}
                     for k, i in enumerate(order)]
    return pd.DataFrame(rows)


def _figures(traj_df: pd.DataFrame, comp_df: pd.DataFrame) -> dict:
    figs = {"trajectories": figures.lines(traj_df, "PC1", "PC2", "run", title=(
        "Runs' trajectories in the first two components of per-token loss"))}
    long = traj_df.melt(id_vars=["run", "step"], value_vars=[c for c in traj_df if c in
                        ("PC1", "PC2", "PC3")], var_name="component", value_name="score")
    long["series"] = long["run"] + " " + long["component"]
    figs["scores_by_step"] = figures.lines(long, "step", "score", "series", log_x=True,
                                           title="Component scores over training")
    figs["explained"] = figures.bars(comp_df, "component", "explained_ratio", title=(
        "Share of variance explained"), err=("explained_low", "explained_high"))
    return figs


class LossPcaOptions(BootOptions):
    """Options of :func:`loss_pca`."""

    n_components: int = Field(10, ge=1, description="Principal components kept.")
    n_top: int = Field(10, ge=1, description="Tokens listed at each end of each component.")
    n_iter: int = Field(1, ge=0, description="Power iterations of the randomized PCA.")


def loss_pca(ds: xr.Dataset, options: LossPcaOptions | None = None, **overrides) -> AnalysisResult:
    """Joint PCA of per-token losses over all (run, step) snapshots, streamed from the store."""
    o = LossPcaOptions.build(options, **overrides)
    n_components, n_boot, seed, n_top, n_iter = o.n_components, o.n_boot, o.seed, o.n_top, o.n_iter
    data.require(ds, "logprob")
    rows = _rows(ds)
    if len(rows) < 3:
        raise data.Skip("fewer than three (run, step) snapshots are done")
    n_seq, n_pos = data.token_shape(ds)
    pca = stream_pca.randomized_pca(_reader(ds, rows), len(rows), n_seq * n_pos, n_components,
                                    n_iter=n_iter, seed=seed)
    k = pca.scores.shape[1]
    names, st = data.runs(ds), data.steps(ds)
    used = np.unique(rows[:, 0])
    run_of = np.searchsorted(used, rows[:, 0])
    pcs = [f"PC{i + 1}" for i in range(k)]
    traj = pd.DataFrame(pca.scores, columns=pcs)
    traj.insert(0, "step", st[rows[:, 1]])
    traj.insert(0, "run", [names[r] for r in rows[:, 0]])
    ratio = _ratio_ci(pca, run_of, len(used), n_boot, seed)
    comp_df = pd.DataFrame({"component": pcs, "explained_variance": pca.explained_variance,
                            "explained_ratio": pca.explained_ratio,
                            "explained_low": [i.low for i in ratio[:k]],
                            "explained_high": [i.high for i in ratio[:k]]})
    spread = _spread(pca.scores[:, : min(k, 3)], run_of, len(used), n_boot, seed)
    pc1 = Interval(pca.explained_ratio[0], ratio[0].low, ratio[0].high, n_boot=ratio[0].n_boot)
    second = f" and PC2 {pca.explained_ratio[1]:.0%}" if k > 1 else ""
    verdict = (f"Across {len(rows)} snapshots × {int(pca.valid.sum())} tokens, PC1 of per-token loss "
               f"explains {pc1.value:.0%} [{pc1.low:.0%}, {pc1.high:.0%}] of the variance{second}; "
               f"runs end {spread.value:.2g} [{spread.low:.2g}, {spread.high:.2g}] trajectory lengths "
               f"apart in the first components.")
    return AnalysisResult(
        name="loss_pca", question="A/H (PCA of per-token losses)", verdict=verdict,
        summary={"n_snapshots": len(rows), "n_tokens": int(pca.valid.sum()), "pc1_share": pc1,
                 "explained_ratio": [float(v) for v in pca.explained_ratio],
                 "end_spread": spread},
        tables={"trajectories": traj, "components": comp_df,
                "top_tokens": _top_tokens(ds, pca.components, n_top)},
        figures=_figures(traj, comp_df))


ANALYSIS = Analysis(
    "loss_pca",
    "What are the main directions of per-token loss over runs and checkpoints, and do runs' "
    "trajectories part?",
    label="A/H", section="pca", run=on_store(loss_pca),
    options=LossPcaOptions, inputs=StoreInputs(needs=("logprob",), min_runs=1))

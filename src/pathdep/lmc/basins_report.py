"""The basins analysis's decision and its words (lmc/basins.py measures the barriers).

    from pathdep.lmc.basins_report import from_matrix
    res = from_matrix(barrier, loss, BasinsOptions.build())   # the verdict from a matrix

Average-linkage clusters of the barrier matrix cut at the threshold are the
basins (Juneja et al., ICLR 2023, arXiv 2205.12411); :func:`from_matrix`
decides them from a matrix alone, which the calibration feeds simulated
barriers (:data:`pathdep.lmc.basins.SIMULATION`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
from scipy.spatial.distance import squareform

from pathdep.analysis.result import AnalysisResult, fmt
from pathdep.lmc import inputs
from pathdep.lmc.options import BasinsOptions
from pathdep.models import model_shape
from pathdep.suites import Run

BASINS = "basins"


def left_out_text(left_out: list[Run]) -> str:
    if not left_out:
        return ""
    types = sorted({str((model_shape(r) or {}).get("type")) for r in left_out})
    ids = ", ".join(r.id for r in left_out[:6]) + (", ..." if len(left_out) > 6 else "")
    return (f" {len(left_out)} run(s) of another architecture or size ({', '.join(types)}: {ids}) "
            "are left out: weights of different architectures cannot be interpolated, so "
            "there is no barrier between them; choose those runs (runs / --run) for their basins.")


def cluster(dist: np.ndarray, *, t: float, criterion: str) -> tuple[np.ndarray, np.ndarray]:
    """Average-linkage clusters of a distance matrix: (labels 1.., leaf order)."""
    d = np.maximum((dist + dist.T) / 2, 0)
    np.fill_diagonal(d, 0)
    z = linkage(squareform(d, checks=False), method="average")
    return fcluster(z, t=t, criterion=criterion), leaves_list(z)


def relabel(labels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Number clusters 1, 2, … in the order they first appear along ``order``."""
    new, out = {}, np.empty_like(labels)
    for i in order:
        new.setdefault(labels[i], len(new) + 1)
    for i, lab in enumerate(labels):
        out[i] = new[lab]
    return out


def heatmap(matrix: np.ndarray, ids: list[str], order: np.ndarray, basin: np.ndarray,
             title: str):
    labels = [f"{ids[i]} (basin {basin[i]})" for i in order]
    m = matrix[np.ix_(order, order)]
    fig = go.Figure(go.Heatmap(z=m, x=labels, y=labels, colorscale="Viridis",
                               colorbar={"title": "barrier (nats)"}))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"})
    return fig


@dataclass
class Matrix:
    """Barriers between every two chosen runs: Entezari's, Frankle's, endpoint losses, rows."""

    barrier: np.ndarray  # (n, n)
    frankle: np.ndarray  # (n, n)
    loss: np.ndarray  # (n,) each run's own loss
    rows: list[dict]


@dataclass
class Behaviour:
    """Behavioural clusters of the chosen runs and how they match the basins."""

    clusters: np.ndarray  # per run, -1 without behaviour
    ari: float | None
    probes: list[str]
    why: str  # why there is no ARI
    measured: bool


@dataclass
class Basins:
    """Everything the verdict and the summary of one basins analysis quote."""

    ids: list[str]
    n_suite_runs: int
    steps: list[int]
    shared: bool
    capped: bool
    m: Matrix
    basin: np.ndarray
    order: np.ndarray
    thr: float
    beh: Behaviour
    left_out: list[Run] = field(default_factory=list)  # runs of another architecture
    inits: list[str] = field(default_factory=list)  # init_of each chosen run
    method: str = "activations"  # BasinsOptions.align_method

    @property
    def n_basins(self) -> int:
        return int(self.basin.max())

    def within_between(self) -> tuple[np.ndarray, np.ndarray]:
        same = self.basin[:, None] == self.basin[None, :]
        return (self.m.barrier[same & ~np.eye(len(self.basin), dtype=bool)],
                self.m.barrier[~same])


def verdict(b: Basins) -> str:
    within, between = b.within_between()
    sizes = np.bincount(b.basin)[1:].tolist()
    where = (f"At step {b.steps[0]}" if b.shared else
             "At each run's last checkpoint (no step is shared by all runs)")
    runs = f"the {len(b.ids)} runs" + (f" (of {b.n_suite_runs}, evenly spread)"
                                          if b.capped else "")
    if b.n_basins == 1:
        text = (f"{where}, {runs} lie in one linearly connected basin (average-linkage cut at a "
                f"barrier of {b.thr:.3g} nats; largest pairwise barrier "
                f"{fmt(b.m.barrier.max())} nats)")
    else:
        text = (f"{where}, {runs} form {b.n_basins} linearly connected basins of sizes "
                f"{', '.join(map(str, sizes))} (average-linkage cut at a barrier of {b.thr:.3g} "
                f"nats): " + (f"mean barrier {fmt(within.mean())} nats within basins and "
                              if within.size else "no basin holds two runs; mean barrier ")
                + f"{fmt(between.mean())} nats between them")
    if b.beh.ari is not None:
        text += (f"; behavioural clusters of the same runs ({len(b.beh.probes)} probes, cut into "
                 f"{b.n_basins} groups) match the basins with adjusted Rand index "
                 f"{b.beh.ari:.2f}.")
    else:
        text += f"; {b.beh.why}, so basins are not compared with behavioural clusters."
    return text + _alignment_text(b) + left_out_text(b.left_out)


def _cross_init(b: Basins) -> dict | None:
    """What alignment did to the pairs of runs from different inits (None: no such pair)."""
    pairs = pd.DataFrame(b.m.rows)
    inits = dict(zip(b.ids, b.inits, strict=True))
    cross = pairs[[inits[x] != inits[y] for x, y in zip(pairs["run_a"], pairs["run_b"],
                                                         strict=True)]]
    if not len(cross):
        return None
    return {"pairs": len(cross), "aligned": int(cross["aligned"].sum()),
            "mean_unaligned": float(cross["barrier_unaligned"].mean()),
            "mean_barrier": float(cross["barrier"].mean()),
            "connected": int((cross["barrier"] <= b.thr).sum()),
            "connected_unaligned": int((cross["barrier_unaligned"] <= b.thr).sum())}


_METHOD_NAME = {"activations": "activation matching", "weights": "weight matching"}


def _alignment_text(b: Basins) -> str:
    c = _cross_init(b)
    if c is None:
        return ""
    mixed = any(len({b.inits[i] for i in np.flatnonzero(b.basin == k)}) > 1 for k in set(b.basin))
    if not c["aligned"]:
        if mixed:
            return ""
        return (" No basin holds two init seeds: runs from different initialisations were "
                "compared without permutation alignment (align = 'never'), so only runs that "
                "share an init could share a basin.")
    text = (f" Runs from different inits were permutation-aligned first ({_METHOD_NAME[b.method]}, "
            f"Ainsworth et al. 2023): over their {c['pairs']} pairs the mean barrier is "
            f"{fmt(c['mean_unaligned'])} nats unaligned and {fmt(c['mean_barrier'])} aligned, "
            f"and {c['connected']} pairs (unaligned: {c['connected_unaligned']}) are below the "
            "threshold")
    return text + ("; a basin holds runs of different inits." if mixed else
                   "; even aligned, no basin holds two inits.")


def summary(b: Basins, o: BasinsOptions, grid: np.ndarray, n_sequences: int, source: str
            ) -> dict:
    within, between = b.within_between()
    return {"n_runs": len(b.ids), "n_suite_runs": b.n_suite_runs, "n_basins": b.n_basins,
            "basin_sizes": np.bincount(b.basin)[1:].tolist(), "threshold": b.thr,
            "rel_threshold": o.rel_threshold, "threshold_given": o.threshold is not None,
            "step": b.steps[0] if b.shared else None, "shared_step": b.shared,
            "mean_barrier_within": float(within.mean()) if within.size else None,
            "mean_barrier_between": float(between.mean()) if between.size else None,
            "max_barrier": float(b.m.barrier.max()), "ari": b.beh.ari,
            "behavior": ({"probes": b.beh.probes, "cut": "same number of groups as basins"}
                         if b.beh.measured else None),
            "no_ari_reason": b.beh.why if b.beh.ari is None else "", "capped": b.capped,
            "left_out": [r.id for r in b.left_out],
            "align": o.align, "align_method": o.align_method, "cross_init": _cross_init(b),
            "alphas": [round(float(x), 6) for x in grid],
            "n_sequences": n_sequences, "tokens": source}


def tables(b: Basins) -> dict[str, pd.DataFrame]:
    ids = b.ids
    matrix = pd.DataFrame(b.m.barrier, columns=ids)
    matrix.insert(0, "run", ids)
    return {"assignments": pd.DataFrame({"run": ids, "step": b.steps, "loss": b.m.loss,
                                         "basin": b.basin, "behavior_cluster": b.beh.clusters}),
            "pairs": pd.DataFrame(b.m.rows), "matrix": matrix}


def result(b: Basins, o: BasinsOptions, grid: np.ndarray, n_sequences: int, source: str,
           figures: bool = True) -> AnalysisResult:
    """The analysis's result from its decided basins ``b``."""
    title = ("Loss barriers between runs, ordered by basin"
             + (f" (step {b.steps[0]})" if b.shared else " (last checkpoints)"))
    figs = ({"barrier_matrix": heatmap(b.m.barrier, b.ids, b.order, b.basin, title)}
            if figures else {})
    return AnalysisResult(BASINS, "C/D (basins)", verdict(b),
                          summary(b, o, grid, n_sequences, source), tables=tables(b), figures=figs)


def basins_of(barrier: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    """(basin per run, numbered 1.. along the leaf order; the leaf order): average linkage of
    the barrier matrix cut at ``thr`` nats."""
    basin, order = cluster(barrier, t=thr, criterion="distance")
    return relabel(basin, order), order


def from_matrix(barrier: np.ndarray, loss: np.ndarray, o: BasinsOptions, step: int = 1000,
                figures: bool = False) -> AnalysisResult:
    """The verdict on a barrier matrix between runs of one init at one ``step`` with endpoint
    losses ``loss`` and no behaviour (the calibration's input)."""
    n = len(loss)
    ids = [f"run{i}" for i in range(n)]
    rows = [{"run_a": ids[i], "run_b": ids[j], "step_a": step, "step_b": step,
             "loss_a": loss[i], "loss_b": loss[j], "barrier": barrier[i, j],
             "barrier_frankle": barrier[i, j], "alpha_max": 0.5, "aligned": False,
             "barrier_unaligned": barrier[i, j]} for i in range(n) for j in range(i + 1, n)]
    m = Matrix(barrier, barrier.copy(), np.asarray(loss, float), rows)
    thr = inputs.threshold(o, loss)
    basin, order = basins_of(barrier, thr)
    beh = Behaviour(np.full(n, -1), None, [], "the barriers are simulated (no behaviour)", False)
    b = Basins(ids, n, [step] * n, True, False, m, basin, order, thr, beh,
               inits=["seed=0"] * n, method=o.align_method)
    return result(b, o, inputs.alphas(o), 0, "simulated barriers", figures)

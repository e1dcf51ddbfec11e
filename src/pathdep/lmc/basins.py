"""Basins of Juneja et al. (ICLR 2023, arXiv 2205.12411) from loss barriers, beside behaviour.

    from pathdep.lmc import basins
    res = basins("runs/demo", runs=["seed*"], step=512)

The loss barrier between every two chosen runs at one step, clustered into
basins (linearly connected within, separated by barriers between), and
compared with behavioural clusters of the same runs.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
from scipy.spatial.distance import squareform
from sklearn.metrics import adjusted_rand_score

from pathdep.analysis.contract import Analysis, CheckpointInputs, Context
from pathdep.analysis.data import Skip
from pathdep.analysis.result import AnalysisResult, fmt
from pathdep.errors import PathdepError
from pathdep.lmc import inputs
from pathdep.lmc.barrier import loss_barrier
from pathdep.lmc.cache import CACHE_NAME, PathCache
from pathdep.lmc.options import BasinsOptions
from pathdep.models import model_shape
from pathdep.progress import bar
from pathdep.suites import Run, Suite, match_run_ids

log = logging.getLogger(__name__)

BASINS = "basins"


def _choose_runs(suite: Suite, runs, max_runs: int) -> tuple[list[Run], bool]:
    if runs:
        keep = set(match_run_ids(runs, suite.run_ids, f"suite {suite.name!r}"))
        chosen = [r for r in suite.runs if r.id in keep]
    else:
        chosen = [r for r in suite.runs if r.checkpoints]
    capped = len(chosen) > max_runs
    if capped:
        idx = np.unique(np.round(np.linspace(0, len(chosen) - 1, max_runs)).astype(int))
        log.warning("basins: %d runs; using %d evenly spread over the suite (raise max_runs for "
                    "more; the cost grows with the square)", len(chosen), len(idx))
        chosen = [chosen[i] for i in idx]
    return chosen, capped


def _one_architecture(chosen: list[Run]) -> tuple[list[Run], list[Run]]:
    """(runs kept, runs left out): the largest group of runs with one architecture and shape.

    Weights of two architectures (GPT-NeoX and GPT-2 in a suite that crosses
    ``arch``) or two sizes cannot be interpolated, so a barrier between them
    does not exist; basins are found among the runs of the largest group (ties:
    the first run's), and the others can be chosen with ``runs``.
    """
    keys = [tuple(sorted((model_shape(r) or {}).items())) for r in chosen]
    if len(set(keys)) < 2:
        return chosen, []
    counts = {k: keys.count(k) for k in keys}
    best = max(counts.values())
    keep = next(k for k in keys if counts[k] == best)
    return ([r for r, k in zip(chosen, keys, strict=True) if k == keep],
            [r for r, k in zip(chosen, keys, strict=True) if k != keep])


def _left_out_text(left_out: list[Run]) -> str:
    if not left_out:
        return ""
    types = sorted({str((model_shape(r) or {}).get("type")) for r in left_out})
    ids = ", ".join(r.id for r in left_out[:6]) + (", ..." if len(left_out) > 6 else "")
    return (f" {len(left_out)} run(s) of another architecture or size ({', '.join(types)}: {ids}) "
            "are left out: weights of different architectures cannot be interpolated, so "
            "there is no barrier between them; choose those runs (runs / --run) for their basins.")


def _choose_steps(runs: list[Run], step: int | None) -> tuple[list[int], bool]:
    """(step per run, shared?): ``step``, else the last step all runs have, else each run's last."""
    if step is not None:
        lacking = [r.id for r in runs if step not in r.steps]
        if lacking:
            raise PathdepError(f"runs {lacking[:10]} have no checkpoint at step {step}; choose a "
                               "step all chosen runs have, or choose the runs (--run)")
        return [int(step)] * len(runs), True
    common = set(runs[0].steps).intersection(*(r.steps for r in runs[1:]))
    if common:
        return [max(common)] * len(runs), True
    return [r.steps[-1] for r in runs], False


def _behaviour(ds, runs: list[Run], steps: list[int]) -> tuple[np.ndarray | None, list[str], str]:
    """(run, probe) behaviour at each run's step, the probes kept, and why None if absent."""
    if ds is None:
        return None, [], "no measurement store was given"
    if "behavior" not in ds.variables or "probe" not in ds.dims or ds.sizes["probe"] == 0:
        return None, [], "the store has no behaviour measurements"
    store_runs = [str(r) for r in ds["run"].values]
    store_steps = np.asarray(ds["step"].values, dtype=np.int64).tolist()
    done = (np.asarray(ds["done"].transpose("run", "step").values, bool)
            if "done" in ds.variables else None)
    beh = ds["behavior"].transpose("run", "step", "probe")
    rows = []
    for r, s in zip(runs, steps, strict=True):
        if r.id not in store_runs or s not in store_steps:
            return None, [], f"the store has no behaviour for run {r.id} at step {s}"
        ri, si = store_runs.index(r.id), store_steps.index(s)
        if done is not None and not done[ri, si]:
            return None, [], f"the store has no behaviour for run {r.id} at step {s} (not done)"
        rows.append(np.asarray(beh.isel(run=ri, step=si).values, dtype=np.float64))
    x = np.stack(rows)
    keep = np.isfinite(x).all(0)
    if not keep.any():
        return None, [], "the store's behaviour is not measured at this step"
    probes = [str(p) for p in np.asarray(ds["probe"].values)[keep]]
    return x[:, keep], probes, ""


def _cluster(dist: np.ndarray, *, t: float, criterion: str) -> tuple[np.ndarray, np.ndarray]:
    """Average-linkage clusters of a distance matrix: (labels 1.., leaf order)."""
    d = np.maximum((dist + dist.T) / 2, 0)
    np.fill_diagonal(d, 0)
    z = linkage(squareform(d, checks=False), method="average")
    return fcluster(z, t=t, criterion=criterion), leaves_list(z)


def _relabel(labels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Number clusters 1, 2, … in the order they first appear along ``order``."""
    new, out = {}, np.empty_like(labels)
    for i in order:
        new.setdefault(labels[i], len(new) + 1)
    for i, lab in enumerate(labels):
        out[i] = new[lab]
    return out


def _heatmap(matrix: np.ndarray, ids: list[str], order: np.ndarray, basin: np.ndarray,
             title: str):
    labels = [f"{ids[i]} (basin {basin[i]})" for i in order]
    m = matrix[np.ix_(order, order)]
    fig = go.Figure(go.Heatmap(z=m, x=labels, y=labels, colorscale="Viridis",
                               colorbar={"title": "barrier (nats)"}))
    fig.update_layout(title=title, yaxis={"autorange": "reversed"})
    return fig


@dataclass
class _Matrix:
    """Barriers between every two chosen runs: Entezari's, Frankle's, endpoint losses, rows."""

    barrier: np.ndarray  # (n, n)
    frankle: np.ndarray  # (n, n)
    loss: np.ndarray  # (n,) each run's own loss
    rows: list[dict]


def init_of(run: Run, suite: Suite) -> str:
    """The init a run's weights descend from: its root parent's seed (branches share their
    parent's init), or the run itself when no ``seed`` factor says."""
    seen = set()
    while run.factors.get("parent") not in (None, "") and run.id not in seen:
        seen.add(run.id)
        try:
            run = suite.run(str(run.factors["parent"]))
        except KeyError:
            break
    seed = run.factors.get("seed")
    return f"seed={seed}" if seed is not None else f"run={run.id}"


def _matrix(chosen: list[Run], steps: list[int], grid: np.ndarray, cache: PathCache,
            align: list[bool], method: str) -> _Matrix:
    """Barriers of every pair; ``align[k]`` (pair k in combinations order): the pair is
    permutation-aligned first, and its unaligned barrier is kept beside."""
    n = len(chosen)
    m = _Matrix(np.zeros((n, n)), np.zeros((n, n)), np.full(n, np.nan), [])
    with bar("basins: barrier matrix", total=n * (n - 1) // 2, info="") as pb:
        for k, (i, j) in enumerate(itertools.combinations(range(n), 2)):
            a, b = chosen[i], chosen[j]
            cka, ckb = a.checkpoint(steps[i]), b.checkpoint(steps[j])
            plain = cache.losses(a, cka, b, ckb)
            losses = cache.losses(a, cka, b, ckb, align=method) if align[k] else plain
            br, br0 = loss_barrier(grid, losses), loss_barrier(grid, plain)
            m.barrier[i, j] = m.barrier[j, i] = br.barrier
            m.frankle[i, j] = m.frankle[j, i] = br.frankle
            m.loss[i], m.loss[j] = plain[0], plain[-1]
            m.rows.append({"run_a": a.id, "run_b": b.id, "step_a": steps[i], "step_b": steps[j],
                           "loss_a": plain[0], "loss_b": plain[-1], "barrier": br.barrier,
                           "barrier_frankle": br.frankle, "alpha_max": br.alpha,
                           "aligned": bool(align[k]), "barrier_unaligned": br0.barrier})
            pb.advance(1, info=f"{a.id} vs {b.id}: {br.barrier:.3g}")
    return m


def _pairs_to_align(chosen: list[Run], suite: Suite, mode: str) -> list[bool]:
    inits = [init_of(r, suite) for r in chosen]
    return [mode == "always" or (mode == "auto" and inits[i] != inits[j])
            for i, j in itertools.combinations(range(len(chosen)), 2)]


@dataclass
class _Behaviour:
    """Behavioural clusters of the chosen runs and how they match the basins."""

    clusters: np.ndarray  # per run, -1 without behaviour
    ari: float | None
    probes: list[str]
    why: str  # why there is no ARI
    measured: bool


def _behaviour_clusters(ds, chosen: list[Run], steps: list[int], basin: np.ndarray) -> _Behaviour:
    beh, probes, why = _behaviour(ds, chosen, steps)
    if beh is None:
        return _Behaviour(np.full(len(chosen), -1), None, probes, why, False)
    n_basins = int(basin.max())
    diff = beh[:, None, :] - beh[None, :, :]
    cl, order = _cluster(np.sqrt((diff ** 2).sum(-1)), t=n_basins, criterion="maxclust")
    cl = _relabel(cl, order)
    if n_basins > 1:
        return _Behaviour(cl, float(adjusted_rand_score(basin, cl)), probes, why, True)
    return _Behaviour(cl, None, probes,
                      "with a single basin there is no split to compare with behaviour", True)


@dataclass
class _Basins:
    """Everything the verdict and the summary of one basins analysis quote."""

    chosen: list[Run]
    n_suite_runs: int
    steps: list[int]
    shared: bool
    capped: bool
    m: _Matrix
    basin: np.ndarray
    order: np.ndarray
    thr: float
    beh: _Behaviour
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


def _verdict(b: _Basins) -> str:
    within, between = b.within_between()
    sizes = np.bincount(b.basin)[1:].tolist()
    where = (f"At step {b.steps[0]}" if b.shared else
             "At each run's last checkpoint (no step is shared by all runs)")
    runs = f"the {len(b.chosen)} runs" + (f" (of {b.n_suite_runs}, evenly spread)"
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
    return text + _alignment_text(b) + _left_out_text(b.left_out)


def _cross_init(b: _Basins) -> dict | None:
    """What alignment did to the pairs of runs from different inits (None: no such pair)."""
    pairs = pd.DataFrame(b.m.rows)
    inits = {r.id: b.inits[k] for k, r in enumerate(b.chosen)}
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


def _alignment_text(b: _Basins) -> str:
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


def _summary(b: _Basins, o: BasinsOptions, grid: np.ndarray, inp: inputs.Inputs) -> dict:
    within, between = b.within_between()
    return {"n_runs": len(b.chosen), "n_suite_runs": b.n_suite_runs, "n_basins": b.n_basins,
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
            "n_sequences": int(inp.tokens.shape[0]), "tokens": inp.source}


def _tables(b: _Basins) -> dict[str, pd.DataFrame]:
    ids = [r.id for r in b.chosen]
    matrix = pd.DataFrame(b.m.barrier, columns=ids)
    matrix.insert(0, "run", ids)
    return {"assignments": pd.DataFrame({"run": ids, "step": b.steps, "loss": b.m.loss,
                                         "basin": b.basin, "behavior_cluster": b.beh.clusters}),
            "pairs": pd.DataFrame(b.m.rows), "matrix": matrix}


def basins(suite: Suite | str | Path, store=None, options: BasinsOptions | None = None, *,
           cache_dir: str | Path | None = None, **overrides) -> AnalysisResult:
    """Basins of Juneja et al. (ICLR 2023, arXiv 2205.12411) and their behavioural match.

    The Entezari loss barrier between every two of the chosen runs (``runs``:
    ids or glob patterns; default all, at most ``max_runs`` evenly spread) at one
    ``step`` (default: the last step all have; if none is shared, each run's last
    checkpoint, said in the verdict). The barrier matrix is clustered with scipy's
    average linkage, barrier as the distance, cut at ``threshold`` nats (default
    ``rel_threshold`` = 2% of the runs' mean loss): runs in one basin are linearly
    connected on average, runs in different basins are separated by a barrier.

    Behavioural clusters: the runs' ``behavior`` vectors (probe accuracies) from
    the store at the same steps, clustered with average linkage on Euclidean
    distance and cut into the same number of groups as there are basins (so the
    two partitions have equal granularity and no second threshold is needed);
    the adjusted Rand index (sklearn) compares them. With a single basin, or
    without behaviour in the store, the ARI is left out and the verdict says why.
    Options: :class:`~pathdep.lmc.options.BasinsOptions`; loss paths are cached in
    ``cache_dir``.
    """
    o = inputs.options(BasinsOptions, options, overrides)  # a missing device fails here
    suite = inputs.as_suite(suite)
    chosen, capped = _choose_runs(suite, o.runs, o.max_runs)
    chosen, left_out = _one_architecture(chosen)
    if left_out:
        log.warning("basins:%s", _left_out_text(left_out))
    if len(chosen) < 2:
        raise Skip(f"basins need at least 2 runs with checkpoints; suite {suite.name!r} has "
                   f"{len(chosen)}" + (" of one architecture." + _left_out_text(left_out)
                                       if left_out else ""))
    steps, shared = _choose_steps(chosen, o.step)
    inp = inputs.eval_inputs(suite, store, o.n_sequences)
    grid = inputs.alphas(o)
    cache = PathCache(inp.tokens, grid, batch_size=o.batch_size, cache_dir=cache_dir,
                      device=o.device, dtype=o.dtype)
    m = _matrix(chosen, steps, grid, cache, _pairs_to_align(chosen, suite, o.align),
                o.align_method)
    thr = inputs.threshold(o, m.loss)
    basin, order = _cluster(m.barrier, t=thr, criterion="distance")
    basin = _relabel(basin, order)
    b = _Basins(chosen, len(suite.runs), steps, shared, capped, m, basin, order, thr,
                _behaviour_clusters(inp.ds, chosen, steps, basin), left_out,
                [init_of(r, suite) for r in chosen], o.align_method)
    verdict = _verdict(b)
    title = ("Loss barriers between runs, ordered by basin"
             + (f" (step {steps[0]})" if shared else " (last checkpoints)"))
    log.info("basins: %s", verdict)
    return AnalysisResult(BASINS, "C/D (basins)", verdict, _summary(b, o, grid, inp),
                          tables=_tables(b),
                          figures={"barrier_matrix": _heatmap(m.barrier, [r.id for r in chosen],
                                                              order, basin, title)})


def _applies(ctx: Context, o: BasinsOptions) -> str | None:
    n = len([r for r in ctx.suite.runs if r.checkpoints])
    if o.runs or n >= 3:
        return None
    return (f"basins compare 3 or more runs (or the runs you choose); the suite has {n} with "
            "checkpoints")


def _run(ctx: Context, o: BasinsOptions) -> AnalysisResult:
    return basins(ctx.suite, inputs.shared(ctx, o.n_sequences), o,
                  cache_dir=ctx.cache_dir(CACHE_NAME))


ANALYSIS = Analysis(
    BASINS,
    "C/D: do runs lie in linearly connected basins, and do the basins match behavioural "
    "clusters?",
    label="C/D", section="clusters", run=_run, options=BasinsOptions,
    inputs=CheckpointInputs("one checkpoint of every chosen run (3+ runs)", _applies),
    command="barriers")

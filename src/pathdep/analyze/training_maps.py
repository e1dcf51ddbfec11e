"""C/D. Training maps: the latent states each run passes through, and which runs take detours.

    pathdep analyze STORE --only training_maps

Hu, Chen, Saphra and Cho, "Latent State Models of Training Dynamics" (TMLR
2023; code michahu/modeling-training) fit a Gaussian HMM to per-checkpoint
metrics of many runs, so that each run becomes a sequence of latent training
states; runs that share a path through the states train alike, and runs that
visit other states take *detours* (PolyPythias, van der Wal et al. ICLR 2025:
8 of 10 Pythia-410M seeds share one path). The model, its state count (BIC)
and the paths are in :mod:`pathdep.analysis.latent_states`.

Metrics, one per (run, checkpoint), all from the store: the eval ``loss``,
``train_loss``, the ``icl_score``, each behaviour probe (``behavior:<probe>``)
and, per head-score kind, the best head's score (``heads:max_<kind>``; heads
are not aligned across runs, so only the maximum is comparable) and, in stores
measured with them, five of Hu et al.'s weight statistics
(``weights:<stat>``: L1 and L2 norm, mean, variance and maximum of the
singular values of the weight matrices; measure/weights.py). A metric is dropped (and named, in the ``metrics``
table) when it is constant or measured in fewer than half of the measured
cells; a cell enters the model when every kept metric is finite there.

Each metric is z-scored over all (run, checkpoint) cells by default, so a run
whose metrics sit apart from the others' can land in states of its own;
``zscore = "per_run"`` z-scores within each run instead, as Hu et al.'s code
does (methods.md §3), which keeps only each run's shape over time.

Verdict: k of n runs follow the modal path (the most common path), with a
Wilson 95 % interval for the share (scipy's ``binomtest``), and the runs
that take detours with how they depart from it. With fewer than 3 runs, or
when BIC chooses one state, the map cannot tell and says so.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field
from scipy.stats import binomtest

from pathdep.analysis import data, figures, properties, simulate
from pathdep.analysis import latent_states as ls
from pathdep.analysis.contract import Analysis, Options, Simulation, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult, Interval

log = logging.getLogger(__name__)
MIN_RUNS = 3  # fewer runs: a modal path and detours cannot be told apart
MIN_COVERAGE = 0.5  # a metric measured in fewer of the measured cells is dropped
MAX_NAMED = 8  # detour paths described in the verdict


class TrainingMapsOptions(Options):
    """Options of :func:`training_maps`."""

    max_states: int = Field(6, ge=1, le=12, description="Largest number of HMM states tried "
                            "(capped where the free parameters reach the number of cells).")
    restarts: int = Field(5, ge=1, le=50, description="Restarts (random initialisations) per "
                          "state count; the best log-likelihood is kept.")
    n_iter: int = Field(500, ge=1, description="Most EM iterations of one fit.")
    zscore: Literal["pooled", "per_run"] = Field(
        "pooled", description="Z-score each metric over all (run, checkpoint) cells, or within "
        "each run (Hu et al.'s code).")
    seed: int = Field(0, description="Seed of the restarts (seed * 1000 + restart).")


def metric_table(ds: xr.Dataset) -> xr.DataArray:
    """(run, step, metric): the scalar properties, plus ``train_loss`` and the weight
    statistics where the store has them."""
    cols = []
    if any(data.has_values(ds, v) for v in PROPS):
        cols.append(properties.scalar_properties(ds))
    if data.has_values(ds, "train_loss"):
        t = data.masked(ds, "train_loss").transpose("run", "step").values[..., None]
        cols.append(xr.DataArray(t, dims=("run", "step", "property"),
                                 coords={"run": ds["run"].values, "step": ds["step"].values,
                                         "property": ["train_loss"],
                                         "family": ("property", ["train_loss"])}))
    if data.has_values(ds, "weight_stats"):
        w = data.masked(ds, "weight_stats").transpose("run", "step", "wstat")
        names = [f"weights:{k}" for k in w["wstat"].values]
        cols.append(xr.DataArray(w.values, dims=("run", "step", "property"),
                                 coords={"run": ds["run"].values, "step": ds["step"].values,
                                         "property": names,
                                         "family": ("property", ["weights"] * len(names))}))
    if not cols:
        raise data.Skip("the store has no loss, train_loss, icl_score, behavior, head_score "
                        "or weight_stats")
    return xr.concat(_same_coords(cols), dim="property") if len(cols) > 1 else cols[0]


def _same_coords(cols: list[xr.DataArray]) -> list[xr.DataArray]:
    """Each column with every per-property coordinate of the others (behaviour's ``chance``
    and ``n_items``), filled with NaN, 0 or "" where it has none, so they concatenate."""
    extra = {}
    for c in cols:
        for name, v in c.coords.items():
            if name != "property" and v.dims == ("property",):
                extra.setdefault(name, v.dtype)
    fill = {"f": np.nan, "i": 0, "U": ""}
    return [c.assign_coords({n: ("property", np.full(c.sizes["property"], fill.get(dt.kind, ""),
                                                     dtype=dt))
                             for n, dt in extra.items() if n not in c.coords}) for c in cols]


def choose_metrics(P: xr.DataArray) -> tuple[list[str], pd.DataFrame]:
    """The metrics kept, and a table of every metric with its coverage and why it was dropped."""
    v = P.transpose("run", "step", "property").values
    measured = np.isfinite(v).any(-1)
    rows, keep = [], []
    for j, name in enumerate(P["property"].values):
        x = v[..., j][measured]
        cov = float(np.isfinite(x).mean()) if x.size else 0.0
        sd = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
        why = ("measured in fewer than half of the cells" if cov < MIN_COVERAGE else
               "constant" if not sd > 0 else "")
        rows.append({"metric": str(name), "coverage": cov, "sd": sd, "used": not why,
                     "dropped_because": why})
        if not why:
            keep.append(str(name))
    return keep, pd.DataFrame(rows)


def cells(P: xr.DataArray, keep: list[str]) -> tuple[np.ndarray, list[int], pd.DataFrame]:
    """X (cell, metric) in run order then step order, each run's length, and (run, step) ids.

    Runs with fewer than 2 complete cells are left out (they have no path).
    """
    v = P.sel(property=keep).transpose("run", "step", "property").values
    runs, steps = [str(r) for r in P["run"].values], np.asarray(P["step"].values)
    X, lengths, ids = [], [], []
    for r, name in enumerate(runs):
        ok = np.flatnonzero(np.isfinite(v[r]).all(-1))
        if ok.size < 2:
            continue
        X.append(v[r, ok])
        lengths.append(int(ok.size))
        ids += [{"run": name, "step": int(steps[i])} for i in ok]
    if not X:
        raise data.Skip("no run has 2 or more checkpoints with every metric measured")
    return np.concatenate(X), lengths, pd.DataFrame(ids)


def _per_run(ids: pd.DataFrame, states: np.ndarray, lengths: list[int]) -> pd.DataFrame:
    """One row per run: its path, the steps at which it enters each new state, its cells."""
    rows, start = [], 0
    for n in lengths:
        seq, st = states[start:start + n], ids["step"].to_numpy()[start:start + n]
        enter = np.flatnonzero(np.r_[False, seq[1:] != seq[:-1]])
        rows.append({"run": ids["run"].iloc[start], "path": ls.show(ls.path(seq)),
                     "n_transitions": int(enter.size),
                     "transition_steps": " ".join(str(int(st[i])) for i in enter),
                     "n_checkpoints": n})
        start += n
    return pd.DataFrame(rows)


def _paths(per_run: pd.DataFrame) -> tuple[pd.DataFrame, tuple[int, ...], int]:
    """per_run with follows_modal and detour columns; the modal path and its count."""
    paths = [tuple(int(s) for s in p.split("→")) for p in per_run["path"]]
    mode, count = ls.modal(paths)
    out = per_run.assign(follows_modal=[p == mode for p in paths],
                         detour=[ls.detour(p, mode) for p in paths])
    return out, mode, count


def _share(k: int, n: int) -> Interval:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Interval(k / n, float(ci.low), float(ci.high), 0.95, 0)


def _verdict(s: dict, per_run: pd.DataFrame) -> str:
    n, k_states, modal = s["n_runs"], s["n_states"], s["modal_path"]
    where = (f"BIC chose {k_states} of 1..{s['k_max']} states over {s['n_metrics']} z-scored "
             f"metrics ({s['zscore']})")
    if k_states == s["k_max"] < s["max_states"]:
        where += f", the most that {s['n_cells']} cells bear"
    if s.get("branches_left_out"):
        n_b = len(s["branches_left_out"])
        where += (f"; {n_b} branch run{'s' if n_b != 1 else ''} left out (they start "
                  "mid-training)")
    if s["runs_left_out"]:
        where += (f"; left out: {', '.join(s['runs_left_out'])} (fewer than 2 checkpoints with "
                  "every metric measured)")
    if k_states == 1:
        return (f"{where}: every run stays in one state, so the training map is uninformative "
                "and claims no detours.")
    if n < MIN_RUNS:
        return (f"With {n} run(s) a training map cannot tell a modal path from detours "
                f"(at least {MIN_RUNS} needed); {where}.")
    if s["n_follow"] == 1:
        return (f"No two of the {n} runs share a path through the states, so there is no modal "
                f"path to follow; {where}.")
    lead = (f"{s['n_follow']} of {n} runs follow the modal path {modal} (share "
            f"{s['share_follow']}, Wilson 95 %)")
    det = per_run[~per_run["follows_modal"]]
    if not len(det):
        return f"{lead}; no run takes a detour; {where}."
    groups = list(det.groupby("path", sort=False))  # runs that share a detour path together

    def who(g: pd.DataFrame) -> str:  # names, or a count when there are many
        r = list(g["run"])
        return ", ".join(r) if len(r) <= 3 else f"{len(r)} runs ({', '.join(r[:2])}, ...)"

    named = [f"{who(g)}: {p}, {g['detour'].iloc[0]}" for p, g in groups[:MAX_NAMED]]
    more = (f"; {len(groups) - MAX_NAMED} more paths in the paths table"
            if len(groups) > MAX_NAMED else "")
    verb = "takes a detour" if len(det) == 1 else "take detours"
    runs = ", ".join(det["run"]) if len(det) <= 3 else f"{len(det)} runs"
    return f"{lead}; {runs} {verb} ({'; '.join(named)}{more}); {where}."


def _figures(ids: pd.DataFrame, states: np.ndarray, lengths: list[int], steps: np.ndarray,
             mode: tuple[int, ...]) -> dict:
    """The state timeline, and the map: modal-path states on a line, the others off it."""
    runs = list(dict.fromkeys(ids["run"]))
    grid = np.full((len(runs), len(steps)), np.nan)
    col = {int(s): j for j, s in enumerate(steps)}
    for (run, step), s in zip(ids[["run", "step"]].itertuples(index=False), states, strict=True):
        grid[runs.index(run), col[int(step)]] = s
    rel = np.concatenate([np.linspace(0, 1, n) for n in lengths])
    off = [s for s in np.unique(states) if s not in mode]
    nodes = pd.DataFrame([{"state": s, "x": float(rel[states == s].mean()),
                           "y": 0.0 if s in mode else 0.6 * (-1) ** off.index(s),
                           "visits": int((states == s).sum())} for s in np.unique(states)])
    edges = pd.DataFrame([{"source": a, "target": b, "count": c} for (a, b), c in
                          sorted(ls.transitions(states, lengths).items())],
                         columns=["source", "target", "count"])
    return {"state_timeline": figures.timeline(grid, runs, steps,
                                               title="Latent training state per run and step"),
            "training_map": figures.state_graph(
                nodes, edges, title="Training map: states and the transitions runs make")}


def _without_branches(ds: xr.Dataset) -> tuple[xr.Dataset, list[str]]:
    """The store without branch runs (factor ``parent`` set), and their names: a branch
    starts mid-training, so its path would begin in a later state and read as a detour."""
    if "factor_parent" not in ds.coords:
        return ds, []
    parent = np.asarray(ds["factor_parent"].values).astype(str)
    branch = (parent != "") & (parent != "nan") & (parent != "None")
    return ds.isel(run=np.flatnonzero(~branch)), [str(r) for r in ds["run"].values[branch]]


def training_maps(ds: xr.Dataset, options: TrainingMapsOptions | None = None,
                  **overrides) -> AnalysisResult:
    """Each run's path through the latent states of a Gaussian HMM; the modal path and detours."""
    o = TrainingMapsOptions.build(options, **overrides)
    ds, branches = _without_branches(ds)
    P = metric_table(ds)
    keep, metrics = choose_metrics(P)
    if not keep:
        raise data.Skip("no metric varies over the measured cells")
    X, lengths, ids = cells(P, keep)
    Z = ls.zscore(X, lengths, per_run=o.zscore == "per_run")
    fit = ls.select(Z, lengths, o.max_states, o.restarts, o.seed, o.n_iter)
    per_run, mode, count = _paths(_per_run(ids, fit.states, lengths))
    n = len(lengths)
    left_out = [r for r in data.runs(ds) if r not in set(per_run["run"])]
    detours = per_run.loc[~per_run["follows_modal"], "run"].tolist()
    s = {"n_runs": n, "n_states": fit.k, "k_max": int(fit.selection["n_states"].max()),
         "max_states": o.max_states,
         "n_metrics": len(keep), "metrics": keep, "zscore": o.zscore,
         "dropped_metrics": metrics.loc[~metrics["used"], "metric"].tolist(),
         "runs_left_out": left_out, "branches_left_out": branches,
         "n_cells": int(len(X)), "modal_path": ls.show(mode),
         "n_follow": count, "share_follow": _share(count, n), "level": 0.95,
         "detour_runs": detours,
         "informative": bool(fit.k > 1 and n >= MIN_RUNS and count > 1)}
    if not s["informative"]:
        s["detour_runs"] = []
    modal = pd.DataFrame([{"modal_path": s["modal_path"], "n_follow": count, "n_runs": n,
                           "share": s["share_follow"].value, "share_low": s["share_follow"].low,
                           "share_high": s["share_follow"].high, "n_states": fit.k,
                           "n_metrics": len(keep), "n_cells": len(X),
                           "n_detours": len(s["detour_runs"])}])
    states = ids.assign(state=fit.states,
                        enters_state=np.r_[True, (fit.states[1:] != fit.states[:-1])
                                     | (ids["run"].to_numpy()[1:] != ids["run"].to_numpy()[:-1])])
    log.info("training_maps: %d states by BIC over %d cells; modal path %s (%d of %d runs)",
             fit.k, len(X), s["modal_path"], count, n)
    return AnalysisResult(
        name="training_maps", question="C/D (training maps)", verdict=_verdict(s, per_run),
        summary=s, tables={"modal_path": modal, "paths": per_run, "states": states,
                           "model_selection": fit.selection, "metrics": metrics},
        figures=_figures(ids, fit.states, lengths, data.steps(ds), mode))


SIM_MEANS = np.array([[3.0, -0.05, 0.1, 0.1], [2.2, -0.3, 0.5, 0.2], [1.6, -0.4, 0.9, 0.8]])
SIM_NOISE = np.array([0.05, 0.02, 0.02, 0.02])  # loss, icl_score, two probes: demo-sized noise


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """Runs through three states 0 -> 1 -> 2 over 13 log-spaced checkpoints, entering state 1 at
    checkpoint 3-5 and state 2 at 7-9 (drawn per run); planted: one run in four (at least one)
    returns to state 0 for two checkpoints after entering state 1."""
    rng = np.random.default_rng(seed)
    n_steps = 13
    seqs = np.zeros((n_runs, n_steps), int)
    for r in range(n_runs):
        one, two = rng.integers(3, 6), rng.integers(7, 10)
        seqs[r, one:] = 1
        seqs[r, two:] = 2
        if planted and r < max(1, n_runs // 4):
            seqs[r, one + 1:one + 3] = 0
    y = SIM_MEANS[seqs] + rng.normal(0, 1, (n_runs, n_steps, 4)) * SIM_NOISE
    ds = simulate.store(n_runs, simulate.log_steps(n_steps), seed=seed)
    ds = simulate.with_behavior(ds, {"p0": y[..., 2], "p1": y[..., 3]})
    return ds.assign(loss=(("run", "step"), y[..., 0].astype(np.float32)),
                     icl_score=(("run", "step"), y[..., 1].astype(np.float32)))


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("detour_runs")),
    effect="one run in four returning to the first of 3 states for 2 of 13 checkpoints",
    options={"restarts": 3})

ANALYSIS = Analysis(
    "training_maps",
    "C/D: through which latent training states does each run pass (a Gaussian HMM over its "
    "metrics), and which runs leave the modal path?",
    label="C/D", section="clusters", run=on_store(training_maps),
    options=TrainingMapsOptions,
    inputs=StoreInputs(any_of=(*PROPS, "train_loss", "weight_stats"), min_runs=1),
    simulation=SIMULATION)

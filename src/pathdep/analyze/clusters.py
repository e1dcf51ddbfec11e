"""C/D. Distinct clusters across runs, and from when each run's membership is fixed (seed 001).

For each property, the runs' final values are tested for two clusters by
SigClust (``analysis/bimodality.py``: the share of variance left by the best
split into two groups, against its distribution on one Gaussian sample of the
same size; Liu et al. 2008), with the p-values Holm-adjusted over the
properties tested (Holm 1979), so the claim "some property splits the runs"
keeps its 5 % level however many properties there are. A property is
*clustered* when its adjusted p < ``alpha`` and the smaller group holds at
least max(2, 10 %) of the runs (one outlying run is not a cluster), *possibly
clustered* when only the dip test (Hartigan) or a 1-vs-2 Gaussian mixture
(ΔBIC > 0) says so, *continuous* otherwise. The dip test and ΔBIC are in the
table for description; neither decides (ΔBIC > 0 alone fires on 11-22 % of
Gaussian samples of 4-16 runs). The verdict says when the suite has too few
runs to find clusters (power from docs/calibration.md).

Stability (D): at every step, the runs done there are split in two by the
optimal one-dimensional two-means cut, and the split is oriented to agree
best with the final clusters. A run's membership is fixed from the first step
after which its label always equals its final label; the property's clusters
are stable from the latest such step over runs. Intervals: the median
lock-in step over runs, resampling runs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures, power, properties, simulate
from pathdep.analysis.bimodality import bimodality, label, split
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult

log = logging.getLogger(__name__)
__all__ = ["ANALYSIS", "ClustersOptions", "bimodality", "clusters", "lock_in", "split"]
MIN_RUNS = 4


def _holm(rows: list[dict], alpha: float) -> None:
    """Holm-adjust the SigClust p-values over the properties tested and relabel.

    Each property is one test: without a correction, a suite with 18 properties
    would call some property clustered in most suites that have no clusters at
    all (Holm 1979, "A simple sequentially rejective multiple test procedure").
    """
    tested = [r for r in rows if r["label"] != "not tested"]
    p = np.array([r["sigclust_p"] for r in tested], float)
    m, adj, running = len(p), np.empty(len(p)), 0.0
    for rank, i in enumerate(np.argsort(p)):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    for r, a in zip(tested, adj, strict=True):
        r["sigclust_p_holm"] = float(a)
        r["label"] = label(a, r["dip_p"], r["delta_bic"], r["smaller_group"], r["n"], alpha)
    for r in rows:
        r.setdefault("sigclust_p_holm", float("nan"))


def lock_in(v: np.ndarray) -> np.ndarray:
    """Per run: index of the step from which its cluster label stays at its final label."""
    final = split(properties.final_values(v))
    labels = np.full(v.shape, -1)
    for t in range(v.shape[1]):
        ok = np.isfinite(v[:, t])
        if ok.sum() < MIN_RUNS:
            continue
        lab = split(v[:, t])
        if (lab[ok] == final[ok]).mean() < 0.5:
            lab = ~lab
        labels[ok, t] = lab[ok]
    out = np.full(v.shape[0], np.nan)
    for r in range(v.shape[0]):
        known = np.flatnonzero(labels[r] >= 0)
        wrong = known[labels[r, known] != final[r]]
        if known.size:
            later = known[known > wrong.max()] if wrong.size else known
            out[r] = later[0] if later.size else np.nan
    return out


def _stability(P: xr.DataArray, prop: str, n_boot: int, seed: int) -> dict:
    v, st = P.sel(property=prop).values, P["step"].values
    li = lock_in(v)
    steps = np.where(np.isfinite(li), st[np.nan_to_num(li, nan=0).astype(int)], np.nan)
    med = bootstrap.mean_over_runs(steps, fn=np.nanmedian, n_boot=n_boot, seed=seed)
    return {"lock_in_steps": steps, "stable_from": float(np.nanmax(steps)), "median_lock_in": med}


def _verdict(table: pd.DataFrame, stab: dict, n_runs: int) -> str:
    untested = int((table["label"] == "not tested").sum())
    table = table[table["label"] != "not tested"]
    note = (f" ({untested} more not tested: fewer than 4 distinct values)" if untested else "")
    if not len(table):
        return f"No property has enough distinct values over the {n_runs} runs to test{note}."
    return _tested(table, stab, n_runs).rstrip(".") + note + "."


def _tested(table: pd.DataFrame, stab: dict, n_runs: int) -> str:
    cl = table[table["label"] == "clustered"]
    if not len(cl):
        text = (f"No property splits the {n_runs} runs into distinct clusters (SigClust, "
                f"Holm-adjusted over the {len(table)} properties tested)")
        limit = power.cannot_tell("clusters", n_runs)
        return text + (f", {limit}." if limit else ".")
    parts = [f"{r['property']} (SigClust p = {r['sigclust_p_holm']:.2g}, Holm-adjusted over "
             f"{len(table)} properties tested; membership "
             f"fixed from step {stab[r['property']]['stable_from']:.0f}, median run "
             f"{stab[r['property']]['median_lock_in']})" for _, r in cl.iterrows()]
    return (f"{len(cl)} of {len(table)} properties split the {n_runs} runs into distinct clusters: "
            + "; ".join(parts) + ".")


class ClustersOptions(BootOptions):
    """Options of :func:`clusters`."""

    alpha: float = Field(0.05, gt=0, lt=1, description="Level of the dip test of unimodality.")


def clusters(ds: xr.Dataset, options: ClustersOptions | None = None, **overrides) -> AnalysisResult:
    """Clusteredness of each property across runs, and when cluster membership is fixed."""
    o = ClustersOptions.build(options, **overrides)
    alpha, n_boot, seed = o.alpha, o.n_boot, o.seed
    if ds.sizes["run"] < MIN_RUNS:
        raise data.Skip(f"needs at least {MIN_RUNS} runs")
    P = properties.informative(properties.scalar_properties(ds), MIN_RUNS)
    if P.sizes["property"] == 0:
        raise data.Skip(f"no property varies across {MIN_RUNS} or more runs")
    rows, stab = [], {}
    for p in P["property"].values:
        final = properties.final_values(P.sel(property=p).values)
        rows.append({"property": str(p), **bimodality(final, alpha, seed)})
    _holm(rows, alpha)
    for row in rows:
        p = row["property"]
        if row["label"] not in ("continuous", "not tested"):
            stab[p] = _stability(P, p, n_boot, seed)
            row.update(stable_from_step=stab[p]["stable_from"],
                       median_lock_in_step=stab[p]["median_lock_in"].value)
    table = pd.DataFrame(rows)
    names = data.runs(ds)
    lock = pd.DataFrame([{"property": p, "run": names[r], "lock_in_step": s["lock_in_steps"][r]}
                         for p, s in stab.items() for r in range(len(names))])
    long = properties.table(P)
    final = long.sort_values("step").groupby(["property", "run"]).tail(1)
    figs = {"final_values": figures.points(final, "property", "value", "run",
                                           title="Final value of each property, per run")}
    summary = {"n_clustered": int((table["label"] == "clustered").sum()),
               "n_possibly": int((table["label"] == "possibly clustered").sum()),
               "n_properties": len(table),
               "n_not_tested": int((table["label"] == "not tested").sum()),
               "stable_from": {p: s["stable_from"] for p, s in stab.items()},
               "median_lock_in": {p: s["median_lock_in"] for p, s in stab.items()}}
    return AnalysisResult(name="clusters", question="C/D (clusters and their stability)",
                          verdict=_verdict(table, stab, len(names)), summary=summary,
                          tables={"properties": table, "lock_in": lock}, figures=figs)


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """Six behaviour probes whose final values are normal across runs (0.6, sd 0.08); planted:
    the first probe's runs fall into two equal clusters 4 sd apart (sd 0.04 within each)."""
    rng = np.random.default_rng(seed)
    n_steps = 12
    curves = {f"p{i}": simulate.learning(rng.normal(0.6, 0.08, n_runs), n_steps, rng=rng)
              for i in range(6)}
    if planted:
        half = rng.permutation(np.arange(n_runs) % 2)
        curves["p0"] = simulate.learning(0.6 + 0.08 * np.where(half, 1, -1)
                                         + rng.normal(0, 0.04, n_runs), n_steps, rng=rng)
    return simulate.with_behavior(simulate.store(n_runs, simulate.log_steps(n_steps),
                                                 seed=seed), curves)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: res.summary.get("n_clustered", 0) > 0,
    effect="a split of one of 6 properties into two equal clusters 4 sd apart",
    options={"n_boot": 20})

ANALYSIS = Analysis(
    "clusters",
    "C/D: do runs fall into distinct clusters, and from when is membership fixed?",
    label="C/D", section="clusters", run=on_store(clusters),
    options=ClustersOptions, inputs=StoreInputs(any_of=PROPS, min_runs=4),
    simulation=SIMULATION)

"""C/D. Distinct clusters across runs, and from when each run's membership is fixed (seed 001).

For each property, the runs' final values are tested for distinct clusters in
two ways: Hartigan's dip test of unimodality (``diptest``; small p = more than
one mode) and a one- vs two-component Gaussian mixture compared by BIC
(scikit-learn; ΔBIC = BIC₁ − BIC₂ > 0 favours two clusters). A property is
*clustered* when both agree (dip p < ``alpha`` and ΔBIC > 0), *possibly
clustered* when one does, *continuous* otherwise. A two-component fit whose
smaller component holds fewer than max(2, 10 %) of the runs does not count
(a single outlying run is not a cluster).

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

from pathdep.analysis import bootstrap, data, figures, properties
from pathdep.analysis.contract import Analysis, BootOptions, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult

log = logging.getLogger(__name__)
MIN_RUNS = 4


def bimodality(x: np.ndarray, alpha: float = 0.05, seed: int = 0) -> dict:
    """Dip test and 1-vs-2 GMM BIC for the finite values of ``x``."""
    import diptest
    from sklearn.mixture import GaussianMixture

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < MIN_RUNS or np.ptp(x) == 0:
        return {"dip": 0.0, "dip_p": 1.0, "delta_bic": 0.0, "label": "continuous"}
    dip, p = diptest.diptest(x)
    z = ((x - x.mean()) / x.std()).reshape(-1, 1)
    fits = [GaussianMixture(k, n_init=3, reg_covar=1e-3, random_state=seed).fit(z) for k in (1, 2)]
    delta = float(fits[0].bic(z) - fits[1].bic(z))
    if np.bincount(fits[1].predict(z), minlength=2).min() < max(2, 0.1 * len(x)):
        delta = min(delta, 0.0)  # a "cluster" of one run is an outlier, not a cluster
    votes = int(p < alpha) + int(delta > 0)
    label = ("continuous", "possibly clustered", "clustered")[votes]
    return {"dip": float(dip), "dip_p": float(p), "delta_bic": delta, "label": label}


def split(x: np.ndarray) -> np.ndarray:
    """Optimal 1-D two-means labels (True = upper group) of the finite values; NaN stays False."""
    ok = np.flatnonzero(np.isfinite(x))
    v = np.sort(x[ok])
    n = len(v)
    if n < 2:
        return np.zeros(len(x), bool)
    c1, c2 = np.cumsum(v), np.cumsum(v**2)
    k = np.arange(1, n)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    cut = int(np.argmin(left + right)) + 1
    out = np.zeros(len(x), bool)
    out[ok] = x[ok] >= v[cut]
    return out


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
    cl = table[table["label"] == "clustered"]
    if not len(cl):
        maybe = table[table["label"] == "possibly clustered"]
        extra = f" ({len(maybe)} possibly: {', '.join(maybe['property'])})" if len(maybe) else ""
        return (f"No property splits the {n_runs} runs into distinct clusters by both the dip test "
                f"and a 1-vs-2-component mixture{extra}.")
    parts = [f"{r['property']} (dip p = {r['dip_p']:.2g}, ΔBIC = {r['delta_bic']:.1f}; membership "
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
        if rows[-1]["label"] != "continuous":
            stab[str(p)] = _stability(P, str(p), n_boot, seed)
            rows[-1].update(stable_from_step=stab[str(p)]["stable_from"],
                            median_lock_in_step=stab[str(p)]["median_lock_in"].value)
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
               "stable_from": {p: s["stable_from"] for p, s in stab.items()},
               "median_lock_in": {p: s["median_lock_in"] for p, s in stab.items()}}
    return AnalysisResult(name="clusters", question="C/D (clusters and their stability)",
                          verdict=_verdict(table, stab, len(names)), summary=summary,
                          tables={"properties": table, "lock_in": lock}, figures=figs)


ANALYSIS = Analysis(
    "clusters",
    "C/D: do runs fall into distinct clusters, and from when is membership fixed?",
    label="C/D", section="clusters", run=on_store(clusters),
    options=ClustersOptions, inputs=StoreInputs(any_of=PROPS, min_runs=4))

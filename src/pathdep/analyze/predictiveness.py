"""E. Predictive power of the mid-training model ("a question about predictiveness", seed 001).

Two kinds of consistency per property:

- **consistency over time** at a fraction f of training: Spearman's ρ across
  runs between the value at f × the run's final step (linear interpolation)
  and the final value. For per-token loss, ρ is pooled over (run, token) of
  each run's deviation from the mean over runs, at the step done by all runs
  nearest f of the way and at the last one.
- **homogeneity** (consistency between runs): 1 − (variance across runs of the
  final value) / (variance over all runs and steps): how well the other runs'
  final value predicts a run's, relative to how much the property moves.

Seed 001's single-axis model of path dependence expects the two to be
anti-correlated across properties; the analysis reports Spearman's ρ between
consistency at 50 % and homogeneity across properties, with an interval from
resampling runs (both recomputed for every replicate), but claims nothing from
it: both indicators depend on the same quantity, the spread of the runs' final
values against checkpoint noise (a wide spread raises the rank correlation and
lowers homogeneity). In simulated suites of 8 runs and 12 properties whose
spread and decision time are independent, ρ averaged −0.6 and was negative 99 %
of the time (issue 14 measured −0.20 and 72 % on its own simulation), so a
negative ρ is what this estimator gives whatever the truth. A test of the
single-axis model needs indicators that do not share that quantity; not done.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field
from scipy.stats import spearmanr

from pathdep.analysis import bootstrap, data, figures, properties, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult, Interval

MIN_RUNS = 3
MARKS = (0.25, 0.5)


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return np.nan
    return float(spearmanr(a[ok], b[ok]).statistic)


def consistency(v: np.ndarray, steps: np.ndarray, frac: float) -> float:
    """Spearman across runs of the value at ``frac`` of training vs the final value."""
    return _rho(properties.at_fraction(v, steps, frac), properties.final_values(v))


def homogeneity(v: np.ndarray) -> float:
    fin = properties.final_values(v)
    total = np.nanvar(v)
    return float(1 - np.nanvar(fin) / total) if total > 0 else np.nan


class TokenProperty:
    """Per-token loss at the steps done by all runs: (run, step, token)."""

    def __init__(self, ds: xr.Dataset, max_tokens: int, seed: int):
        self.si = data.common_steps(ds)
        self.steps = data.steps(ds)[self.si]
        self.v = data.token_matrix(ds, "logprob", data.sample_tokens(ds, max_tokens, seed), self.si)

    def consistency(self, r: np.ndarray, frac: float) -> float:
        v = self.v[r]
        dev = v - v.mean(0, keepdims=True)
        t = int(np.argmin(np.abs(self.steps - frac * self.steps[-1])))
        return _rho(dev[:, t].ravel(), dev[:, -1].ravel())

    def homogeneity(self, r: np.ndarray) -> float:
        v = self.v[r]
        total = v.var((0, 1)).sum()
        return float(1 - v[:, -1].var(0).sum() / total) if total > 0 else np.nan


def _indicators(P: xr.DataArray, tok: TokenProperty | None, r: np.ndarray) -> np.ndarray:
    """(property, 1 + len(MARKS)) homogeneity and consistency at each mark, on runs ``r``."""
    st = P["step"].values
    rows = [[homogeneity(P.values[r, :, i])] + [consistency(P.values[r, :, i], st, f) for f in MARKS]
            for i in range(P.sizes["property"])]
    if tok is not None:
        rows.append([tok.homogeneity(r)] + [tok.consistency(r, f) for f in MARKS])
    return np.array(rows)


def _curves(P: xr.DataArray) -> pd.DataFrame:
    st = P["step"].values
    fracs = np.unique(np.round(st[st > 0] / st.max(), 4))
    return pd.DataFrame(columns=["property", "fraction", "consistency"], data=[{"property": str(p), "fraction": f,
                          "consistency": consistency(P.sel(property=p).values, st, f)}
                         for p in P["property"].values for f in fracs])


class PredictivenessOptions(BootOptions):
    """Options of :func:`predictiveness`."""

    max_tokens: int = Field(2000, ge=1, description="Tokens sampled for the per-token properties.")


def predictiveness(ds: xr.Dataset, options: PredictivenessOptions | None = None,
                   **overrides) -> AnalysisResult:
    """Consistency over time (value at t vs final) beside homogeneity between runs."""
    o = PredictivenessOptions.build(options, **overrides)
    n_boot, seed, max_tokens = o.n_boot, o.seed, o.max_tokens
    if ds.sizes["run"] < MIN_RUNS:
        raise data.Skip(f"needs at least {MIN_RUNS} runs")
    P = properties.available(ds, MIN_RUNS)
    tok = TokenProperty(ds, max_tokens, seed) if data.has_values(ds, "logprob") and \
        len(data.common_steps(ds)) >= 2 else None
    if P.sizes["property"] == 0 and tok is None:
        raise data.Skip(f"no property varies across {MIN_RUNS} or more runs")
    n = ds.sizes["run"]
    full = _indicators(P, tok, np.arange(n))
    names = [str(p) for p in P["property"].values] + (["tokens:logprob"] if tok else [])
    reps = bootstrap.replicates(lambda r, w: _indicators(P, tok, r), n, n_boot=n_boot, seed=seed)
    table = pd.DataFrame({"property": names, "homogeneity": full[:, 0]})
    for j, f in enumerate(MARKS, 1):
        ivs = [bootstrap.interval(full[i, j], reps[:, i, j]) for i in range(len(names))]
        table[f"consistency_{int(f * 100)}"] = full[:, j]
        table[f"consistency_{int(f * 100)}_low"] = [i.low for i in ivs]
        table[f"consistency_{int(f * 100)}_high"] = [i.high for i in ivs]
    axis = bootstrap.interval(_rho(full[:, 2], full[:, 0]),
                              np.array([_rho(rep[:, 2], rep[:, 0]) for rep in reps]))
    return _result(table, axis, _curves(P))


def _result(table: pd.DataFrame, axis: Interval, curves: pd.DataFrame) -> AnalysisResult:
    c25, c50 = table["consistency_25"].median(), table["consistency_50"].median()
    verdict = (f"Mid-training values predict final ones with a median rank correlation across runs "
               f"of {c25:.2g} at 25 % and {c50:.2g} at 50 % of training ({len(table)} properties); "
               f"across properties, consistency over time and homogeneity between runs correlate "
               f"with ρ = {axis}, which does not test the single-axis model: both indicators move "
               "with how far the runs' final values spread against checkpoint noise, so ρ is "
               "negative even where spread and decision time are unrelated (docs/calibration.md).")
    figs = {"consistency_vs_homogeneity": figures.points(
                table, "homogeneity", "consistency_50", "property",
                title="Consistency over time (ρ at 50 %) vs homogeneity between runs"),
            "consistency_by_fraction": figures.lines(curves, "fraction", "consistency", "property",
                                                     title="Rank correlation of value at t with final value")}
    summary = {"marks": list(MARKS), "axis_tests_single_axis_model": False,
               "median_consistency_25": float(c25), "median_consistency_50": float(c50),
               "axis_correlation": axis,
               "consistency_50": {r["property"]: Interval(r["consistency_50"], r["consistency_50_low"],
                                                          r["consistency_50_high"])
                                  for _, r in table.iterrows()}}
    return AnalysisResult(name="predictiveness", question="E (predictive power of mid-training)",
                          verdict=verdict, summary=summary,
                          tables={"properties": table, "by_fraction": curves}, figures=figs)


def _simulated(n_runs: int, seed: int, coupled: bool) -> xr.Dataset:
    """12 properties of issue 14's suite (simulate.decision_properties): spread and decision time
    independent (null) or rank-matched (planted, the single-axis model)."""
    steps, curves = simulate.decision_properties(n_runs, np.random.default_rng(seed),
                                                 coupled=coupled)
    return simulate.with_behavior(simulate.store(n_runs, steps, seed=seed), curves)


# The claim was withdrawn (the module docstring): the simulation shows it claims nothing.
SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("axis_tests_single_axis_model", False)),
    effect="a single-axis suite, spread rank-matched to decision time (the claim is withdrawn)",
    options={"n_boot": 20})

ANALYSIS = Analysis(
    "predictiveness",
    "E: does a property's mid-training value predict its final value, and how does that relate to "
    "agreement between runs?",
    label="E", section="predictiveness", run=on_store(predictiveness),
    options=PredictivenessOptions, inputs=StoreInputs(any_of=(*PROPS, "logprob"), min_runs=3),
    simulation=SIMULATION)

"""The general factor of path dependence (seed 001: "some principal component across all
tasks, architectures, and concepts").

One row per property, one column per path-dependence indicator, each oriented
so that larger means more path-dependent:

- ``between_share``: A, the between-run share of variance (``run_variance``)
  over the last third of the checkpoints, when what was learnt is in place:
  over the whole curve, runs that learn at different times differ mid-training,
  so this column measured timing spread too and correlated 0.66 with
  ``formation_spread`` across null tables where outcome spread and timing
  spread vary independently (0.06 over the last third);
- ``clusteredness``: C, Hartigan's dip statistic of the runs' final values;
- ``predictive_50``: E, Spearman's ρ across runs between the value at 50 % of
  training and the final value (``predictiveness``), corrected for attenuation
  (Spearman 1904: divided by the ρ between the last two checkpoints, the
  final value's reliability), since the raw ρ rises with the runs' spread
  against checkpoint noise and so duplicated ``between_share`` (0.34 across
  the same null tables). The value at 25 % was a column too until December
  2026, but the two measure nearly the same thing (median correlation 0.82
  across simulated tables, issue 14), and a built-in correlated pair is a PC1
  that no shuffle of the columns reproduces;
- ``formation_spread``: s.d. across runs of log10 of the step at which the
  property has gone half-way from its first to its final value.

The indicators are z-scored across properties (a missing value becomes the
column mean) and their principal components computed; PC1's share of
variance and its loadings answer whether one factor runs through them. The
share is tested against a null of independently shuffled columns (each
indicator permuted across properties, which keeps every column's values and
destroys their association): p = (1 + #{null >= observed}) / (1 + n_perm).
The verdict names a general factor only when that test rejects at 0.05 *and*
the loadings share one sign; same-sign loadings alone fired in 20-25 % of
tables without any factor (issue 14). With the columns above de-duplicated,
the claim holds its level on simulated suites (docs/calibration.md: null
tables of 8 properties whose four aspects of path dependence are drawn
independently); its power is low at realistic sizes, and a verdict that finds
no factor says so (``analysis/power.py``). Intervals: recompute the whole
table on resampled runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures, power, properties, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult
from pathdep.analyze import predictiveness
from pathdep.analyze.run_variance import between_share

INDICATORS = ("between_share", "clusteredness", "predictive_50", "formation_spread")
ALPHA = 0.05
MIN_RUNS, MIN_PROPERTIES = 4, 3


def _dip(x: np.ndarray) -> float:
    import diptest

    x = x[np.isfinite(x)]
    return float(diptest.dipstat(x)) if len(x) >= MIN_RUNS and np.ptp(x) > 0 else 0.0


def _decided(v: np.ndarray, st: np.ndarray) -> float:
    """Spearman's ρ across runs between the value at 50 % of training and the final value,
    corrected for attenuation (Spearman 1904): divided by the ρ between the last two
    checkpoints (the final value's test-retest reliability), clipped to [-1, 1]."""
    rho = predictiveness.consistency(v, st, 0.5)
    fin = properties.final_index(v)
    prev = v[np.arange(len(v)), np.maximum(fin - 1, 0)]
    rel = predictiveness._rho(prev, properties.final_values(v))
    return float(np.clip(rho / rel, -1, 1)) if np.isfinite(rel) and rel > 0 else np.nan


def indicator_table(P: xr.DataArray, r: np.ndarray) -> np.ndarray:
    """(property, indicator) on the runs ``r`` (indices, repeats allowed)."""
    st = P["step"].values
    tail = slice(-max(2, len(st) // 3), None)
    out = np.full((P.sizes["property"], len(INDICATORS)), np.nan)
    for i in range(P.sizes["property"]):
        v = P.values[r, :, i]
        form = properties.formation_steps(v, st)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.nanstd(np.log10(np.where(form > 0, form, np.nan)))
        out[i] = [between_share(v[:, tail]), _dip(properties.final_values(v)), _decided(v, st),
                  spread if np.isfinite(form).sum() > 1 else np.nan]
    return out


def pca(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios and loadings (component, indicator) of a z-scored table."""
    t = np.array(table, dtype=float)
    mu, sd = np.nanmean(t, 0), np.nanstd(t, 0)
    keep = np.isfinite(sd) & (sd > 0)
    z = np.zeros_like(t)
    z[:, keep] = np.nan_to_num((t[:, keep] - mu[keep]) / sd[keep])
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    ratio = s**2 / (s**2).sum() if (s**2).sum() > 0 else np.full(len(s), np.nan)
    vt = vt * np.where(vt.sum(1, keepdims=True) < 0, -1, 1)  # PC1 oriented: more path-dependent
    return ratio, vt


def null_shares(table: np.ndarray, n_perm: int, seed: int) -> np.ndarray:
    """PC1 shares of ``n_perm`` tables with each column shuffled independently."""
    rng = np.random.default_rng(seed)
    return np.array([pca(np.stack([rng.permutation(c) for c in table.T], 1))[0][0]
                     for _ in range(n_perm)])


def _null_share(table: np.ndarray, n_perm: int, seed: int) -> float:
    return float(np.nanmean(null_shares(table, n_perm, seed)))


def permutation_p(observed: float, null: np.ndarray) -> float:
    """One-sided permutation p-value, (1 + #{null >= observed}) / (1 + n)."""
    null = null[np.isfinite(null)]
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + len(null)))


class GeneralFactorOptions(BootOptions):
    """Options of :func:`general_factor`."""

    n_perm: int = Field(200, ge=1, description=(
        "Permutations of the null (each indicator shuffled across properties)."))


def general_factor(ds: xr.Dataset, options: GeneralFactorOptions | None = None,
                   **overrides) -> AnalysisResult:
    """Table of path-dependence indicators per property and its principal components."""
    o = GeneralFactorOptions.build(options, **overrides)
    n_boot, seed, n_perm = o.n_boot, o.seed, o.n_perm
    if ds.sizes["run"] < MIN_RUNS:
        raise data.Skip(f"needs at least {MIN_RUNS} runs")
    P = properties.informative(properties.scalar_properties(ds), MIN_RUNS)
    if P.sizes["property"] < MIN_PROPERTIES:
        raise data.Skip(f"needs at least {MIN_PROPERTIES} properties that vary")
    n = ds.sizes["run"]
    table = indicator_table(P, np.arange(n))
    ratio, vt = pca(table)

    def stat(r, w):
        rr, vv = pca(indicator_table(P, r))
        sign = np.sign(vv[0] @ vt[0]) or 1.0
        return np.r_[rr[0], sign * vv[0]]

    ivs = bootstrap.estimate_many(lambda r, w: stat(r, w), n, n_boot=n_boot, seed=seed)
    share, loads = ivs[0], ivs[1:]
    nulls = null_shares(table, n_perm, seed)
    null, p = float(np.nanmean(nulls)), permutation_p(float(ratio[0]), nulls)
    ind = pd.DataFrame(table, columns=list(INDICATORS))
    ind.insert(0, "property", [str(p) for p in P["property"].values])
    load_df = pd.DataFrame({"indicator": INDICATORS, "loading": vt[0],
                            "loading_low": [i.low for i in loads], "loading_high": [i.high for i in loads]})
    same_sign = bool(np.all(vt[0][np.abs(vt[0]) > 0.1] > 0))
    beats = p < ALPHA
    head = (f"Across {len(ind)} properties, PC1 of {len(INDICATORS)} path-dependence indicators "
            f"explains {share.value:.0%} [{share.low:.0%}, {share.high:.0%}] of their variance "
            f"(shuffled indicators: {null:.0%} on average, permutation p = {p:.2g})")
    if beats and same_sign:
        tail = "; its loadings share one sign: a general factor runs through the indicators."
    elif beats:
        tail = "; its loadings have mixed signs, so PC1 is not a single general factor."
    else:
        limit = power.cannot_tell("general_factor", n)
        tail = ("; that is within what shuffled indicators give, so this suite shows no "
                "evidence of a general factor" + (f", {limit}." if limit else "."))
    verdict = head + tail
    figs = {"loadings": figures.bars(load_df, "indicator", "loading", title="Loadings of PC1",
                                     err=("loading_low", "loading_high")),
            "explained": figures.bars(pd.DataFrame({"component": [f"PC{i + 1}" for i in
                                                                  range(len(ratio))],
                                                    "ratio": ratio}), "component", "ratio",
                                      title="Share of indicator variance per component")}
    return AnalysisResult(
        name="general_factor", question="general factor", verdict=verdict,
        summary={"pc1_share": share, "null_pc1_share": null, "p_value": p, "alpha": ALPHA,
                 "n_perm": n_perm, "general_factor": bool(beats and same_sign),
                 "same_sign": same_sign,
                 "loadings": dict(zip(INDICATORS, loads, strict=True)), "n_properties": len(ind),
                 "n_runs": n},
        tables={"indicators": ind, "loadings": load_df}, figures=figs)


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """8 behaviour probes on 16 log-spaced checkpoints, each with four aspects of path dependence
    set by its own uniform draws u (simulate.property_curves): outcome spread (sd 0.01 + 0.09 u),
    timing spread (1.5 u checkpoints), a split into two groups (2.5 u sd apart) and how
    little the runs drift after half of training (3 (1 - u) sd). Null: four independent draws
    per probe; planted: one draw sets all four (a general factor)."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(0, 1, (4, 8))
    if planted:
        u[:] = u[0]
    curves = simulate.property_curves(n_runs, 16, 0.01 + 0.09 * u[0], 1.5 * u[1], rng,
                                      split=2.5 * u[2], late=3 * (1 - u[3]))
    return simulate.with_behavior(simulate.store(n_runs, simulate.log_steps(16), seed=seed),
                                  curves)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("general_factor", False)),
    effect="one latent per property setting all four aspects of its path dependence (8 properties)",
    options={"n_boot": 20, "n_perm": 99})

ANALYSIS = Analysis(
    "general_factor",
    "Is there one general factor across the path-dependence indicators of all properties?",
    label="", section="differences", run=on_store(general_factor),
    options=GeneralFactorOptions, inputs=StoreInputs(any_of=PROPS, min_runs=4),
    simulation=SIMULATION)

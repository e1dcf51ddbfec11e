"""A. Variance across runs: the between-run share of variance of each property (seed 001, A).

For a property P[run, step] the between-run share is

    Σ_{r,t} (P[r,t] − P̄[t])²  /  Σ_{r,t} (P[r,t] − P̄)²

over matched cells (steps done by at least two runs): the part of the
property's variation over the whole suite that lies between runs at the same
step, rather than along the common training trajectory. 0 means every run
follows the same curve; 1 means the runs differ as much as the property moves
in training. For per-token loss the same ratio is pooled over tokens, each
token measured against its own mean (P̄[t, token] and P̄[token]). Also the
s.d. across runs of each property's final value. Properties: see
``properties``; head scores enter as the strongest head per kind. Intervals:
Multi-Bootstrap over runs (and tokens for per-token loss).

The verdict names the properties with the highest and lowest share; its claim
is that the runs differ more in the first than in the second (summary
``ranked``). The highest and lowest of several equal shares differ by chance,
and comparing their two 95 % intervals claimed a difference in 20 % of null
suites of 8 runs (docs/calibration.md). The claim is now a paired bootstrap
test of the range: Tukey's studentized range (Tukey 1949) of the k log shares,
(highest − lowest) / s.e., with the s.e. of one log share pooled over the k
properties from the Multi-Bootstrap over runs, at 0.05; the range of k values
is what was selected, so no pair is favoured. (A paired bootstrap p-value of
the selected pair, Bonferroni over the pairs, still claimed in 20-27 % of null
suites of 8-16 runs: the extreme pair's own bootstrap s.e. is too small.)
Otherwise the verdict says the suite cannot rank them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field
from scipy.stats import studentized_range

from pathdep.analysis import bootstrap, data, figures, power, properties, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.properties import PROPS
from pathdep.analysis.result import AnalysisResult, Interval


def between_share(v: np.ndarray) -> float:
    """Between-run share of a (run, step) property over matched steps."""
    v = v[:, np.isfinite(v).sum(0) >= 2]
    if v.size == 0 or np.isfinite(v).sum() < 3:
        return np.nan
    within = np.nansum((v - np.nanmean(v, 0)) ** 2)
    total = np.nansum((v - np.nanmean(v)) ** 2)
    return float(within / total) if total > 0 else np.nan


def token_between_share(v: np.ndarray, w: np.ndarray | None = None) -> float:
    """Between-run share of a (run, step, token) property, pooled over (weighted) tokens."""
    w = np.ones(v.shape[2]) if w is None else w
    with np.errstate(invalid="ignore"):
        within = np.nansum((v - np.nanmean(v, 0, keepdims=True)) ** 2, (0, 1))
        total = np.nansum((v - np.nanmean(v, (0, 1), keepdims=True)) ** 2, (0, 1))
    t = total @ w
    return float((within @ w) / t) if t > 0 else np.nan


def property_shares(P: xr.DataArray, n_boot: int, seed: int) -> pd.DataFrame:
    """One row per property: between-run share and final s.d. across runs, with intervals."""
    rows = []
    for p, fam in zip(P["property"].values, P["family"].values, strict=True):
        v = P.sel(property=p).values
        n = v.shape[0]
        share = bootstrap.estimate(lambda r, w, v=v: between_share(v[r]), n, n_boot=n_boot, seed=seed)
        final = properties.final_values(v)
        sd = bootstrap.mean_over_runs(final, fn=lambda x: np.nanstd(x, ddof=1) if
                                      np.isfinite(x).sum() > 1 else np.nan, n_boot=n_boot, seed=seed)
        chance = float(P["chance"].sel(property=p)) if "chance" in P.coords else np.nan
        rows.append({"property": str(p), "family": str(fam), "chance": chance,
                     "between_share": share.value,
                     "share_low": share.low, "share_high": share.high, "final_mean": np.nanmean(final),
                     "final_sd": sd.value, "final_sd_low": sd.low, "final_sd_high": sd.high})
    return pd.DataFrame(rows)


def token_share(ds: xr.Dataset, max_tokens: int, n_boot: int, seed: int) -> Interval | None:
    """Between-run share of per-token loss on a sample of tokens."""
    if not data.has_values(ds, "logprob"):
        return None
    si = data.common_steps(ds, 2)
    if len(si) == 0:
        return None
    v = data.token_matrix(ds, "logprob", data.sample_tokens(ds, max_tokens, seed), si)
    return bootstrap.estimate(lambda r, w: token_between_share(v[r], w), v.shape[0], v.shape[2],
                              n_boot=n_boot, seed=seed)


ALPHA = 0.05


def _ranked_p(P: xr.DataArray, hi: str, lo: str, n_boot: int, seed: int) -> float:
    """Tukey's studentized-range p-value (Tukey 1949) that ``hi``'s between-run share exceeds
    ``lo``'s, on log shares with the pooled bootstrap s.e. of one property's log share over
    the k properties (1.0 when either is not a scalar property, e.g. per-token loss)."""
    names = [str(p) for p in P["property"].values]
    if hi not in names or lo not in names or hi == lo or n_boot < 2:
        return 1.0
    v = P.values  # (run, step, property)

    def log_shares(r, w):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.array([between_share(v[r, :, i]) for i in range(v.shape[2])]))

    reps = bootstrap.replicates(log_shares, v.shape[0], n_boot=n_boot, seed=seed)
    obs = log_shares(np.arange(v.shape[0]), None)
    ok = np.isfinite(obs) & np.isfinite(reps).all(0)
    if ok.sum() < 2 or not (ok[names.index(hi)] and ok[names.index(lo)]):
        return 1.0
    se = np.sqrt(np.mean(np.var(reps[:, ok], axis=0, ddof=1)))
    if not se > 0:
        return 1.0
    q = (obs[names.index(hi)] - obs[names.index(lo)]) / se
    return float(studentized_range.sf(q, int(ok.sum()), max(1, v.shape[0] - 1)))


class RunVarianceOptions(BootOptions):
    """Options of :func:`run_variance`."""

    max_tokens: int = Field(5000, ge=1, description=(
        "Tokens sampled for the per-token between-run share."))


def run_variance(ds: xr.Dataset, options: RunVarianceOptions | None = None,
                 **overrides) -> AnalysisResult:
    """Between-run share of variance for every property (and per-token loss)."""
    o = RunVarianceOptions.build(options, **overrides)
    n_boot, seed, max_tokens = o.n_boot, o.seed, o.max_tokens
    if ds.sizes["run"] < 2:
        raise data.Skip("needs at least two runs")
    P = properties.available(ds)
    table = property_shares(P, n_boot, seed)
    tok = token_share(ds, max_tokens, n_boot, seed)
    if tok is None and not len(table):
        raise data.Skip("no property varies over runs and steps")
    summary: dict = {"n_runs": int(ds.sizes["run"]), "at_chance": P.attrs.get("at_chance", [])}
    if tok is not None:
        table = pd.concat([table, pd.DataFrame([{
            "property": "tokens:logprob", "family": "tokens", "between_share": tok.value,
            "share_low": tok.low, "share_high": tok.high}])], ignore_index=True)
        summary["token_loss_share"] = tok
    table = table.sort_values("between_share", ascending=False, na_position="last")
    table = table.reset_index(drop=True)
    if table["between_share"].notna().sum() == 0:
        raise data.Skip("no property varies over runs and steps")
    hi, lo = table.iloc[0], table.dropna(subset=["between_share"]).iloc[-1]
    fmt = "{p} ({v:.2g} [{a:.2g}, {b:.2g}])"
    verdict = (f"Between-run share of variance is highest for "
               f"{fmt.format(p=hi['property'], v=hi['between_share'], a=hi['share_low'], b=hi['share_high'])}"
               f" and lowest for "
               f"{fmt.format(p=lo['property'], v=lo['between_share'], a=lo['share_low'], b=lo['share_high'])}"
               f"; median over {table['between_share'].notna().sum()} properties "
               f"{table['between_share'].median():.2g}{properties.chance_note(P)}")
    p = _ranked_p(P, hi["property"], lo["property"], n_boot, seed)
    ranked = bool(p < ALPHA)
    how = f"studentized range of the log shares, p = {p:.2g}"
    limit = None if ranked else power.cannot_tell("run_variance", int(ds.sizes["run"]))
    verdict += (f"; the runs differ more in {hi['property']} than in {lo['property']} ({how})."
                if ranked else f"; this suite cannot rank them ({how})"
                + (f", {limit}." if limit else "."))
    summary.update(median_share=float(table["between_share"].median()), ranked=ranked,
                   ranked_p=p,
                   shares={r["property"]: Interval(r["between_share"], r["share_low"], r["share_high"])
                           for _, r in table.iterrows()})
    fig = figures.bars(table, "property", "between_share", title="Between-run share of variance",
                       err=("share_low", "share_high"))
    return AnalysisResult(name="run_variance", question="A (variance across runs)", verdict=verdict,
                          summary=summary, tables={"properties": table}, figures={"shares": fig})


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """Six behaviour probes on 12 log-spaced checkpoints whose runs' final values have the same
    s.d. (0.05 around 0.6; checkpoint noise 0.02, simulate.property_curves); planted: the
    first probe's final values have 3 times that s.d."""
    rng = np.random.default_rng(seed)
    spread = np.full(6, 0.05)
    if planted:
        spread[0] = 0.15
    curves = simulate.property_curves(n_runs, 12, spread, np.zeros(6), rng)
    return simulate.with_behavior(simulate.store(n_runs, simulate.log_steps(12), seed=seed),
                                  curves)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: bool(res.summary.get("ranked", False)),
    effect="one of 6 properties whose runs' final values spread 3 times as widely",
    options={"n_boot": 100})

ANALYSIS = Analysis(
    "run_variance",
    "A: what share of each property's variance lies between runs?",
    label="A", section="differences", run=on_store(run_variance),
    options=RunVarianceOptions, inputs=StoreInputs(any_of=(*PROPS, "logprob")),
    simulation=SIMULATION)

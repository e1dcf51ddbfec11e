"""Abrupt behaviours: which behaviour probes change abruptly in training, in how many runs, when.

Olsson et al. ("In-context Learning and Induction Heads", 2022) call the
formation of induction heads a *phase change*: in-context learning appears in
a narrow window of training, visible as a bump in the loss curve. Ganguli et
al. ("Predictability and Surprise in Large Generative Models", 2022) contrast
such abrupt capabilities with the smooth fall of the loss. Per run, each
behaviour probe's accuracy curve against log10(step) (step 0 dropped) is
fitted with Chang et al.'s 4-parameter sigmoid (analysis/curve_fit.py, the
fit learning curves use), and classified:

- **unchanged**: the fitted change is under :data:`MIN_CHANGE` accuracy or
  under :data:`NOISE_SDS` noise s.d. (the checkpoint noise, from the curve's
  first differences);
- **abrupt**: 10-90 % of the change happens within :data:`ABRUPT_DECADES`
  decades of steps (a factor of 2.5, so a schedule that doubles its steps resolves it): the sigmoid's 10-90 % width, 2·ln 9 times
  its scale, and the log-spacing of the checkpoints around its midpoint (the
  schedule's resolution: a rise between two checkpoints is at most that wide)
  are both at most that;
- **gradual**: the width is more than that;
- **unresolved**: abrupt as far as the fit goes, but the checkpoints around
  the midpoint are further apart than :data:`ABRUPT_DECADES`, or the change
  is not inside the observed steps (half of its width before the first
  checkpoint or after the last): the schedule cannot tell.

The step of a run's change is the first checkpoint at or after the sigmoid's
midpoint. Across runs, a probe *changes abruptly* when it is abrupt in at
least :data:`MIN_RUNS` runs and in at least half of the runs where it
changed, *gradually* when that holds of gradual; otherwise this suite cannot
tell. The median step of the abrupt runs carries a bootstrap interval over
runs. Calibrated (issue 14): the null is a suite whose behaviours all change
gradually (10-90 % over 0.9 decades), the planted effect one that changes
within 0.1 decades (analysis/calibration.json, docs/calibration.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from pathdep.analysis import bootstrap, curve_fit, data, figures, properties, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult

ABRUPT_DECADES = 0.4  # 10-90 % of the change within a factor of 2.5 in steps (doublings resolve it)
MIN_CHANGE = 0.2  # accuracy: a smaller fitted change is no change
NOISE_SDS = 4.0  # and the change must exceed this many checkpoint-noise s.d.
MIN_RUNS = 3  # fewer abrupt (or gradual) runs: no claim
MIN_POINTS = 6  # checkpoints after step 0 a curve needs to be fitted
MAX_FIGURES = 4  # accuracy curves drawn: the abrupt probes first, then those that changed most
WIDTH_PER_SCALE = 2 * np.log(9)  # a logistic's 10-90 % width over its scale
CLASSES = ("abrupt", "gradual", "unresolved", "unchanged")


def classify(x: np.ndarray, y: np.ndarray) -> dict:
    """One curve (x = log10 step, ascending; y = accuracy): its class, width and midpoint."""
    fit = curve_fit.sigmoid_fit(x, y[None, :])
    delta, mid = float(fit.delta[0]), float(fit.xmid[0])
    width = float(WIDTH_PER_SCALE * fit.scale[0])
    i = int(np.clip(np.searchsorted(x, mid, side="right") - 1, 0, len(x) - 2))
    resolution = float(x[i + 1] - x[i])
    at = x[min(int(np.searchsorted(x, mid - 1e-12)), len(x) - 1)]
    out = {"change": delta, "width_decades": width, "resolution_decades": resolution,
           "step": int(round(10 ** at))}
    noise = float(curve_fit.noise_sd(y))
    if abs(delta) < max(MIN_CHANGE, NOISE_SDS * noise):
        return {**out, "class": "unchanged", "step": np.nan}
    inside = mid - width / 2 >= x[0] and mid + width / 2 <= x[-1]
    if width > ABRUPT_DECADES:
        return {**out, "class": "gradual" if inside else "unresolved"}
    if resolution > ABRUPT_DECADES or not (x[0] < mid <= x[-1]):
        return {**out, "class": "unresolved"}
    return {**out, "class": "abrupt"}


def per_run(P: xr.DataArray) -> pd.DataFrame:
    """One row per (run, behaviour probe) that has MIN_POINTS checkpoints after step 0."""
    st = P["step"].values.astype(float)
    rows = []
    for p in P["property"].values:
        if not str(p).startswith("behavior:"):
            continue
        for r, run in enumerate(P["run"].values):
            y = P.sel(property=p).values[r]
            ok = np.isfinite(y) & (st > 0)
            if ok.sum() < MIN_POINTS:
                continue
            rows.append({"run": str(run), "probe": str(p).split(":", 1)[1],
                         **classify(np.log10(st[ok]), y[ok])})
    cols = ["run", "probe", "class", "change", "width_decades", "resolution_decades", "step"]
    return pd.DataFrame(rows, columns=cols)


def decide(n_abrupt: int, n_gradual: int, n_changed: int) -> str:
    """'abrupt', 'gradual' or 'cannot tell' for one probe from its per-run classes."""
    for verdict, k in (("abrupt", n_abrupt), ("gradual", n_gradual)):
        if k >= MIN_RUNS and 2 * k >= n_changed:
            return verdict
    return "cannot tell"


def per_probe(runs: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Per probe: runs fitted, runs per class, the suite's verdict, and the abrupt runs'
    median step with its interval over runs."""
    rows = []
    for probe, g in runs.groupby("probe", sort=False):
        n = {c: int((g["class"] == c).sum()) for c in CLASSES}
        changed = len(g) - n["unchanged"]
        row = {"probe": probe, "runs": len(g), "changed": changed, **n,
               "verdict": decide(n["abrupt"], n["gradual"], changed)}
        ab = g.loc[g["class"] == "abrupt", "step"].to_numpy(float)
        if len(ab):
            iv = bootstrap.mean_over_runs(ab, fn=np.nanmedian, n_boot=n_boot, seed=seed)
            row |= {"step": iv.value, "step_low": iv.low, "step_high": iv.high,
                    "width_decades": float(g.loc[g["class"] == "abrupt", "width_decades"].median())}
        rows.append(row)
    cols = ["probe", "runs", "changed", *CLASSES, "verdict", "step", "step_low", "step_high",
            "width_decades"]
    return pd.DataFrame(rows, columns=cols)


def _verdict(table: pd.DataFrame) -> str:
    crit = (f"10-90 % of the change within {ABRUPT_DECADES:g} decades of steps, in at least half "
            f"the runs where the probe changed and at least {MIN_RUNS}")
    ab = table[table["verdict"] == "abrupt"]
    if len(ab):
        parts = [f"{r.probe} (abrupt in {r.abrupt} of the {r.changed} runs where it changed"
                 + (f", unchanged in {r.unchanged}" if r.unchanged else "")
                 + f"; at step {r.step:g} [{r.step_low:g}, {r.step_high:g}], median)"
                 for r in ab.itertuples()]
        text = f"Behaviours that change abruptly ({crit}): " + "; ".join(parts)
    else:
        text = f"No behaviour changes abruptly ({crit})"
    gr = table[table["verdict"] == "gradual"]
    if len(gr):
        text += "; gradually: " + ", ".join(f"{r.probe} ({r.gradual} of {r.changed})"
                                            for r in gr.itertuples())
    tell = table[(table["verdict"] == "cannot tell") & (table["changed"] > 0)]
    if len(tell):
        text += ("; this suite cannot tell for " + ", ".join(
            f"{r.probe} (changed in {r.changed} runs: {r.abrupt} abrupt, {r.gradual} gradual, "
            f"{r.unresolved} not resolved by the checkpoints)" for r in tell.itertuples()))
    still = int((table["changed"] == 0).sum())
    if still:
        text += f"; {still} probe(s) did not change beyond noise in any run"
    return text + "."


def abrupt_behaviors(ds: xr.Dataset, options: BootOptions | None = None,
                     **overrides) -> AnalysisResult:
    """Per run and behaviour probe: abrupt, gradual, unresolved or unchanged; per probe a verdict."""
    o = BootOptions.build(options, **overrides)
    if not data.has_values(ds, "behavior"):
        raise data.Skip("the store has no behaviour probe scores (measure.probes)")
    P = properties.scalar_properties(ds)
    runs = per_run(P)
    if not len(runs):
        raise data.Skip(f"no behaviour curve has {MIN_POINTS} checkpoints after step 0")
    table = per_probe(runs, o.n_boot, o.seed)
    summary = {"abrupt_decades": ABRUPT_DECADES, "min_change": MIN_CHANGE, "min_runs": MIN_RUNS,
               "rise_percent": [10, 90], "n_runs": len(data.runs(ds)),
               "abrupt": table.loc[table["verdict"] == "abrupt", "probe"].tolist(),
               "gradual": table.loc[table["verdict"] == "gradual", "probe"].tolist(),
               "unchanged": table.loc[table["changed"] == 0, "probe"].tolist()}
    return AnalysisResult(name="abrupt_behaviors", question="F (abrupt behaviours)",
                          verdict=_verdict(table), summary=summary,
                          tables={"per_probe": table, "per_run": runs}, figures=_figures(P, table))


def _figures(P: xr.DataArray, table: pd.DataFrame) -> dict:
    """Each run's accuracy curve of up to MAX_FIGURES probes (abrupt ones first)."""
    order = table.assign(first=table["verdict"] != "abrupt").sort_values(
        ["first", "changed"], ascending=[True, False])
    figs = {}
    for probe in order.loc[order["changed"] > 0, "probe"].head(MAX_FIGURES):
        df = properties.table(P.sel(property=[f"behavior:{probe}"]))
        df = df[df["step"] > 0]
        figs[f"behavior_{probe}".replace(":", "_")] = figures.lines(
            df, "step", "value", "run", log_x=True, y_title="accuracy",
            title=f"{probe} per run ({table.set_index('probe').loc[probe, 'verdict']})")
    return figs


def _simulated(n_runs: int, seed: int, width: float) -> xr.Dataset:
    """Two probes whose accuracy rises from 0.25 to 0.9 with 10-90 % width ``width`` decades,
    midpoints drawn in [1.8, 2.6] decades, on log checkpoints plus an even window (as the
    demo's schedule), with the binomial noise of 64 items."""
    rng = np.random.default_rng(seed)
    steps = np.unique(np.r_[simulate.log_steps(12, 2000), np.arange(100, 401, 20)])
    ds = simulate.store(n_runs, steps, seed=seed)
    x = np.log10(np.maximum(steps, 1))
    curves = {}
    for p in ("probe_a", "probe_b"):
        mid = rng.uniform(1.8, 2.6, (n_runs, 1))
        acc = 0.25 + 0.65 / (1 + np.exp(-(x[None, :] - mid) * WIDTH_PER_SCALE / width))
        curves[p] = rng.binomial(64, acc) / 64
    return simulate.with_behavior(ds, curves)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, 0.9),
    planted=lambda n, seed: _simulated(n, seed, 0.1),
    claims=lambda res: bool(res.summary.get("abrupt")),
    effect="a behaviour whose 10-90 % rise takes 0.1 decades of steps (the null: 0.9)",
    options={"n_boot": 100})

ANALYSIS = Analysis(
    "abrupt_behaviors",
    "Which behaviours change abruptly (a phase change) and which gradually, in how many runs, "
    "and at what step?",
    label="F", section="circuits", run=on_store(abrupt_behaviors), options=BootOptions,
    inputs=StoreInputs(any_of=("behavior",), min_runs=1), simulation=SIMULATION)

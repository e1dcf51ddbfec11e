"""F. Early interventions: does an intervention's effect decay away or stick? (issue 7, item 2)

Hebbar & Hubinger (seeds/001, concepts D and F; methods.md §11 F) predict, when
training has stable attractors, "a bimodal effect: either the intervention
decays away almost completely, or it successfully pushes us to the other
attractor and sticks fully". This analysis follows each intervention in the
store from its end to the last step and tests that prediction.

**Runs and controls.** A run has an intervention when its factor
``intervention`` is not "none" (or ""). Its control is the run with every other
factor equal (``parent``, ``branch_step``, ``seed``, ``data_seed``, ``lr``, …)
and intervention "none": for branches the sibling branched at the same step
with the same data order, for grid runs the same seeds without the
intervention. Runs without such a control are listed and left out.

**Effects.** At every step s done by both: on the *target*, the probe
``iv:<intervention>`` when the measurement built one, effect(s) =
behavior_margin[run, s, target] − behavior_margin[control, s, target] (nats), and
the same difference of accuracy (``behavior``); on *everything else*, the mean
over the battery (every probe not named ``iv:*``) of |Δ behavior_margin|, and
Δ eval loss (``loss``, the mean −logprob, else computed from ``logprob`` one
snapshot at a time). An intervention without a target probe (a learning-rate
change, say) is judged on the battery's mean |Δ margin|.

**Window.** From the intervention's end, ``end`` of its entry in the ``spec``
attribute (counted from the branch step in a branch: absolute end = branch step
+ end) to the last step done by both; when the spec does not name it, from the
branch step (grid runs: from the first step).

**Classification** (per run, on the target effect, else the battery's):
peak = the effect of largest magnitude in the window, final = the effect at the
last step, retained = final / peak.

- *no effect*: |peak| ≤ the noise floor (the intervention never moved it);
- *stuck*: retained ≥ ``stuck_fraction`` (default 0.5) and |final| > the noise floor;
- *decayed*: otherwise.

The **noise floor** is how far two runs drift apart without any intervention:
the largest |Δ| at their last common step between pairs of control runs that
differ only in ``seed``/``data_seed`` (e.g. two sibling controls with different
data orders), measured on the same probe (or the battery mean); without such
pairs the option ``noise_floor`` (nats). For a branch, only control pairs
branched from the same parent at the same step are used when there are any
(two init seeds of the grid differ far more than two data orders from one
state). A control pair with different data
orders is a generous floor: any perturbation may make runs diverge about as
much (Altintas et al., "The Butterfly Effect", methods.md §11 F).

**Across runs.** Bimodality of the retained fractions of runs with an effect
(clipped to [−0.5, 1.5]) by the dip test and a 1-vs-2 Gaussian mixture, as in
``clusters.bimodality`` (with fewer than 4 values nothing is tested; with a
dozen the dip test has little power: the verdict says so). Per branch step
(grid runs: −1): counts, share stuck and mean retained fraction, with
bootstrap intervals over the intervention runs.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures, power, simulate
from pathdep.analysis.bimodality import bimodality
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.intervention_effects import classify, follow_all
from pathdep.analysis.result import AnalysisResult, Interval

log = logging.getLogger(__name__)
__all__ = ["ANALYSIS", "InterventionsOptions", "classify", "interventions"]


class InterventionsOptions(BootOptions):
    """Options of :func:`interventions`."""

    stuck_fraction: float = Field(0.5, gt=0, le=1, description=(
        "Retained share of the peak effect at the end above which an effect counts as stuck."))
    noise_floor: float = Field(0.1, ge=0, description=(
        "Noise floor (nats) when no pair of controls gives one."))
    alpha: float = Field(0.05, gt=0, lt=1, description="Level of the dip test of bimodality.")


def interventions(ds: xr.Dataset, options: InterventionsOptions | None = None,
                  **overrides) -> AnalysisResult:
    """Each intervention's effect from its end to the last step, stuck vs decayed per run,
    bimodality across runs, and the dependence on the branch step."""
    o = InterventionsOptions.build(options, **overrides)
    data.require(ds, "behavior_margin")
    if "probe" not in ds.dims:
        raise data.Skip("the store has no probes")
    fx = follow_all(ds, o.noise_floor, o.stuck_fraction)
    table = fx.table
    effective = table[table.label != "no effect"]
    ret = np.clip(effective["retained"].to_numpy(float), -0.5, 1.5)
    bim = bimodality(ret, o.alpha, o.seed)
    bim["eta2_branch_step"] = _eta2(ret, effective["branch_step"].to_numpy())
    stuck = (table.label == "stuck").to_numpy(float)
    share = bootstrap.mean_over_runs(stuck, n_boot=o.n_boot, seed=o.seed)
    mean_ret = bootstrap.mean_over_runs(effective["retained"].to_numpy(float), n_boot=o.n_boot,
                                        seed=o.seed) if len(effective) else None
    by = _by_branch_step(table, o.n_boot, o.seed)
    names = data.runs(ds)
    summary = {"n_interventions": len(table), "n_stuck": int((table.label == "stuck").sum()),
               "n_decayed": int((table.label == "decayed").sum()),
               "n_no_effect": int((table.label == "no effect").sum()),
               "share_stuck": share, "stuck_fraction": o.stuck_fraction,
               "noise_floor": dict(fx.floors), "noise_floor_pairs": len(fx.noise_pairs),
               "bimodality": bim, "without_control": [names[r] for r in fx.orphans],
               "by_branch_step": {str(int(rw.branch_step)): {
                   "n": int(rw.n), "share_stuck": float(rw.share_stuck),
                   "mean_retained": Interval(rw.mean_retained, rw.mean_retained_low,
                                             rw.mean_retained_high)}
                   for rw in by.itertuples()}}
    if mean_ret is not None:
        summary["mean_retained"] = mean_ret
    return AnalysisResult(name="interventions", question="F (early interventions)",
                          verdict=_verdict(table, bim, share, mean_ret, by, fx.floors,
                                           fx.noise_pairs),
                          summary=summary,
                          tables={"per_run": table, "effects": fx.curve, "by_branch_step": by},
                          figures=_figures(table, fx.curve))


def _by_branch_step(table: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    rows = []
    for b, g in table.groupby("branch_step", sort=True):
        eff = g[g.label != "no effect"]["retained"].to_numpy(float)
        iv = bootstrap.mean_over_runs(eff, n_boot=n_boot, seed=seed) if eff.size else \
            Interval(np.nan, np.nan, np.nan)
        rows.append({"branch_step": int(b), "n": len(g), "n_stuck": int((g.label == "stuck").sum()),
                     "n_decayed": int((g.label == "decayed").sum()),
                     "n_no_effect": int((g.label == "no effect").sum()),
                     "share_stuck": float((g.label == "stuck").mean()),
                     "mean_retained": iv.value, "mean_retained_low": iv.low,
                     "mean_retained_high": iv.high,
                     "median_retained": float(np.median(eff)) if eff.size else np.nan,
                     "mean_peak": float(g["peak"].mean()), "mean_final": float(g["final"].mean())})
    return pd.DataFrame(rows)


def _num(x: float) -> str:
    return f"{x:.2g}" if np.isfinite(x) else "n/a"


def _verdict(table, bim, share, mean_ret, by, floors, npairs) -> str:
    n = len(table)
    counts = table.label.value_counts()
    floor = ("a noise floor from pairs of controls (branched at the same step where there are "
             "any)" if npairs else
             f"a fixed noise floor of {_num(floors['default'])} nats")
    text = (f"Of {n} intervention run(s), {counts.get('stuck', 0)} stuck (final effect ≥ half the "
            f"peak and above {floor}), {counts.get('decayed', 0)} decayed and "
            f"{counts.get('no effect', 0)} had no effect above the floor")
    if mean_ret is not None and np.isfinite([mean_ret.low, mean_ret.high]).all():
        text += f"; mean retained fraction {mean_ret}"
    n_eff = int((table.label != "no effect").sum())
    if n_eff < 4:
        text += f"; too few runs with an effect ({n_eff}) to test bimodality"
    else:
        how = {"clustered": "bimodal, as seed 001's concept D predicts",
               "possibly clustered": "not clearly bimodal (only the dip test or the mixture "
                                     "says so, not SigClust)",
               "continuous": "not bimodal",
               "not tested": "too few distinct values to test for bimodality"}[bim["label"]]
        text += (f"; retained fractions are {how} (SigClust p = {bim['sigclust_p']:.2g}, "
                 f"dip p = {bim['dip_p']:.2g}, ΔBIC = {bim['delta_bic']:.1f}, n = {n_eff}"
                 + (", a small sample" if n_eff < 20 else "") + ")")
        limit = None if bim["label"] == "clustered" else power.cannot_tell("interventions", n_eff)
        text += f", {limit}" if limit else ""
        eta2 = bim.get("eta2_branch_step")
        if bim["label"] == "clustered" and eta2 is not None and eta2 >= 0.5:
            text += (f", but the branch step explains {eta2:.0%} of their variance: the modes "
                     "follow when the intervention came, not chance among like branches")
    if len(by) > 1:
        parts = [f"{int(r.branch_step)}: {r.share_stuck:.0%}" for r in by.itertuples()]
        if len(parts) > 6:
            parts = [parts[0], "…", parts[-1]]
        text += "; share stuck by branch step " + ", ".join(parts)
    return text + "."


def _eta2(values: np.ndarray, groups: np.ndarray) -> float | None:
    """Share of the variance of ``values`` between ``groups`` (None with one group)."""
    if len(set(groups.tolist())) < 2 or len(values) < 3:
        return None
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return None
    within = sum(float(((values[groups == g] - values[groups == g].mean()) ** 2).sum())
                 for g in set(groups.tolist()))
    return 1 - within / total


def _figures(table: pd.DataFrame, curve: pd.DataFrame) -> dict:
    steps = sorted(table.branch_step.unique())
    colors = figures_colors(len(steps))
    fig = go.Figure()
    shown = set()
    for run, g in curve.groupby("run", sort=False):
        b = int(g.branch_step.iloc[0])
        c = colors[steps.index(b)]
        fig.add_trace(go.Scatter(x=g["step"], y=g["effect"], mode="lines", name=f"branch step {b}",
                                 legendgroup=str(b), showlegend=b not in shown,
                                 line={"color": c}, hovertext=str(run)))
        shown.add(b)
    fig.update_layout(title="Intervention effect (vs its control) over steps, per run, coloured "
                      "by branch step", xaxis_title="step",
                      yaxis_title="effect on the target (nats; battery mean |Δ| if none)")
    return {"effect_over_steps": fig,
            "retained_vs_branch_step": figures.points(
                table.assign(retained=table.retained.clip(-0.5, 1.5)), "branch_step", "retained",
                "run", group="label",
                title="Retained fraction (final / peak effect) vs branch step")}


def figures_colors(n: int) -> list[str]:
    """``n`` colours along Viridis (early branch steps dark, late ones light)."""
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [i / max(n - 1, 1) for i in range(n)])


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """``n_runs`` intervention branches (branch steps 20, 30, ... by data seeds 0 and 1, each
    with its control; simulate.intervention_store) whose target effect of 3 nats keeps a
    fraction drawn per branch: null, normal around 0.5 (sd 0.2: one mode); planted, 0 or 1
    (half each, sd 0.05), the two attractors of seed 001's concept D."""
    rng = np.random.default_rng(seed)
    steps = tuple(20 + 10 * i for i in range((n_runs + 1) // 2))
    if planted:
        q = rng.permutation(np.arange(2 * len(steps)) % 2) + rng.normal(0, 0.05, 2 * len(steps))
    else:
        q = rng.normal(0.5, 0.2, 2 * len(steps))
    return simulate.intervention_store(steps, q.reshape(len(steps), 2), seed=seed)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: res.summary.get("bimodality", {}).get("label") == "clustered",
    effect="retained fractions at 0 or 1 (half each), against one mode around 0.5",
    options={"n_boot": 20})

ANALYSIS = Analysis(
    "interventions",
    "F: does an early intervention's effect decay or stick, is the outcome bimodal, and how does "
    "it depend on the branch step?",
    label="F", section="interventions", run=on_store(interventions),
    options=InterventionsOptions, inputs=StoreInputs(needs=("behavior_margin",)),
    simulation=SIMULATION)

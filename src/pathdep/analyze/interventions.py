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

import json
import logging
import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures
from pathdep.analysis.contract import Analysis, BootOptions, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult, Interval
from pathdep.analyze.clusters import bimodality

log = logging.getLogger(__name__)
NONE = ("none", "")
NOISE_FACTORS = ("seed", "data_seed")  # control pairs differing only here give the noise floor


def _spec(ds: xr.Dataset) -> dict:
    raw = ds.attrs.get("spec")
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError):
        log.warning("the store's spec attribute is not JSON; intervention windows unknown")
        return {}


def pairs(ds: xr.Dataset) -> tuple[list[tuple[int, int]], list[int]]:
    """(intervention run, its control) index pairs, and intervention runs without a control."""
    f = data.factors(ds)
    if "intervention" not in f:
        raise data.Skip("no run has an intervention (the store has no factor_intervention)")
    iv = f["intervention"]
    others = [k for k in f if k != "intervention"]
    key = [tuple(f[k][r] for k in others) for r in range(len(iv))]
    controls: dict[tuple, int] = {}
    for r in range(len(iv)):
        if iv[r] in NONE:
            controls.setdefault(key[r], r)
    out, orphans = [], []
    for r in range(len(iv)):
        if iv[r] not in NONE:
            (out.append((r, controls[key[r]])) if key[r] in controls else orphans.append(r))
    if not out:
        why = (f"{len(orphans)} run(s) with an intervention have no control (same factors, "
               "intervention none)" if orphans else "no run has an intervention")
        raise data.Skip(why)
    return out, orphans


def noise_pairs(ds: xr.Dataset) -> list[tuple[int, int]]:
    """Pairs of control runs equal in every factor except seed/data_seed (and not in both)."""
    f = data.factors(ds)
    iv = f.get("intervention", np.array(["none"] * ds.sizes["run"]))
    ctrl = [r for r in range(len(iv)) if iv[r] in NONE]
    same = [k for k in f if k not in NOISE_FACTORS]
    noisy = [k for k in f if k in NOISE_FACTORS]
    out = []
    for i, a in enumerate(ctrl):
        for b in ctrl[i + 1:]:
            if all(f[k][a] == f[k][b] for k in same) and any(f[k][a] != f[k][b] for k in noisy):
                out.append((a, b))
    return out


class Series:
    """The (run, step, probe) margins and accuracies, the battery, and the eval loss."""

    def __init__(self, ds: xr.Dataset):
        self.ds = ds
        self.M = data.masked(ds, "behavior_margin").values
        self.A = data.masked(ds, "behavior").values if data.has_values(ds, "behavior") else None
        self.probes = [str(p) for p in ds["probe"].values]
        self.battery = np.array([not p.startswith("iv:") for p in self.probes])
        self.steps = data.steps(ds)
        self._loss = data.masked(ds, "loss").values if data.has_values(ds, "loss") else None
        self._lp = self._loss is None and data.has_values(ds, "logprob")
        self._lp_cache: dict[tuple[int, int], float] = {}

    def loss(self, r: int, s: int) -> float:
        if self._loss is not None:
            return float(self._loss[r, s])
        if not self._lp:
            return np.nan
        if (r, s) not in self._lp_cache:
            x = data.snapshot(self.ds, "logprob", r, s, data.valid_tokens(self.ds))
            self._lp_cache[r, s] = float(-np.nanmean(x)) if np.isfinite(x).any() else np.nan
        return self._lp_cache[r, s]

    def both(self, a: int, b: int) -> np.ndarray:
        """Step indices at which both runs have margins."""
        return np.flatnonzero(np.isfinite(self.M[a]).any(1) & np.isfinite(self.M[b]).any(1))

    def battery_delta(self, a: int, b: int, s: np.ndarray) -> np.ndarray:
        d = np.abs(self.M[a][np.ix_(s, self.battery)] - self.M[b][np.ix_(s, self.battery)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(d, 1) if d.shape[1] else np.full(len(s), np.nan)


def noise_floors(S: Series, npairs: list[tuple[int, int]], default: float) -> dict[str, float]:
    """Per probe and for the battery ("*"): max |Δ| at the last common step of control pairs."""
    out: dict[str, list[float]] = {}
    for a, b in npairs:
        s = S.both(a, b)
        if not s.size:
            continue
        t = s[-1:]
        for j, p in enumerate(S.probes):
            d = abs(S.M[a, t[0], j] - S.M[b, t[0], j])
            if np.isfinite(d):
                out.setdefault(p, []).append(float(d))
        d = S.battery_delta(a, b, t)[0]
        if np.isfinite(d):
            out.setdefault("*", []).append(float(d))
    return {k: max(v) for k, v in out.items()} | {"default": default}


def _window(name: str, branch_step: int, spec_ivs: dict) -> tuple[float, float, bool]:
    """(absolute start, absolute end, known from the spec) of an intervention run."""
    off = max(branch_step, 0)
    iv = spec_ivs.get(name)
    if iv is None or "end" not in iv:
        return float(off), float(off), False
    return float(off + int(iv.get("start", iv["end"]))), float(off + int(iv["end"])), True


def classify(peak: float, final: float, floor: float, stuck_fraction: float) -> str:
    """'no effect', 'stuck' or 'decayed' (rule in the module docstring)."""
    if not np.isfinite(peak) or abs(peak) <= floor:
        return "no effect"
    if final / peak >= stuck_fraction and abs(final) > floor:
        return "stuck"
    return "decayed"


def _follow(S: Series, r: int, c: int, name: str, bstep: int, spec_ivs: dict, floors: dict,
            stuck_fraction: float) -> tuple[dict, pd.DataFrame] | None:
    target = f"iv:{name}"
    tj = S.probes.index(target) if target in S.probes else None
    s = S.both(r, c)
    if bstep >= 0:
        s = s[S.steps[s] >= bstep]
    if not s.size:
        return None
    eff = S.M[r, s, tj] - S.M[c, s, tj] if tj is not None else np.full(len(s), np.nan)
    acc = (S.A[r, s, tj] - S.A[c, s, tj]) if (tj is not None and S.A is not None) \
        else np.full(len(s), np.nan)
    off = S.battery_delta(r, c, s)
    dloss = np.array([S.loss(r, t) - S.loss(c, t) for t in s])
    measure = eff if tj is not None and np.isfinite(eff).any() else off
    start, end, known = _window(name, bstep, spec_ivs)
    win = np.flatnonzero((S.steps[s] >= end) & np.isfinite(measure))
    if not win.size:
        win = np.flatnonzero(np.isfinite(measure))
    if not win.size:
        return None
    k = win[np.argmax(np.abs(measure[win]))]
    peak, final = float(measure[k]), float(measure[win[-1]])
    floor_key = target if tj is not None and np.isfinite(eff).any() else "*"
    floor = floors.get(floor_key, floors["default"])
    label = classify(peak, final, floor, stuck_fraction)
    names = data.runs(S.ds)
    row = {"run": names[r], "control": names[c], "intervention": name, "branch_step": bstep,
           "start_step": start, "end_step": end, "window_from_spec": known,
           "measured_on": target if floor_key != "*" else "battery mean |Δ margin|",
           "peak": peak, "peak_step": int(S.steps[s[k]]), "final": final,
           "final_step": int(S.steps[s[win[-1]]]), "retained": final / peak if peak else np.nan,
           "noise_floor": floor, "label": label,
           "final_accuracy_effect": float(acc[win[-1]]),
           "final_battery_abs_margin": float(off[win[-1]]),
           "final_loss_delta": float(dloss[win[-1]]),
           "peak_battery_abs_margin": float(np.nanmax(off[win])) if np.isfinite(off[win]).any()
           else np.nan}
    curve = pd.DataFrame({"run": names[r], "intervention": name, "branch_step": bstep,
                          "step": S.steps[s], "steps_since_end": S.steps[s] - end,
                          "target_effect": eff, "accuracy_effect": acc,
                          "battery_abs_margin": off, "loss_delta": dloss, "effect": measure})
    return row, curve


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
    (n_boot, seed, stuck_fraction, noise_floor, alpha) = (
        o.n_boot, o.seed, o.stuck_fraction, o.noise_floor, o.alpha)
    data.require(ds, "behavior_margin")
    if "probe" not in ds.dims:
        raise data.Skip("the store has no probes")
    ivpairs, orphans = pairs(ds)
    f = data.factors(ds)
    bsteps = ([int(float(x)) if x not in ("", "nan") else -1 for x in f["branch_step"]]
              if "branch_step" in f else [-1] * ds.sizes["run"])
    spec_ivs = {str(i.get("name")): i for i in (_spec(ds).get("interventions") or [])}
    S = Series(ds)
    npairs = noise_pairs(ds)
    floors = noise_floors(S, npairs, noise_floor)
    parent = f.get("parent")
    local: dict[tuple, dict] = {}

    def floors_for(r: int) -> dict:
        """Control pairs branched where run r branched, when there are any; else all pairs
        (init-seed pairs of the grid differ far more than two data orders from one state)."""
        if parent is None:
            return floors
        key = (parent[r], bsteps[r])
        if key not in local:
            near = [(a, b) for a, b in npairs if (parent[a], bsteps[a]) == key]
            local[key] = noise_floors(S, near, noise_floor) if near else floors
        return local[key]

    rows, curves = [], []
    for r, c in ivpairs:
        got = _follow(S, r, c, f["intervention"][r], bsteps[r], spec_ivs, floors_for(r),
                      stuck_fraction)
        if got is None:
            orphans.append(r)
            continue
        rows.append(got[0])
        curves.append(got[1])
    if not rows:
        raise data.Skip("no intervention run shares a measured step with its control")
    table = pd.DataFrame(rows)
    curve = pd.concat(curves, ignore_index=True)
    effective = table[table.label != "no effect"]
    ret = np.clip(effective["retained"].to_numpy(float), -0.5, 1.5)
    bim = bimodality(ret, alpha, seed)
    bim["eta2_branch_step"] = _eta2(ret, effective["branch_step"].to_numpy())
    stuck = (table.label == "stuck").to_numpy(float)
    share = bootstrap.mean_over_runs(stuck, n_boot=n_boot, seed=seed)
    mean_ret = bootstrap.mean_over_runs(effective["retained"].to_numpy(float), n_boot=n_boot,
                                        seed=seed) if len(effective) else None
    by = _by_branch_step(table, n_boot, seed)
    names = data.runs(ds)
    summary = {"n_interventions": len(table), "n_stuck": int((table.label == "stuck").sum()),
               "n_decayed": int((table.label == "decayed").sum()),
               "n_no_effect": int((table.label == "no effect").sum()),
               "share_stuck": share, "stuck_fraction": stuck_fraction,
               "noise_floor": {k: v for k, v in floors.items()},
               "noise_floor_pairs": len(npairs), "bimodality": bim,
               "without_control": [names[r] for r in orphans],
               "by_branch_step": {str(int(rw.branch_step)): {
                   "n": int(rw.n), "share_stuck": float(rw.share_stuck),
                   "mean_retained": Interval(rw.mean_retained, rw.mean_retained_low,
                                             rw.mean_retained_high)}
                   for rw in by.itertuples()}}
    if mean_ret is not None:
        summary["mean_retained"] = mean_ret
    return AnalysisResult(name="interventions", question="F (early interventions)",
                          verdict=_verdict(table, bim, share, mean_ret, by, floors, npairs),
                          summary=summary,
                          tables={"per_run": table, "effects": curve, "by_branch_step": by},
                          figures=_figures(table, curve))


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
               "possibly clustered": "possibly bimodal (one of dip test and mixture agrees)",
               "continuous": "not bimodal"}[bim["label"]]
        text += (f"; retained fractions are {how} (dip p = {bim['dip_p']:.2g}, "
                 f"ΔBIC = {bim['delta_bic']:.1f}, n = {n_eff}"
                 + (", a small sample" if n_eff < 20 else "") + ")")
        eta2 = bim.get("eta2_branch_step")
        if bim["label"] != "continuous" and eta2 is not None and eta2 >= 0.5:
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


ANALYSIS = Analysis(
    "interventions",
    "F: does an early intervention's effect decay or stick, is the outcome bimodal, and how does "
    "it depend on the branch step?",
    label="F", section="interventions", run=on_store(interventions),
    options=InterventionsOptions, inputs=StoreInputs(needs=("behavior_margin",)))

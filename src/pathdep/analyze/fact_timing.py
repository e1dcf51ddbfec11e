"""E. Fact recall by how often and when in the data order a fact was seen (issue 4, item 2).

Hebbar & Hubinger (seeds/001, concepts E/F; methods.md §11) ask whether what a
model ends up with depends on the order of its training data. Rare world facts
and canaries are the cleanest handle: the trainer records every step at which a
document stating a rare fact (``fact:<entity>:<attribute>``) or a canary
(``canary:<i>``) was in a batch, and the store keeps that record as the
attribute ``seen`` (JSON ``{run: {key: [steps]}}``, from each run's last
checkpoint). Frequent facts are not tracked (seen too often): they form the
group "frequent".

Inputs: the per-item probe results ``probe_item_correct`` / ``probe_item_margin``
of the probes ``fact_frequent``, ``fact_rare`` and ``canary_*``; an item
``fact:<e>:<a>@doc<d>`` belongs to the fact ``fact:<e>:<a>`` (several eval
documents can state one fact: their items are averaged into the fact's recall).

Per run and tracked fact: the number of sightings up to the run's final
measured step T, the first and last sighting, and recall at T. **Timing bins**
split the *fraction of training* at the last sighting, last/T, into ``bins``
equal parts (3: early, middle, late thirds), not quantiles: the question is
about position in the data order, which is the same scale in every run.
Sightings after T (a store measured before training ended) do not count.

Facts seen several times are more often last seen late, so a pooled
late-vs-early split mixes timing with frequency and with fact difficulty. Every
run has its own data order, so the same fact is early in one run and late in
another; the analysis uses that:

- **within-fact difference**: per fact, mean recall over runs that last saw it
  late minus over runs that last saw it early, averaged over facts that fall in
  both bins (a paired comparison; positive = late-seen facts are recalled better);
- **within-fact slope**: a linear probability model with fact fixed effects
  (recall and regressors demeaned within each fact), recall ~ last-seen
  fraction + log2(1 + sightings): the change in recall from a fact last seen at
  the start to one last seen at the end of training, at a fixed number of sightings.

Intervals: the Multi-Bootstrap (Sellam et al.; ``bootstrap.py``), resampling
runs and facts. An effect is called significant when its 95 % interval
excludes 0. Forgetting curves: recall at every checkpoint after a sighting, as
a function of the steps since the most recent sighting before it (bins of
log2(1 + steps)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures, power, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.fact_sightings import Facts, count_label, forgetting
from pathdep.analysis.result import AnalysisResult, Interval

# The three within-fact effects, by name (their replicates follow the groups' in the statistic).
WITHIN = ("paired", "slope_fraction", "slope_sightings")


@dataclass(frozen=True)
class Group:
    """One reported group of final recall: e.g. rare facts last seen late, or seen 2 times."""

    kind: str  # "frequent", "rare" or "canary"
    grouping: str  # "timing" or "count"
    label: str  # a timing bin ("early", ...), "never", "frequent", or a sightings range
    mask: np.ndarray  # (run, fact) cells in the group

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.grouping}:{self.label}"


def _wmean(C: np.ndarray, mask: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    W = m[:, None] * w[None, :] * mask
    den = W.sum()
    return float((W * np.nan_to_num(C)).sum() / den) if den > 0 else np.nan


def _groups(F: Facts) -> list[Group]:
    """Every reported group of final recall that holds at least one cell."""
    ok = np.isfinite(F.recall)
    out = [Group("frequent", "timing", "frequent", ok & (F.kind == "frequent")[None])]
    for kind in ("rare", "canary"):
        col = (F.kind == kind)[None]
        for b, lab in [(-1, "never"), *enumerate(F.labels)]:
            out.append(Group(kind, "timing", lab, ok & col & (F.bin == b)))
        cl = np.vectorize(count_label, otypes=[str])(F.n_seen)
        labels = sorted(set(cl[ok & col & F.known]), key=lambda x: int(x.split("-")[0].rstrip("+")))
        for lab in labels:
            out.append(Group(kind, "count", lab, ok & col & F.known & (cl == lab)))
    return [g for g in out if g.mask.any()]


def _paired(F: Facts, cols: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    """Late minus early recall within each fact (runs weighted by m, facts by w), averaged."""
    rec, bn = F.recall[:, cols], F.bin[:, cols]
    ok = np.isfinite(rec)
    late, early = ok & (bn == F.nb - 1), ok & (bn == 0)
    Cz = np.nan_to_num(rec)
    nl, dl = (m[:, None] * Cz * late).sum(0), (m[:, None] * late).sum(0)
    ne, de = (m[:, None] * Cz * early).sum(0), (m[:, None] * early).sum(0)
    both = (dl > 0) & (de > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(both, nl / np.maximum(dl, 1e-12) - ne / np.maximum(de, 1e-12), 0.0)
    wb = (w[cols] * both).sum()
    return float((w[cols] * diff * both).sum() / wb) if wb > 0 else np.nan


def _slopes(F: Facts, cols: np.ndarray, m: np.ndarray, w: np.ndarray) -> list[float]:
    """Fixed-effects slopes of recall on [last-seen fraction, log2(1 + sightings)]."""
    rec, bn = F.recall[:, cols], F.bin[:, cols]
    Cz = np.nan_to_num(rec)
    W = m[:, None] * w[cols][None] * (np.isfinite(rec) & (bn >= 0))
    X = np.stack([np.nan_to_num(F.frac[:, cols]),
                  np.log2(1 + np.nan_to_num(F.n_seen[:, cols]))], -1)
    wf = W.sum(0)
    valid = wf > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        xbar = (W[..., None] * X).sum(0) / np.where(valid, wf, 1)[:, None]
        ybar = (W * Cz).sum(0) / np.where(valid, wf, 1)
    Xd, yd = X - xbar[None], Cz - ybar[None]
    XtX = np.einsum("rf,rfi,rfj->ij", W, Xd, Xd)
    Xty = np.einsum("rf,rfi,rf->i", W, Xd, yd)
    if np.linalg.matrix_rank(XtX) == 2:
        return list(np.linalg.solve(XtX, Xty))
    if XtX[0, 0] > 0:
        return [Xty[0] / XtX[0, 0], np.nan]
    return [np.nan, np.nan]


class _Statistic:
    """The bootstrapped statistic: each group's mean recall, then the WITHIN effects.

    ``names`` labels the entries of the vector it returns (group keys, then WITHIN).
    """

    def __init__(self, F: Facts, groups: list[Group], main: np.ndarray):
        self.F, self.groups, self.main = F, groups, main
        self.names = [g.key for g in groups] + list(WITHIN)

    def __call__(self, r: np.ndarray, w: np.ndarray) -> np.ndarray:
        F = self.F
        m = np.bincount(r, minlength=len(F.runs)).astype(float)
        means = [_wmean(F.recall, g.mask, m, w) for g in self.groups]
        return np.array([*means, _paired(F, self.main, m, w), *_slopes(F, self.main, m, w)])


def _fmt(iv: Interval) -> str:
    return str(iv) if np.isfinite([iv.value, iv.low, iv.high]).all() else \
        (f"{iv.value:.2g}" if np.isfinite(iv.value) else "n/a")


class FactTimingOptions(BootOptions):
    """Options of :func:`fact_timing`."""

    bins: int = Field(3, ge=2, description="Timing bins of the last sighting (parts of training).")
    level: float = Field(0.95, gt=0, lt=1, description="Level of the intervals.")


@dataclass
class Estimates:
    """Every bootstrapped number by name: full-data value, replicates and interval."""

    full: dict[str, float]
    reps: dict[str, np.ndarray]
    ivs: dict[str, Interval]

    @classmethod
    def of(cls, stat: _Statistic, n_runs: int, n_facts: int, o: FactTimingOptions) -> Estimates:
        full = stat(np.arange(n_runs), np.ones(n_facts))
        reps = bootstrap.replicates(stat, n_runs, n_facts, n_boot=o.n_boot, seed=o.seed)
        rep = {n: reps[:, i] if reps.size else np.array([]) for i, n in enumerate(stat.names)}
        return cls(dict(zip(stat.names, full, strict=True)), rep,
                   {n: bootstrap.interval(full[i], rep[n], o.level)
                    for i, n in enumerate(stat.names)})

    def difference(self, a: str, b: str, level: float) -> Interval | None:
        """a − b with its paired replicates; None when either group is absent."""
        if a not in self.full or b not in self.full:
            return None
        reps = self.reps[a] - self.reps[b] if self.reps[a].size else np.array([])
        return bootstrap.interval(self.full[a] - self.full[b], reps, level)

    def p_value(self, name: str) -> float:
        """Two-sided bootstrap p-value of ``name`` against 0 (NaN without replicates)."""
        d = self.reps[name]
        d = d[np.isfinite(d)]
        if not d.size or not np.isfinite(self.full[name]):
            return np.nan
        return min(1.0, 2 * max(min(np.mean(d <= 0), np.mean(d >= 0)), 1 / d.size))


@dataclass
class Findings:
    """What the verdict says, by name."""

    kind: str  # "rare" or "canary"
    n_bins: int
    late: Interval | None
    early: Interval | None
    paired: Interval
    slope: Interval
    frequent: Interval | None

    @property
    def significant(self) -> bool:
        """The within-fact effect's interval excludes 0 (the paired difference, else the slope)."""
        for iv in (self.paired, self.slope):
            if np.isfinite([iv.low, iv.high]).all():
                return iv.low > 0 or iv.high < 0
        return False


def fact_timing(ds: xr.Dataset, options: FactTimingOptions | None = None,
                **overrides) -> AnalysisResult:
    """Recall at the end of training by when (timing bin of the last sighting) and how often
    a fact was seen; the within-fact effect across runs; forgetting curves."""
    o = FactTimingOptions.build(options, **overrides)
    data.require(ds, "probe_item_correct")
    F = Facts(ds, o.bins)
    groups = _groups(F)
    has = {kind: bool(((F.kind == kind)[None] & (F.bin >= 0)).any()) for kind in ("rare", "canary")}
    kind = "rare" if has["rare"] else "canary"
    main = np.flatnonzero(F.kind == kind)
    est = Estimates.of(_Statistic(F, groups, main), len(F.runs), len(F.keys), o)
    late_key, early_key = (f"{kind}:timing:{F.labels[b]}" for b in (-1, 0))
    found = Findings(kind, F.nb, est.ivs.get(late_key), est.ivs.get(early_key),
                     est.ivs["paired"], est.ivs["slope_fraction"],
                     est.ivs.get("frequent:timing:frequent"))
    pooled = est.difference(late_key, early_key, o.level)
    by = pd.DataFrame([{"kind": g.kind, "grouping": g.grouping, "group": g.label,
                        "n_cells": int(g.mask.sum()), "n_runs": int(g.mask.any(1).sum()),
                        "recall": est.ivs[g.key].value, "low": est.ivs[g.key].low,
                        "high": est.ivs[g.key].high, "margin": _mean_margin(F, g)}
                       for g in groups])
    effects = pd.DataFrame([
        {"effect": f"{kind}: late - early (pooled)", **(pooled.to_dict() if pooled else {})},
        {"effect": f"{kind}: late - early within fact (paired over runs)", **found.paired.to_dict()},
        {"effect": f"{kind}: within-fact slope on last-seen fraction", **found.slope.to_dict()},
        {"effect": f"{kind}: within-fact slope on log2(1 + sightings)",
         **est.ivs["slope_sightings"].to_dict()}])
    curves, forget = forgetting(F, tuple(k for k in ("rare", "canary") if has[k]))
    summary = {"main_kind": kind, "bins": F.labels,
               "recall_late": found.late, "recall_early": found.early, "late_minus_early": pooled,
               "within_fact_late_minus_early": found.paired,
               "within_fact_p": est.p_value("paired"),
               "within_fact_slope_fraction": found.slope,
               "within_fact_slope_log_sightings": est.ivs["slope_sightings"],
               "recall_frequent": found.frequent,
               "recall": {g.key: est.ivs[g.key] for g in groups},
               "significant": found.significant, "n_facts": int(len(main)), "n_runs": len(F.runs)}
    return AnalysisResult(
        name="fact_timing", question="E (when a fact was seen)", verdict=_verdict(found, len(F.runs)),
        summary={k: v for k, v in summary.items() if v is not None},
        tables={"recall_by_group": by, "effects": effects, "facts": F.table(),
                **({"curves": curves} if len(curves) else {}),
                **({"forgetting": forget} if len(forget) else {})},
        figures=_figures(by, curves, forget))


def _mean_margin(F: Facts, g: Group) -> float:
    v = F.final_margin[g.mask]
    return float(np.nanmean(v)) if np.isfinite(v).any() else np.nan


def _verdict(f: Findings, n_runs: int) -> str:
    noun = "Rare facts" if f.kind == "rare" else "Canaries"
    last = "the final third" if f.n_bins == 3 else f"the last 1/{f.n_bins}"
    first = "the first third" if f.n_bins == 3 else f"the first 1/{f.n_bins}"
    parts = []
    if f.late is not None and f.early is not None:
        parts.append(f"{noun} last seen in {last} of training are recalled at {_fmt(f.late)}, "
                     f"those last seen in {first} at {_fmt(f.early)}")
    elif f.late is not None or f.early is not None:
        which, iv = (last, f.late) if f.late is not None else (first, f.early)
        parts.append(f"{noun} last seen in {which} of training are recalled at {_fmt(iv)}")
    else:
        parts.append(f"{noun} were not last seen in both {first} and {last} of training")
    if np.isfinite(f.paired.value):
        parts.append(f"comparing the same fact across runs (whose data orders differ), recall "
                     f"when last seen late minus early is {_fmt(f.paired)}")
    elif np.isfinite(f.slope.value):
        parts.append(f"within facts, recall changes by {_fmt(f.slope)} from last seen at the "
                     f"start to the end of training")
    positive = f.paired.value > 0 or (not np.isfinite(f.paired.value) and f.slope.value > 0)
    how = ("recall depends on when in the data order a fact was seen" if f.significant and
           positive else
           "facts seen late are recalled worse, not better" if f.significant else
           "no clear dependence on when in the data order a fact was seen")
    text = "; ".join(parts) + f": {how}"
    if f.frequent is not None:
        text += f" (frequent facts: {_fmt(f.frequent)})"
    limit = None if f.significant else power.cannot_tell("fact_timing", n_runs)
    return text + (f", {limit}." if limit else ".")


def _figures(by: pd.DataFrame, curves: pd.DataFrame, forget: pd.DataFrame) -> dict:
    figs = {}
    t = by[by.grouping == "timing"].copy()
    if len(t):
        t["bar"] = t["kind"] + ": " + t["group"]
        figs["recall_by_timing"] = figures.bars(
            t, "bar", "recall", title="Final recall by when the fact was last seen "
            "(bootstrap intervals over runs and facts)", err=("low", "high"))
    c = by[by.grouping == "count"].copy()
    if len(c):
        figs["recall_by_count"] = figures.bars(c, "group", "recall", "kind", err=("low", "high"),
                                               title="Final recall by number of sightings")
    if len(curves):
        curves = curves.assign(line=curves["kind"] + ": last seen " + curves["timing"])
        figs["recall_over_steps"] = figures.lines(
            curves, "step", "recall", "line", title="Recall over training, by when the fact was "
            "last seen (final timing bin)")
    if len(forget):
        fig = go.Figure()
        for kind, g in forget.groupby("kind", sort=False):
            err = {"type": "data", "symmetric": False, "array": g["high"] - g["recall"],
                   "arrayminus": g["recall"] - g["low"]}
            fig.add_trace(go.Scatter(x=g["steps_since_mid"], y=g["recall"], mode="lines+markers",
                                     name=str(kind), error_y=err))
        fig.update_layout(title="Forgetting: recall vs steps since the latest sighting",
                          xaxis_title="steps since last seen", yaxis_title="recall")
        fig.update_xaxes(type="log")
        figs["forgetting"] = fig
    return figs


def _simulated(n_runs: int, seed: int, tau: float | None) -> xr.Dataset:
    """40 rare facts (each seen 1-3 times at random steps of every run's own data order), 10
    frequent ones and 6 canaries over 12 checkpoints, steps 0-1100 (simulate.with_fact_items).
    Null (``tau`` None): each fact recalled at its own rate, uniform on 0.2-0.8, whenever it
    was seen; planted: recall 0.1 + 0.8 exp(-steps since the last sighting / ``tau``)."""
    ds = simulate.store(n_runs, np.arange(12) * 100, seed=seed)
    return simulate.with_fact_items(ds, tau=tau, seed=seed, spread=0.3)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, None),
    planted=lambda n, seed: _simulated(n, seed, 600.0),
    claims=lambda res: bool(res.summary.get("significant", False)),
    effect="recall decaying with steps since a fact was last seen (time constant 55 % of training)",
    options={"n_boot": 100})

ANALYSIS = Analysis(
    "fact_timing",
    "E: is a fact recalled at the end depending on how often and when in the data order it was "
    "seen?",
    label="E", section="behaviours", run=on_store(fact_timing),
    options=FactTimingOptions, inputs=StoreInputs(needs=("probe_item_correct",)),
    simulation=SIMULATION)

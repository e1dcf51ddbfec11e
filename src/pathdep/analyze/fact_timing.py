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

import json
import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures
from pathdep.analysis.contract import Analysis, BootOptions, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult, Interval

FACT_PROBES = {"fact_frequent": "frequent", "fact_rare": "rare"}
CANARY_PROBES = ("canary_early", "canary_late", "canary_none")
COUNT_EDGES = (0, 1, 2, 3, 4, 8)  # sightings groups: 0, 1, 2, 3, 4-7, 8+


def parse_seen(ds: xr.Dataset) -> dict[str, dict[str, list[int]]]:
    """The store attribute ``seen`` as {run: {key: sorted steps}}; Skip when absent or empty."""
    raw = ds.attrs.get("seen")
    if raw is None or raw == "" or raw == {}:
        raise data.Skip("the store has no `seen` attribute (the steps at which each rare fact "
                        "and canary was in a batch)")
    seen = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(seen, dict) or not seen:
        raise data.Skip("the store's `seen` attribute is empty")
    return {str(r): {str(k): sorted(int(s) for s in v) for k, v in (d or {}).items()}
            for r, d in seen.items()}


def _labels(nb: int) -> list[str]:
    return ["early", "middle", "late"] if nb == 3 else [f"{i}/{nb}-{i + 1}/{nb}" for i in range(nb)]


def _count_label(n: float) -> str:
    if not np.isfinite(n):
        return ""
    i = int(np.searchsorted(COUNT_EDGES, n, side="right")) - 1
    lo = COUNT_EDGES[i]
    hi = COUNT_EDGES[i + 1] - 1 if i + 1 < len(COUNT_EDGES) else None
    return f"{lo}" if hi == lo else (f"{lo}-{hi}" if hi is not None else f"{lo}+")


class Facts:
    """Fact-level recall (run, step, fact) and sightings (run, fact) read from the store."""

    def __init__(self, ds: xr.Dataset, bins: int):
        if "item" not in ds.dims or "item_probe" not in ds.coords or "item_id" not in ds.coords:
            raise data.Skip("the store has no probe items (item_probe, item_id)")
        probe = np.array([str(p) for p in ds["item_probe"].values])
        ids = np.array([str(i) for i in ds["item_id"].values])
        is_fact = np.isin(probe, list(FACT_PROBES))
        if not is_fact.any():
            raise data.Skip("the store has no fact items (probes fact_frequent, fact_rare)")
        use = np.flatnonzero(is_fact | np.isin(probe, CANARY_PROBES))
        keys = np.array([ids[i].split("@")[0] for i in use])
        kind = np.array([FACT_PROBES.get(probe[i], "canary") for i in use])
        self.keys, first = np.unique(keys, return_index=True)
        self.kind = kind[first]
        self.probe = probe[use][first]
        self.n_items = np.array([(keys == k).sum() for k in self.keys])
        corr = data.masked(ds, "probe_item_correct").isel(item=use).values
        marg = (data.masked(ds, "probe_item_margin").isel(item=use).values
                if data.has_values(ds, "probe_item_margin") else np.full(corr.shape, np.nan))
        self.runs, self.steps = data.runs(ds), data.steps(ds)
        R, S, K = len(self.runs), len(self.steps), len(self.keys)
        self.correct, self.margin = np.full((R, S, K), np.nan), np.full((R, S, K), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: not measured
            for k, key in enumerate(self.keys):
                idx = np.flatnonzero(keys == key)
                self.correct[:, :, k] = np.nanmean(corr[:, :, idx], 2)
                self.margin[:, :, k] = np.nanmean(marg[:, :, idx], 2)
        measured = np.isfinite(self.correct).any(2)
        if not measured.any():
            raise data.Skip("no fact item is measured in a done job")
        self.final_i = np.array([np.flatnonzero(m)[-1] if m.any() else -1 for m in measured])
        self.final_step = np.where(self.final_i >= 0, self.steps[np.maximum(self.final_i, 0)], -1)
        self._sightings(parse_seen(ds), bins)

    def _sightings(self, seen: dict, nb: int) -> None:
        R, K = len(self.runs), len(self.keys)
        self.tracked = self.kind != "frequent"
        self.known = np.zeros((R, K), bool)  # the run is in `seen` (so not seen = never)
        self.sight: dict[tuple[int, int], np.ndarray] = {}
        self.n_seen, self.first, self.last = (np.full((R, K), np.nan) for _ in range(3))
        for r, run in enumerate(self.runs):
            if run not in seen or self.final_i[r] < 0:
                continue
            for k in np.flatnonzero(self.tracked):
                s = np.asarray(seen[run].get(self.keys[k], []), dtype=np.int64)
                s = s[s <= self.final_step[r]]
                self.known[r, k] = True
                self.sight[r, k] = s
                self.n_seen[r, k] = len(s)
                if len(s):
                    self.first[r, k], self.last[r, k] = s[0], s[-1]
        if not any(len(s) for s in self.sight.values()):
            raise data.Skip("no rare fact or canary of the probes was seen in any run's `seen` "
                            "record (or no run of `seen` is in the store)")
        self.frac = self.last / np.maximum(self.final_step, 1)[:, None]
        self.bin = np.full((R, K), -2)  # -2 unknown / not tracked, -1 never seen
        self.bin[self.known] = -1
        seen_ok = self.known & np.isfinite(self.frac)
        self.bin[seen_ok] = np.minimum((self.frac[seen_ok] * nb).astype(int), nb - 1)
        self.nb, self.labels = nb, _labels(nb)
        fi = np.maximum(self.final_i, 0)
        self.recall = np.where(self.final_i[:, None] >= 0, self.correct[np.arange(R), fi], np.nan)
        self.final_margin = np.where(self.final_i[:, None] >= 0, self.margin[np.arange(R), fi],
                                     np.nan)

    def table(self) -> pd.DataFrame:
        rows = []
        for r, run in enumerate(self.runs):
            for k, key in enumerate(self.keys):
                if not np.isfinite(self.recall[r, k]):
                    continue
                b = self.bin[r, k]
                timing = ("frequent" if self.kind[k] == "frequent" else
                          "unknown" if b == -2 else "never" if b == -1 else self.labels[b])
                rows.append({"run": run, "fact": key, "kind": self.kind[k], "probe": self.probe[k],
                             "n_items": int(self.n_items[k]), "n_seen": self.n_seen[r, k],
                             "first_seen": self.first[r, k], "last_seen": self.last[r, k],
                             "final_step": int(self.final_step[r]),
                             "last_seen_frac": self.frac[r, k], "timing": timing,
                             "recall": self.recall[r, k], "margin": self.final_margin[r, k]})
        return pd.DataFrame(rows)


def _wmean(C: np.ndarray, mask: np.ndarray, m: np.ndarray, w: np.ndarray) -> float:
    W = m[:, None] * w[None, :] * mask
    den = W.sum()
    return float((W * np.nan_to_num(C)).sum() / den) if den > 0 else np.nan


def _groups(F: Facts) -> list[tuple[str, str, str, np.ndarray]]:
    """(kind, grouping, label, (run, fact) mask) of every reported group of final recall."""
    ok = np.isfinite(F.recall)
    out = [("frequent", "timing", "frequent", ok & (F.kind == "frequent")[None])]
    for kind in ("rare", "canary"):
        col = (F.kind == kind)[None]
        for b, lab in [(-1, "never"), *enumerate(F.labels)]:
            out.append((kind, "timing", lab, ok & col & (F.bin == b)))
        cl = np.vectorize(_count_label, otypes=[str])(F.n_seen)
        labels = sorted(set(cl[ok & col & F.known]), key=lambda x: int(x.split("-")[0].rstrip("+")))
        for lab in labels:
            out.append((kind, "count", lab, ok & col & F.known & (cl == lab)))
    return [g for g in out if g[3].any()]


def _within(F: Facts, cols: np.ndarray, m: np.ndarray, w: np.ndarray) -> np.ndarray:
    """[late − early within fact, slope on last-seen fraction, slope on log2(1 + sightings)]."""
    rec, bn = F.recall[:, cols], F.bin[:, cols]
    ok = np.isfinite(rec)
    late, early = ok & (bn == F.nb - 1), ok & (bn == 0)
    Cz = np.nan_to_num(rec)
    nl, dl = (m[:, None] * Cz * late).sum(0), (m[:, None] * late).sum(0)
    ne, de = (m[:, None] * Cz * early).sum(0), (m[:, None] * early).sum(0)
    both = (dl > 0) & (de > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(both, nl / np.maximum(dl, 1e-12) - ne / np.maximum(de, 1e-12), 0.0)
    paired = float((w[cols] * diff * both).sum() / (w[cols] * both).sum()) \
        if (w[cols] * both).sum() > 0 else np.nan
    seen = ok & (bn >= 0)
    W = m[:, None] * w[cols][None] * seen
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
    slopes = [np.nan, np.nan]
    if np.linalg.matrix_rank(XtX) == 2:
        slopes = list(np.linalg.solve(XtX, Xty))
    elif XtX[0, 0] > 0:
        slopes = [Xty[0] / XtX[0, 0], np.nan]
    return np.array([paired, *slopes])


def _statistic(F: Facts, groups, main: np.ndarray):
    R = len(F.runs)

    def stat(r, w):
        m = np.bincount(r, minlength=R).astype(float)
        means = [_wmean(F.recall, g[3], m, w) for g in groups]
        return np.array([*means, *_within(F, main, m, w)])
    return stat


def _forgetting(F: Facts, kinds: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-step recall by final timing bin, and recall by steps since the latest sighting."""
    R, S, _ = F.correct.shape
    curve_rows = []
    for kind in kinds:
        col = F.kind == kind
        for b, lab in enumerate(F.labels):
            mask = (F.bin == b) & col[None]
            if not mask.any():
                continue
            for s in range(S):
                v = F.correct[:, s][mask]
                v = v[np.isfinite(v)]
                if v.size:
                    curve_rows.append({"kind": kind, "timing": lab, "step": int(F.steps[s]),
                                       "recall": float(v.mean()), "n": int(v.size)})
    n_bins = int(np.ceil(np.log2(F.steps.max() + 2))) + 1
    forget_rows = []
    for kind in kinds:
        num, den = np.zeros((R, n_bins)), np.zeros((R, n_bins))
        for (r, k), s in F.sight.items():
            if F.kind[k] != kind or not len(s):
                continue
            c = F.correct[r, :, k]
            for j in np.flatnonzero(np.isfinite(c)):
                before = s[s <= F.steps[j]]
                if before.size:
                    code = int(np.log2(F.steps[j] - before[-1] + 1))
                    num[r, code] += c[j]
                    den[r, code] += 1
        used = np.flatnonzero(den.sum(0) > 0)
        if not used.size:
            continue
        val = num.sum(0)[used] / den.sum(0)[used]

        def stat(rr, _w, num=num, den=den, used=used):
            with np.errstate(invalid="ignore", divide="ignore"):
                return num[rr].sum(0)[used] / den[rr].sum(0)[used]
        reps = bootstrap.replicates(stat, R, n_boot=200, seed=0)
        for i, c in enumerate(used):
            iv = bootstrap.interval(val[i], reps[:, i] if reps.size else np.array([]))
            lo, hi = 2 ** c - 1, 2 ** (c + 1) - 2
            forget_rows.append({"kind": kind,
                                "steps_since_seen": f"{lo}-{hi}" if hi > lo else f"{lo}",
                                "steps_since_mid": float(np.sqrt((lo + 0.5) * (hi + 0.5))),
                                "recall": iv.value, "low": iv.low, "high": iv.high,
                                "n": int(den.sum(0)[c])})
    return pd.DataFrame(curve_rows), pd.DataFrame(forget_rows)


def _fmt(iv: Interval) -> str:
    return str(iv) if np.isfinite([iv.value, iv.low, iv.high]).all() else \
        (f"{iv.value:.2g}" if np.isfinite(iv.value) else "n/a")


class FactTimingOptions(BootOptions):
    """Options of :func:`fact_timing`."""

    bins: int = Field(3, ge=2, description="Timing bins of the last sighting (parts of training).")
    level: float = Field(0.95, gt=0, lt=1, description="Level of the intervals.")


def fact_timing(ds: xr.Dataset, options: FactTimingOptions | None = None,
                **overrides) -> AnalysisResult:
    """Recall at the end of training by when (timing bin of the last sighting) and how often
    a fact was seen; the within-fact effect across runs; forgetting curves."""
    o = FactTimingOptions.build(options, **overrides)
    n_boot, seed, bins, level = o.n_boot, o.seed, o.bins, o.level
    data.require(ds, "probe_item_correct")
    F = Facts(ds, bins)
    groups = _groups(F)
    has = {kind: bool(((F.kind == kind)[None] & (F.bin >= 0)).any()) for kind in ("rare", "canary")}
    main_kind = "rare" if has["rare"] else "canary"
    main = np.flatnonzero(F.kind == main_kind)
    stat = _statistic(F, groups, main)
    R, K = len(F.runs), len(F.keys)
    full = stat(np.arange(R), np.ones(K))
    reps = bootstrap.replicates(stat, R, K, n_boot=n_boot, seed=seed)
    ivs = [bootstrap.interval(full[i], reps[:, i] if reps.size else np.array([]), level)
           for i in range(len(full))]
    rows = [{"kind": g[0], "grouping": g[1], "group": g[2],
             "n_cells": int(g[3].sum()), "n_runs": int(g[3].any(1).sum()),
             "recall": iv.value, "low": iv.low, "high": iv.high,
             "margin": float(np.nanmean(F.final_margin[g[3]])) if np.isfinite(
                 F.final_margin[g[3]]).any() else np.nan}
            for g, iv in zip(groups, ivs, strict=False)]
    by = pd.DataFrame(rows)
    index = {g[:3]: i for i, g in enumerate(groups)}
    lookup = {g[:3]: iv for g, iv in zip(groups, ivs, strict=False)}
    paired, slope_t, slope_n = ivs[len(groups):]
    i_late, i_early = (index.get((main_kind, "timing", F.labels[b])) for b in (-1, 0))
    late, early = lookup.get((main_kind, "timing", F.labels[-1])), \
        lookup.get((main_kind, "timing", F.labels[0]))
    pooled = None
    if i_late is not None and i_early is not None:
        pooled = bootstrap.interval(full[i_late] - full[i_early], reps[:, i_late] - reps[:, i_early]
                                    if reps.size else np.array([]), level)
    p = np.nan
    if reps.size and np.isfinite(full[len(groups)]):
        d = reps[:, len(groups)]
        d = d[np.isfinite(d)]
        if d.size:
            p = min(1.0, 2 * max(min(np.mean(d <= 0), np.mean(d >= 0)), 1 / d.size))
    effects = pd.DataFrame([
        {"effect": f"{main_kind}: late - early (pooled)", **(pooled.to_dict() if pooled else {})},
        {"effect": f"{main_kind}: late - early within fact (paired over runs)", **paired.to_dict()},
        {"effect": f"{main_kind}: within-fact slope on last-seen fraction", **slope_t.to_dict()},
        {"effect": f"{main_kind}: within-fact slope on log2(1 + sightings)", **slope_n.to_dict()}])
    curves, forget = _forgetting(F, tuple(k for k in ("rare", "canary") if has[k]))
    items = F.table()
    summary = {"main_kind": main_kind, "bins": F.labels,
               "recall_late": late, "recall_early": early, "late_minus_early": pooled,
               "within_fact_late_minus_early": paired, "within_fact_p": p,
               "within_fact_slope_fraction": slope_t, "within_fact_slope_log_sightings": slope_n,
               "recall_frequent": lookup.get(("frequent", "timing", "frequent")),
               "recall": {f"{g[0]}:{g[1]}:{g[2]}": iv for g, iv in zip(groups, ivs, strict=False)},
               "significant": bool(_significant(paired, slope_t)),
               "n_facts": int(len(main)), "n_runs": R}
    return AnalysisResult(
        name="fact_timing", question="E (when a fact was seen)",
        verdict=_verdict(main_kind, F, late, early, paired, slope_t, lookup,
                         summary["significant"]),
        summary={k: v for k, v in summary.items() if v is not None},
        tables={"recall_by_group": by, "effects": effects, "facts": items,
                **({"curves": curves} if len(curves) else {}),
                **({"forgetting": forget} if len(forget) else {})},
        figures=_figures(by, curves, forget))


def _significant(paired: Interval, slope: Interval) -> bool:
    """The within-fact effect's interval excludes 0 (the paired difference, else the slope)."""
    for iv in (paired, slope):
        if np.isfinite([iv.low, iv.high]).all():
            return iv.low > 0 or iv.high < 0
    return False


def _verdict(kind, F, late, early, paired, slope, lookup, significant) -> str:
    noun = "Rare facts" if kind == "rare" else "Canaries"
    last = "the final third" if F.nb == 3 else f"the last 1/{F.nb}"
    first = "the first third" if F.nb == 3 else f"the first 1/{F.nb}"
    parts = []
    if late is not None and early is not None:
        parts.append(f"{noun} last seen in {last} of training are recalled at {_fmt(late)}, "
                     f"those last seen in {first} at {_fmt(early)}")
    elif late is not None or early is not None:
        which, iv = (last, late) if late is not None else (first, early)
        parts.append(f"{noun} last seen in {which} of training are recalled at {_fmt(iv)}")
    else:
        parts.append(f"{noun} were not last seen in both {first} and {last} of training")
    if np.isfinite(paired.value):
        parts.append(f"comparing the same fact across runs (whose data orders differ), recall "
                     f"when last seen late minus early is {_fmt(paired)}")
    elif np.isfinite(slope.value):
        parts.append(f"within facts, recall changes by {_fmt(slope)} from last seen at the start "
                     f"to the end of training")
    freq = lookup.get(("frequent", "timing", "frequent"))
    how = ("recall depends on when in the data order a fact was seen" if significant and
           (paired.value > 0 or (not np.isfinite(paired.value) and slope.value > 0)) else
           "facts seen late are recalled worse, not better" if significant else
           "no clear dependence on when in the data order a fact was seen")
    text = "; ".join(parts) + f": {how}"
    if freq is not None:
        text += f" (frequent facts: {_fmt(freq)})"
    return text + "."


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


ANALYSIS = Analysis(
    "fact_timing",
    "E: is a fact recalled at the end depending on how often and when in the data order it was "
    "seen?",
    label="E", section="behaviours", run=on_store(fact_timing),
    options=FactTimingOptions, inputs=StoreInputs(needs=("probe_item_correct",)))

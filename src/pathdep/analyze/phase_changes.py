"""Phase changes: change points in head scores, the ICL score and behaviour curves (methods.md §1).

Each run's curve of each signal (the strongest head per head-score kind, the
ICL score, each behaviour probe) is segmented with ruptures' PELT (cost
``l2``, penalty 6·σ²·ln T with σ the noise estimated from the median absolute
first difference, minimum segment 2 checkpoints). The change with the
largest jump between the segments it separates is the signal's main change,
dated at the first checkpoint after it. Per run this gives the step at which
induction heads form (the main change of ``heads:induction_head``, the score of
the run's best induction head as analysis/circuits.py defines it: prefix
matching, counted only while the head copies), the step at which
previous-token heads form (``heads:previous_token_head``): a run counts as
formed when a head holds the role in a spell of three checkpoints
(circuits.first_formed, the definition circuit survival uses), and is dated at
its qualifying main change, else its largest qualifying rise, else the spell's
first checkpoint; and the step at which the ICL score jumps (Olsson et al.: it falls from about −0.1 to about
−0.4 nats). Across runs: the median of each with an interval, their
spread (s.d. of log10 step), and the paired difference of the two (log10
step) with Sellam et al.'s paired bootstrap; the two *coincide* when that
interval lies within ± one checkpoint spacing, *differ* when it excludes 0.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from pathdep.analysis import bootstrap, circuits, curve_fit, data, figures, properties, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult, Interval

log = logging.getLogger(__name__)
INDUCTION, PREVIOUS, ICL = "heads:induction_head", "heads:previous_token_head", "icl_score"
HEAD_SIGNALS = {INDUCTION: "induction", PREVIOUS: "previous_token"}  # signal -> circuits role
PENALTY = 6.0  # × σ² ln T: about 1 % false changes on pure noise of 40 points, 3σ jumps found
# A change point alone is not a phase change: noise and slow drifts have them too.
# A head kind forms at a rise of its best head's score that leaves the run formed
# (the segment after the change at least circuits.THRESHOLD on average). The ICL
# score counts as jumped when it falls by at least ICL_MIN_DROP nats to below
# -ICL_MIN_DROP (Olsson et al.: from above -0.15 to about -0.4).
ICL_MIN_DROP = 0.1
QUALIFIES = {
    **{sig: (lambda t: lambda jump, after: jump > 0 and after >= t)(circuits.THRESHOLD[role])
       for sig, role in HEAD_SIGNALS.items()},
    ICL: lambda jump, after: jump <= -ICL_MIN_DROP and after <= -ICL_MIN_DROP,
}


def change_points(y: np.ndarray, min_size: int = 2) -> list[int]:
    """Indices (first point of each new segment) of the change points of ``y``."""
    import ruptures as rpt

    y = np.asarray(y, dtype=float)
    if len(y) < 2 * min_size + 1:
        return []
    sigma = float(curve_fit.noise_sd(y))
    sigma = max(sigma, 1e-3 * (np.ptp(y) or 1.0))
    bkps = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(y).predict(
        pen=PENALTY * sigma**2 * np.log(len(y)))
    return [b for b in bkps if b < len(y)]


def main_change(y: np.ndarray, cps: list[int] | None = None) -> tuple[int | None, float]:
    """(index, jump) of the change with the largest jump between adjacent segment means."""
    cps = change_points(y) if cps is None else cps
    if not cps:
        return None, 0.0
    edges = [0, *cps, len(y)]
    means = [y[a:b].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    jumps = np.diff(means)
    k = int(np.argmax(np.abs(jumps)))
    return cps[k], float(jumps[k])


def signals(ds: xr.Dataset) -> xr.DataArray:
    """The scalar properties plus each head kind's circuit signal (circuits.strongest)."""
    P = properties.scalar_properties(ds)
    kinds = {str(k) for k in ds["kind"].values} if data.has_values(ds, "head_score") else set()
    extra = [sig for sig, role in HEAD_SIGNALS.items() if role in kinds]
    if not extra:
        return P
    arr = np.stack([circuits.strongest(ds, HEAD_SIGNALS[sig]) for sig in extra], -1)
    E = xr.DataArray(arr, dims=("run", "step", "property"),
                     coords={"run": P["run"].values, "step": P["step"].values,
                             "property": extra, "family": ("property", ["heads"] * len(extra)),
                             "chance": ("property", [np.nan] * len(extra)),
                             "n_items": ("property", [0] * len(extra))})
    return xr.concat([P, E], dim="property")


def _detect(P: xr.DataArray) -> pd.DataFrame:
    """One row per (run, signal, change point) with its step and jump; main ones flagged."""
    rows, st = [], P["step"].values
    for r, run in enumerate(P["run"].values):
        for p in P["property"].values:
            if not (p.startswith(("heads:", "behavior:")) or p == ICL):
                continue
            v = P.sel(property=p).values[r]
            ok = np.flatnonzero(np.isfinite(v))
            cp = change_points(v[ok])
            main, _ = main_change(v[ok], cp)
            edges = [0, *cp, len(ok)]
            for a, b, c in zip(edges[:-2], edges[1:-1], edges[2:], strict=True):
                rows.append({"run": str(run), "signal": str(p), "step": int(st[ok[b]]),
                             "before": v[ok[a:b]].mean(), "after": v[ok[b:c]].mean(),
                             "jump": v[ok[b:c]].mean() - v[ok[a:b]].mean(), "main": b == main})
    return pd.DataFrame(rows, columns=["run", "signal", "step", "before", "after", "jump", "main"])


def _event_steps(cps: pd.DataFrame, signal: str, runs: list[str],
                 formed: np.ndarray | None = None) -> np.ndarray:
    """Per run, the step of the signal's main change if it is a real phase change (QUALIFIES).

    For a head signal, ``formed`` (per run, circuits.first_formed: NaN = never) decides
    which runs formed, as circuit survival decides it; a run that formed is dated at its
    main change if that qualifies, else at its largest qualifying rise, else at the first
    checkpoint of the spell (a rise too gradual for a change point)."""
    ok = QUALIFIES.get(signal, lambda jump, after: True)
    sig = cps[cps["signal"] == signal]
    main = sig[sig["main"]]
    m = {r.run: float(r.step) for r in main.itertuples() if ok(r.jump, r.after)}
    if formed is None:
        return np.array([m.get(r, np.nan) for r in runs])
    rises = sig[np.array([bool(ok(j, a)) for j, a in zip(sig["jump"], sig["after"], strict=True)],
                         dtype=bool)]  # an empty list would select columns, not rows
    best = {run: float(g.loc[g["jump"].idxmax(), "step"]) for run, g in rises.groupby("run")}
    return np.array([np.nan if not np.isfinite(f) else m.get(r, best.get(r, f))
                     for r, f in zip(runs, formed, strict=True)])


def _formed(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per head signal the store measured, circuits.first_formed of its role."""
    kinds = {str(k) for k in ds["kind"].values} if data.has_values(ds, "head_score") else set()
    return {sig: circuits.first_formed(ds, role) for sig, role in HEAD_SIGNALS.items()
            if role in kinds}


def formation_steps(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per head role the step at which each run's heads of that role formed (NaN: never),
    dated as the phase-change verdict dates it (``{"induction": ..., "previous_token": ...}``;
    roles the store did not measure are absent). factor_variance decomposes these."""
    P = signals(ds)
    sigs = [s for s in HEAD_SIGNALS if s in P["property"].values]
    if not sigs:
        return {}
    cps = _detect(P.sel(property=sigs))
    names, formed = data.runs(ds), _formed(ds)
    return {HEAD_SIGNALS[s]: _event_steps(cps, s, names, formed.get(s)) for s in sigs}


def _spacing(st: np.ndarray, around: np.ndarray) -> float:
    """Median log10 spacing of the checkpoints near the events."""
    ls = np.log10(st[st > 0].astype(float))
    if len(ls) < 2 or not np.isfinite(around).any():
        return np.nan
    gaps = np.diff(ls)
    near = np.searchsorted(ls, np.log10(around[np.isfinite(around) & (around > 0)]))
    return float(np.median(gaps[np.clip(near - 1, 0, len(gaps) - 1)]))


MIN_TIMING_RUNS = 3  # fewer runs with both events: no spread and no coincide/differ claim


def _bounded(iv: Interval, st: np.ndarray) -> Interval:
    """An interval of an event step, widened to the checkpoint before its low end.

    An event is dated at the first checkpoint after it, so it happened somewhere
    after the previous checkpoint: an interval narrower than that gap (all runs
    at one checkpoint gives [s, s]) says more than the schedule can.
    """
    if not np.isfinite([iv.value, iv.low]).all():
        return iv
    before = st[st < iv.low]
    low = float(before.max()) if before.size else iv.low
    return Interval(iv.value, min(low, iv.low), iv.high, iv.level, iv.n_boot)


def per_run_coincidence(ind: np.ndarray, icl: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Per run: True when the ICL jump is dated within one checkpoint of induction-head
    formation (at the same checkpoint, or the one before or after: an event is dated at the
    first checkpoint after it, so that is the schedule's resolution), False when it is
    further away, None when the run shows only one of the two or neither."""
    pos = {int(s): i for i, s in enumerate(st)}
    out = np.full(len(ind), None, dtype=object)
    for r, (a, b) in enumerate(zip(ind, icl, strict=True)):
        if np.isfinite(a) and np.isfinite(b):
            out[r] = bool(abs(pos[int(a)] - pos[int(b)]) <= 1)
    return out


def _timing(ev: dict[str, np.ndarray], st: np.ndarray, n_boot: int, seed: int) -> dict:
    """Median step and spread (s.d. of log10 step) of each event over runs; ICL vs induction."""
    out = {}
    for name, v in ev.items():
        if np.isfinite(v).sum():
            iv = bootstrap.mean_over_runs(v, fn=np.nanmedian, n_boot=n_boot, seed=seed)
            out[name] = _bounded(iv, st)
            if np.isfinite(v).sum() >= MIN_TIMING_RUNS:
                lv = np.log10(np.where(v > 0, v, np.nan))
                out[name.replace("step", "spread")] = bootstrap.mean_over_runs(
                    lv, fn=lambda x: np.nanstd(x), n_boot=n_boot, seed=seed)
    ind, icl = ev["induction_step"], ev["icl_jump_step"]
    both = np.isfinite(ind) & np.isfinite(icl) & (ind > 0) & (icl > 0)
    out["n_both"] = int(both.sum())
    if both.sum() >= MIN_TIMING_RUNS:
        cmp = bootstrap.compare(np.log10(ind[both]), np.log10(icl[both]), n_boot=n_boot, seed=seed)
        tol = _spacing(st, np.r_[ind[both], icl[both]])
        d = cmp["delta"]
        out["difference_log10"] = d
        # Equivalence within one checkpoint spacing (Schuirmann's two one-sided tests read as an
        # interval), or a difference beyond it: exclusive by construction.
        out["coincide"] = bool(d.low >= -tol and d.high <= tol)
        out["differ"] = bool(d.low > tol or d.high < -tol)
        out["tolerance_log10"] = tol
    return out


MODEL_FACTORS = ("arch", "n_layers", "n_heads", "d_model", "rotary_pct")  # change the model itself


def formed_by_factor(ds: xr.Dataset, steps: np.ndarray) -> pd.DataFrame:
    """Per level of each model factor that varies (architecture, layers, ...): runs, and
    runs whose induction heads formed (a finite formation step)."""
    rows = []
    for f in MODEL_FACTORS:
        if f"factor_{f}" not in ds.coords:
            continue
        levels = np.asarray(ds[f"factor_{f}"].values).astype(str)
        if len(set(levels)) < 2:
            continue
        for lv in sorted(set(levels)):
            m = levels == lv
            rows.append({"factor": f, "level": lv, "runs": int(m.sum()),
                         "formed": int(np.isfinite(steps[m]).sum())})
    return pd.DataFrame(rows, columns=["factor", "level", "runs", "formed"])


def _by_factor_text(by: pd.DataFrame) -> str:
    """' (arch gpt2: 0 of 16, gpt_neox: 15 of 16; n_layers 1: 0 of 1, 2: 15 of 32)' or ''."""
    if not len(by):
        return ""
    parts = [f"{f} " + ", ".join(f"{r.level}: {r.formed} of {r.runs}" for r in g.itertuples())
             for f, g in by.groupby("factor", sort=False)]
    return " (" + "; ".join(parts) + ")"


def _verdict(n_runs: int, ev: dict[str, np.ndarray], t: dict, by: pd.DataFrame | None = None
             ) -> str:
    n = {k: int(np.isfinite(v).sum()) for k, v in ev.items()}
    parts = []
    if "induction_step" in t:
        parts.append(f"Induction heads formed in {n['induction_step']} of {n_runs} runs"
                     f"{_by_factor_text(by if by is not None else pd.DataFrame())}, at "
                     f"step {t['induction_step']} (median; the interval starts at the checkpoint "
                     "before)" + (f", spread {t['induction_spread'].value:.2g} decades" if
                                  "induction_spread" in t else ""))
    else:
        parts.append(f"No run formed induction heads (no head rose to "
                     f"{circuits.describe('induction')})")
    if "previous_token_step" in t:
        parts.append(f"previous-token heads in {n['previous_token_step']} of {n_runs} runs, at "
                     f"step {t['previous_token_step']}")
    if "icl_jump_step" in t:
        parts.append(f"the ICL score jumped in {n['icl_jump_step']} of {n_runs} runs, at "
                     f"step {t['icl_jump_step']}")
    else:
        parts.append(f"the ICL score fell by {ICL_MIN_DROP} nats or more in none of the {n_runs} runs")
    if t.get("n_both"):
        parts.append(f"in {t['n_coincide_runs']} of the {t['n_both']} run(s) showing both, the "
                     "ICL jump is dated within one checkpoint of induction-head formation")
    if "difference_log10" in t:
        how = ("coincide with" if t["coincide"] else "differ from" if t["differ"] else
               "cannot be told apart from")
        parts.append(f"the ICL jumps {how} head formation (difference "
                     f"{t['difference_log10']} decades; one checkpoint spacing is "
                     f"{t['tolerance_log10']:.2g})")
    elif "induction_step" in t and "icl_jump_step" in t:
        parts.append(f"with {t['n_both']} run(s) showing both, this suite cannot tell whether "
                     f"they coincide (at least {MIN_TIMING_RUNS} needed)")
    return "; ".join(parts) + "."


def phase_changes(ds: xr.Dataset, options: BootOptions | None = None,
                  **overrides) -> AnalysisResult:
    """Change points per run and signal; induction-head formation vs ICL-score jump."""
    o = BootOptions.build(options, **overrides)
    n_boot, seed = o.n_boot, o.seed
    if not any(data.has_values(ds, v) for v in ("head_score", "icl_score", "behavior")):
        raise data.Skip("the store has no head_score, icl_score or behavior")
    P = signals(ds)
    cps = _detect(P)
    names, st, formed = data.runs(ds), data.steps(ds), _formed(ds)
    ev = {"induction_step": _event_steps(cps, INDUCTION, names, formed.get(INDUCTION)),
          "previous_token_step": _event_steps(cps, PREVIOUS, names, formed.get(PREVIOUS)),
          "icl_jump_step": _event_steps(cps, ICL, names)}
    t = _timing(ev, st, n_boot, seed)
    per_run = pd.DataFrame({"run": names, **ev})
    per_run["icl_within_one_checkpoint"] = per_run_coincidence(
        ev["induction_step"], ev["icl_jump_step"], st)
    t["n_coincide_runs"] = int((per_run["icl_within_one_checkpoint"] == True).sum())  # noqa: E712
    by = formed_by_factor(ds, ev["induction_step"])
    figs = {}
    for sig in (INDUCTION, PREVIOUS, ICL):
        if sig in P["property"].values:
            df = properties.table(P.sel(property=[sig]))
            figs[sig.replace(":", "_")] = figures.lines(df, "step", "value", "run", log_x=True,
                                                        title=f"{sig} per run")
    summary = {**t, "n_runs": len(names)}
    tables = {"per_run": per_run, "change_points": cps}
    if len(by):
        tables["formed_by_factor"] = by
    return AnalysisResult(name="phase_changes", question="F/G (phase changes)",
                          verdict=_verdict(len(names), ev, t, by), summary=summary,
                          tables=tables, figures=figs)


def _simulated(n_runs: int, seed: int, lag: int) -> xr.Dataset:
    """Induction heads form at a checkpoint index drawn from 5..8 of 16 log-spaced checkpoints
    (doubling steps); the ICL score jumps ``lag`` checkpoints later (null: 0, it coincides)."""
    rng = np.random.default_rng(seed)
    ds = simulate.store(n_runs, simulate.log_steps(16), seed=seed)
    formation = rng.integers(5, 9, n_runs)
    return simulate.with_heads(ds, formation, formation + lag, rng)


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, 0),
    planted=lambda n, seed: _simulated(n, seed, 3),
    claims=lambda res: bool(res.summary.get("differ", False)),
    effect="an ICL jump 3 checkpoints (0.9 decades of steps) after head formation",
    options={"n_boot": 100})

ANALYSIS = Analysis(
    "phase_changes",
    "When do induction and previous-token heads form and the ICL score jump in each run, and "
    "do induction heads and the ICL jump coincide?",
    label="F/G", section="circuits", run=on_store(phase_changes),
    options=BootOptions,
    inputs=StoreInputs(any_of=("head_score", "icl_score", "behavior"), min_runs=1),
    simulation=SIMULATION)

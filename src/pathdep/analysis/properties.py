"""The scalar properties of a run at a checkpoint, which several analyses compare.

A property is one number per (run, step): the eval ``loss``, the ``icl_score``,
each behaviour probe (``behavior:<probe>``) and, per head-score kind, the
strongest head (``heads:max_<kind>``, the max over layers and heads; heads are
not aligned across runs, so only such summaries are comparable). Not-done
cells are NaN. Helpers read a property at a fraction of each run's training,
at each run's final checkpoint, and the step at which it "forms".

Behaviour probes carry their chance level (coordinate ``chance``, NaN for
other properties): the accuracy of a scorer that ranks an item's continuations
at random is, for an item with c acceptable and w wrong ones, c / (c + w) (the
best of c + w exchangeable scores is an acceptable one with that probability),
averaged over the probe's items. A probe that *never leaves chance* (its
accuracy at every run and checkpoint at most chance + 2 binomial standard
errors over its items) measures nothing the runs can differ in:
:func:`informative` leaves it out and names it in ``attrs["at_chance"]``, so
the analyses that rank or decompose properties do not rank noise (issue 15).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from pathdep.analysis import data

PROPS = ("loss", "icl_score", "behavior", "head_score")  # the scalar properties below


def scalar_properties(ds: xr.Dataset) -> xr.DataArray:
    """(run, step, property) float64, NaN where not done; coordinate ``family`` per property."""
    cols: dict[str, tuple[str, xr.DataArray]] = {}
    for name in ("loss", "icl_score"):
        if data.has_values(ds, name):
            cols[name] = (name, data.masked(ds, name))
    if data.has_values(ds, "behavior"):
        b = data.masked(ds, "behavior")
        for p in b["probe"].values:
            cols[f"behavior:{p}"] = ("behavior", b.sel(probe=p, drop=True))
    if data.has_values(ds, "head_score"):
        h = data.masked(ds, "head_score")
        for kind in h["kind"].values:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: kind not measured
                best = h.sel(kind=kind, drop=True).max(["layer_h", "head"], skipna=True)
            cols[f"heads:max_{kind}"] = ("heads", best)
    if not cols:
        raise data.Skip("the store has no loss, icl_score, behavior or head_score")
    names = list(cols)
    arr = np.stack([np.asarray(cols[n][1].transpose("run", "step").values) for n in names], -1)
    chance, n_items = probe_chance(ds)
    probe_of = [n.split(":", 1)[1] if cols[n][0] == "behavior" else None for n in names]
    return xr.DataArray(arr, dims=("run", "step", "property"),
                        coords={"run": ds["run"].values, "step": ds["step"].values,
                                "property": names, "family": ("property", [cols[n][0] for n in names]),
                                "chance": ("property", [chance.get(q, np.nan) for q in probe_of]),
                                "n_items": ("property", [n_items.get(q, 0) for q in probe_of])})


def probe_chance(ds: xr.Dataset) -> tuple[dict[str, float], dict[str, int]]:
    """(chance accuracy, items) per probe, from the store's probe rows; empty without them."""
    if "prow_item" not in ds or "prow_correct" not in ds or "item_probe" not in ds.coords:
        return {}, {}
    item = np.asarray(ds["prow_item"].values, dtype=np.int64)
    ok = np.asarray(ds["prow_correct"].values, dtype=float)
    n = ds.sizes["item"]
    per_item = np.bincount(item, weights=ok, minlength=n) / np.maximum(np.bincount(item, minlength=n), 1)
    probe_of = np.asarray(ds["item_probe"].values).astype(str)
    out = {str(p): (float(per_item[probe_of == str(p)].mean()), int((probe_of == str(p)).sum()))
           for p in ds["probe"].values if (probe_of == str(p)).any()}
    return {p: c for p, (c, _) in out.items()}, {p: k for p, (_, k) in out.items()}


def at_chance(P: xr.DataArray) -> list[str]:
    """Behaviour properties whose accuracy never exceeds chance + 2 binomial s.e. (items)."""
    if "chance" not in P.coords:
        return []
    out = []
    for p, c, k in zip(P["property"].values, P["chance"].values, P["n_items"].values, strict=True):
        if not np.isfinite(c) or k < 1:
            continue
        v = P.sel(property=p).values
        top = np.nanmax(v) if np.isfinite(v).any() else np.nan
        if np.isfinite(top) and top <= c + 2 * np.sqrt(c * (1 - c) / k):
            out.append(str(p))
    return out


def informative(P: xr.DataArray, min_runs: int = 2) -> xr.DataArray:
    """Drop properties that are constant, done for fewer than ``min_runs`` runs, or
    probes that never leave chance (named in ``attrs["at_chance"]``)."""
    chance = set(at_chance(P))
    keep = []
    for p in P["property"].values:
        v = P.sel(property=p).values
        ok_runs = np.isfinite(v).any(1).sum()
        keep.append(bool(ok_runs >= min_runs and np.nanstd(v) > 0 and str(p) not in chance))
    out = P.isel(property=np.flatnonzero(keep))
    out.attrs["at_chance"] = sorted(chance)
    return out


def available(ds: xr.Dataset, min_runs: int = 2) -> xr.DataArray:
    """The informative scalar properties, or none (a 0-length ``property`` dim) when the
    store has no scalar measurement at all, for analyses that also use per-token loss."""
    try:
        return informative(scalar_properties(ds), min_runs)
    except data.Skip:
        empty = np.zeros((ds.sizes["run"], ds.sizes["step"], 0))
        return xr.DataArray(empty, dims=("run", "step", "property"),
                            coords={"run": ds["run"].values, "step": ds["step"].values,
                                    "property": [], "family": ("property", [])})


def chance_note(P: xr.DataArray) -> str:
    """'; N probes never left chance and are not ranked: a, b' for a verdict, or ''."""
    names = [n.split(":", 1)[-1] for n in P.attrs.get("at_chance", [])]
    if not names:
        return ""
    what = "1 probe never left chance and is" if len(names) == 1 else \
        f"{len(names)} probes never left chance and are"
    return f"; {what} left out: {', '.join(names)}"


def final_index(v: np.ndarray) -> np.ndarray:
    """Per run (rows of a (run, step) array): index of its last finite step (−1 if none)."""
    ok = np.isfinite(v)
    last = v.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    return np.where(ok.any(1), last, -1)


def final_values(v: np.ndarray) -> np.ndarray:
    """Per run: the value at its last finite step (NaN if none)."""
    i = final_index(v)
    out = v[np.arange(v.shape[0]), np.maximum(i, 0)]
    return np.where(i >= 0, out, np.nan)


def at_fraction(v: np.ndarray, steps: np.ndarray, frac: float) -> np.ndarray:
    """Per run: value interpolated at ``frac`` × its own final step (linear in step)."""
    out = np.full(v.shape[0], np.nan)
    for r in range(v.shape[0]):
        ok = np.isfinite(v[r])
        if ok.sum() < 1:
            continue
        s, x = steps[ok].astype(float), v[r, ok]
        out[r] = np.interp(frac * s[-1], s, x)
    return out


def formation_steps(v: np.ndarray, steps: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Per run: first step at which the curve has gone ``level`` of the way from its first
    to its final value (the "age of acquisition" of a scalar property; NaN if flat)."""
    out = np.full(v.shape[0], np.nan)
    for r in range(v.shape[0]):
        ok = np.flatnonzero(np.isfinite(v[r]))
        if ok.size < 2:
            continue
        x = v[r, ok]
        total = x[-1] - x[0]
        if total == 0:
            continue
        crossed = np.flatnonzero((x - x[0]) / total >= level)
        out[r] = steps[ok[crossed[0]]]
    return out


def table(P: xr.DataArray) -> pd.DataFrame:
    """Long table (run, step, property, family, value) of the finite cells."""
    df = P.to_dataframe(name="value").reset_index()
    return df[np.isfinite(df["value"])].reset_index(drop=True)

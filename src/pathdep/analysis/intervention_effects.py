"""Interventions against their controls: pairs, noise floors, and each run's effect over time.

The reading of the store behind ``analyze/interventions.py`` (question F;
Hebbar & Hubinger, seeds/001; methods.md §11 F): which run is whose control,
how far control pairs drift apart without an intervention (the noise floor;
Altintas et al., "The Butterfly Effect"), and each intervention's effect from
its end to the last step with its classification. The rules are in that
module's docstring.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from pathdep.analysis import data

log = logging.getLogger(__name__)
NONE = ("none", "")
NOISE_FACTORS = ("seed", "data_seed")  # control pairs differing only here give the noise floor


def spec_of(ds: xr.Dataset) -> dict:
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


def follow(S: Series, r: int, c: int, name: str, bstep: int, spec_ivs: dict, floors: dict,
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


class Floors:
    """The noise floors that apply to a run: those of control pairs branched where it branched,
    when there are any; else those of all pairs (init-seed pairs of the grid differ far more
    than two data orders from one state)."""

    def __init__(self, S: Series, npairs: list[tuple[int, int]], default: float,
                 parent: np.ndarray | None, bsteps: list[int]):
        self.S, self.npairs, self.default = S, npairs, default
        self.parent, self.bsteps = parent, bsteps
        self.all = noise_floors(S, npairs, default)
        self._local: dict[tuple, dict] = {}

    def of(self, r: int) -> dict[str, float]:
        if self.parent is None:
            return self.all
        key = (self.parent[r], self.bsteps[r])
        if key not in self._local:
            near = [(a, b) for a, b in self.npairs if (self.parent[a], self.bsteps[a]) == key]
            self._local[key] = noise_floors(self.S, near, self.default) if near else self.all
        return self._local[key]


@dataclass
class Followed:
    """Every intervention run followed against its control."""

    table: pd.DataFrame  # one row per intervention run with a control
    curve: pd.DataFrame  # its effects at every common step
    orphans: list[int]  # intervention runs without a control (or a common step)
    floors: dict[str, float]  # the noise floors over all control pairs
    noise_pairs: list[tuple[int, int]]


def follow_all(ds: xr.Dataset, noise_floor: float, stuck_fraction: float) -> Followed:
    """Follow every intervention run of the store; Skip when none shares a step with its control."""
    ivpairs, orphans = pairs(ds)
    f = data.factors(ds)
    bsteps = ([int(float(x)) if x not in ("", "nan") else -1 for x in f["branch_step"]]
              if "branch_step" in f else [-1] * ds.sizes["run"])
    spec_ivs = {str(i.get("name")): i for i in (spec_of(ds).get("interventions") or [])}
    S = Series(ds)
    npairs = noise_pairs(ds)
    floors = Floors(S, npairs, noise_floor, f.get("parent"), bsteps)
    rows, curves = [], []
    for r, c in ivpairs:
        got = follow(S, r, c, f["intervention"][r], bsteps[r], spec_ivs, floors.of(r),
                     stuck_fraction)
        if got is None:
            orphans.append(r)
            continue
        rows.append(got[0])
        curves.append(got[1])
    if not rows:
        raise data.Skip("no intervention run shares a measured step with its control")
    return Followed(pd.DataFrame(rows), pd.concat(curves, ignore_index=True), orphans,
                    floors.all, npairs)

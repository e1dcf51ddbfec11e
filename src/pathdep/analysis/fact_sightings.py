"""Facts and canaries as the store records them: recall per (run, step, fact) and sightings.

The trainer records every step at which a document stating a rare fact
(``fact:<entity>:<attribute>``) or a canary (``canary:<i>``) was in a batch;
the store keeps that record as the attribute ``seen`` (JSON ``{run: {key:
[steps]}}``). :class:`Facts` joins it with the per-item probe results
``probe_item_correct`` / ``probe_item_margin`` of the probes ``fact_frequent``,
``fact_rare`` and ``canary_*`` (an item ``fact:<e>:<a>@doc<d>`` belongs to the
fact ``fact:<e>:<a>``; a fact's items are averaged into its recall), and bins
each fact's last sighting by the fraction of training it fell in.
:func:`forgetting` gives recall as a function of the steps since the latest
sighting. Used by ``analyze/fact_timing.py`` (question E, Hebbar & Hubinger,
seeds/001; methods.md §11).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from pathdep.analysis import bootstrap, data

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


def count_label(n: float) -> str:
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



def forgetting(F: Facts, kinds: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
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

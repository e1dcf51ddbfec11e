"""G. Survival of circuits: are the heads doing a job at the end the ones that first did it?

Per run, each head's role at each step, as analysis/circuits.py defines it
(the one definition of "formed", docs/circuits.md): *previous-token* head when
its ``previous_token`` score is at least 0.4, *induction* head when its
prefix-matching score is at least 0.4 and its copying score above 0 (Olsson et
al. 2022's two conditions). For each role and run: the step the
role first appears, the heads holding it then (the first circuit) and at the
run's last step (the final circuit), the share of first heads still holding
it at the end (survival) and the Jaccard overlap of the two sets. A head counts
as holding the role only in a spell of at least three consecutive checkpoints
(two when the spell reaches the last one): a weaker head near the threshold
crossed it at single checkpoints by noise, and the first circuit was called
replaced in 90 % of null suites of 8 runs in which every run keeps its heads
(13 % with spells of two; docs/calibration.md). A role is
*kept* when every first head survives, *partly replaced* when some do,
*replaced* when none does but others took over, *lost* when no head holds it
at the end. Intervals: mean survival over runs, resampling runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field
from scipy.special import expit

from pathdep.analysis import bootstrap, circuits, data, figures, power, simulate
from pathdep.analysis.contract import Analysis, BootOptions, Simulation, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult

ROLES = circuits.ROLES


def _head_names(ds: xr.Dataset) -> list[str]:
    return [f"L{int(layer)}H{int(h)}" for layer in ds["layer_h"].values for h in ds["head"].values]


def _fate(first: set, final: set) -> str:
    if not final:
        return "lost"
    if first <= final:
        return "kept"
    return "partly replaced" if first & final else "replaced"


SPELL, stable = circuits.SPELL, circuits.stable  # the one definition (analysis/circuits.py)


def survival_row(held: np.ndarray, steps: np.ndarray, heads: list[str]) -> dict:
    """First/final circuit of one role in one run, from its (step, head) role matrix: the heads
    holding the role in a spell of :data:`SPELL` checkpoints (:func:`stable`) at the first
    checkpoint any does, and at the last checkpoint."""
    held = stable(held)
    alive = np.flatnonzero(held.any(1))
    if not alive.size:
        return {"first_step": np.nan, "first_heads": "", "final_heads": "", "survival": np.nan,
                "jaccard": np.nan, "fate": "never formed"}
    first = {heads[h] for h in np.flatnonzero(held[alive[0]])}
    final = {heads[h] for h in np.flatnonzero(held[-1])}
    return {"first_step": int(steps[alive[0]]), "first_heads": ", ".join(sorted(first)),
            "final_heads": ", ".join(sorted(final)), "survival": len(first & final) / len(first),
            "jaccard": len(first & final) / len(first | final), "fate": _fate(first, final)}


def _tenure(held: np.ndarray, steps: np.ndarray, heads: list[str]) -> list[dict]:
    """Contiguous spells during which a head holds the role."""
    rows = []
    for h in np.flatnonzero(held.any(0)):
        on = np.r_[False, held[:, h], False].astype(int)
        starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1) - 1
        rows += [{"head": heads[h], "from_step": int(steps[a]), "to_step": int(steps[b])}
                 for a, b in zip(starts, ends, strict=True)]
    return rows


def _per_run(ds: xr.Dataset, threshold: float | None):
    heads, st, names = _head_names(ds), data.steps(ds), data.runs(ds)
    kinds = [str(k) for k in ds["kind"].values]
    fate_rows, tenure_rows = [], []
    for role in (r for r in ROLES if r in kinds):
        roles = circuits.held(ds, role, threshold)  # (run, step, head)
        for r, run in enumerate(names):
            ok = np.flatnonzero(data.done(ds)[r])
            held = roles[r, ok]
            fate_rows.append({"run": run, "role": role, **survival_row(held, st[ok], heads)})
            tenure_rows += [{"run": run, "role": role, **t} for t in _tenure(held, st[ok], heads)]
    return pd.DataFrame(fate_rows), pd.DataFrame(tenure_rows)


class CircuitSurvivalOptions(BootOptions):
    """Options of :func:`circuit_survival`."""

    threshold: float | None = Field(None, ge=0, description=(
        "Head score at which a head holds a role; default: analysis/circuits.py's definition "
        "(0.4 for both roles; an induction head must also copy)."))


def circuit_survival(ds: xr.Dataset, options: CircuitSurvivalOptions | None = None,
                     **overrides) -> AnalysisResult:
    """Each head's role over training; whether the first circuit for a role survives."""
    o = CircuitSurvivalOptions.build(options, **overrides)
    threshold, n_boot, seed = o.threshold, o.n_boot, o.seed
    data.require(ds, "head_score")
    if not set(ROLES) & {str(k) for k in ds["kind"].values}:
        raise data.Skip(f"head_score has none of the kinds {ROLES}")
    fates, tenure = _per_run(ds, threshold)
    summary, parts = {"threshold": dict(circuits.THRESHOLD) if threshold is None else threshold}, []
    for role, g in fates.groupby("role", sort=False):
        formed = g[g["fate"] != "never formed"]
        surv = bootstrap.mean_over_runs(g["survival"].to_numpy(), n_boot=n_boot, seed=seed)
        kept = int((formed["fate"] == "kept").sum())
        summary[role] = {"formed": len(formed), "kept": kept, "mean_survival": surv,
                         "replaced": int(formed["fate"].isin(["replaced", "partly replaced"]).sum())}
        if len(formed):
            parts.append(f"{role.replace('_', '-')} heads formed in {len(formed)} of {len(g)} runs "
                         f"and the first heads still do the job at the end in {kept} "
                         f"(mean survival {surv})")
        else:
            rule = (circuits.describe(role) if threshold is None
                    else f"{role.replace('_', '-')} score >= {threshold:g}")
            parts.append(f"no {role.replace('_', '-')} head ({rule}) formed in any run")
    summary["replaced_runs"] = int(sum(v["replaced"] for k, v in summary.items() if k in ROLES))
    limit = None if summary["replaced_runs"] else power.cannot_tell("circuit_survival",
                                                                    ds.sizes["run"])
    verdict = "; ".join(parts) + (f"; no first circuit was replaced, {limit}" if limit else "")
    verdict = verdict[0].upper() + verdict[1:] + "."
    return AnalysisResult(name="circuit_survival", question="G (survival of circuits)",
                          verdict=verdict, summary=summary,
                          tables={"fates": fates, "tenure": tenure}, figures=_figures(ds))


def _figures(ds: xr.Dataset) -> dict:
    """Heatmaps (head × step) of each role's score in the first run."""
    hs = data.masked(ds, "head_score").isel(run=0)
    figs, run = {}, data.runs(ds)[0]
    for role in ROLES:
        if role in [str(k) for k in hs["kind"].values]:
            z = hs.sel(kind=role).transpose("layer_h", "head", "step").values.reshape(-1, hs.sizes["step"])
            figs[f"{role}_scores"] = figures.heatmap(z, data.steps(ds).tolist(), _head_names(ds),
                                                     title=f"{role} score per head ({run})",
                                                     x_title="step", y_title="head", zmin=0, zmax=1)
    return figs


def _simulated(n_runs: int, seed: int, planted: bool) -> xr.Dataset:
    """Heads of 2 layers x 4 (simulate.with_heads, checkpoint noise sd 0.05): a previous-token
    head from checkpoint 2, an induction head L1H2 forming at checkpoint 5-8 of 16, and a
    weaker induction head L1H0 at 0.3, near the 0.4 threshold. Planted: in one run in four
    (at least one) L1H2 fades 3 checkpoints after forming and L1H3 takes over."""
    rng = np.random.default_rng(seed)
    ds = simulate.store(n_runs, simulate.log_steps(16), seed=seed)
    formation = rng.integers(5, 9, n_runs)
    ds = simulate.with_heads(ds, formation, formation, rng, noise=0.05)
    hs = ds["head_score"].values
    t = np.arange(ds.sizes["step"])
    hs[:, :, 1, 0, 2] += 0.25
    hs[:, :, 1, 0, 3] = 0.5
    for r in range(max(1, n_runs // 4) if planted else 0):
        handover = expit((t - formation[r] - 3 + 0.5) / 0.2)
        hs[r, :, 1, 2, 2] -= 0.75 * handover
        hs[r, :, 1, 3, 2] += 0.75 * handover
        hs[r, :, 1, 3, 3] = 0.5
    return ds.assign(head_score=(ds["head_score"].dims, hs))


SIMULATION = Simulation(
    null=lambda n, seed: _simulated(n, seed, False),
    planted=lambda n, seed: _simulated(n, seed, True),
    claims=lambda res: res.summary.get("replaced_runs", 0) > 0,
    effect="one run in four whose induction head hands its role to another head",
    options={"n_boot": 20})

ANALYSIS = Analysis(
    "circuit_survival",
    "G: are the heads doing a job at the end the ones that first did it, or were they replaced?",
    label="G", section="circuits", run=on_store(circuit_survival),
    options=CircuitSurvivalOptions, inputs=StoreInputs(needs=("head_score",), min_runs=1),
    simulation=SIMULATION)

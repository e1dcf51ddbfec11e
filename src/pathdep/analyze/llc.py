"""G. Developmental stages: the local learning coefficient over each run's checkpoints.

    pathdep analyze STORE --only llc          (the suite beside the store is loaded)

For each run, at a log-spaced subsample of its checkpoints (at most
``max_checkpoints``; the first ``max_runs`` runs, branch runs left out, so the
default stays within a minute on the demo: BENCHMARKS.md), the LLC of Lau et al.
(arXiv 2308.12108) is estimated by devinterp 2's SGLD sampler on batches of the
store's evaluation tokens (:mod:`pathdep.analysis.sgld_llc`). The defaults
(ε = 3e-4, nβ = 300, γ = 1000, 2 chains of 30 draws, 4 sequences a step) were
calibrated on the demo suite: smaller γ or nβ let the final checkpoint's chains
climb for all 40 draws tried (1.6 to 4 nats) instead of levelling off within
about 10 (docs/stages.md). The SGLD loss traces are a figure of the report, so a
reader sees whether the chains are stationary; a chain that diverges (loss not
finite, or still rising) is left out of its estimate and named in the verdict.

Stages (Hoogland et al. 2024, arXiv 2402.02364; Wang et al. 2024 refine the LLC
per head): each run's curve is cut where its slope changes sign or plateaus
(:mod:`pathdep.analysis.llc_stages`); the stage patterns of the runs are
compared, and the j-th boundary's step across runs gets a bootstrap interval
("cannot tell" below 3 runs). Where the store's head scores show induction heads
forming (:mod:`pathdep.analysis.circuits`, the one definition of "formed"), each
run's formation step is lined up with its nearest stage boundary.

The same pass records the weight statistics of Hu et al. 2023 at each
estimated checkpoint (table ``weights``: :mod:`pathdep.measure.weights`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from pathdep.analysis import circuits, data
from pathdep.analysis import llc_stages as st
from pathdep.analysis import sgld_llc as sg
from pathdep.analysis.contract import Analysis, BootOptions, CheckpointInputs, Context, Simulation
from pathdep.analysis.result import AnalysisResult
from pathdep.analysis.simulate_checkpoints import llc_estimates
from pathdep.analyze import llc_report as rep
from pathdep.lmc.inputs import eval_inputs
from pathdep.measure.weights import weight_stats
from pathdep.models import load_model
from pathdep.progress import bar
from pathdep.suites import Run, Suite

log = logging.getLogger(__name__)
NAME = "llc"


class LLCOptions(BootOptions):
    """Options of :func:`llc`."""

    max_checkpoints: int = Field(5, ge=0, description=(
        "Checkpoints per run at most, chosen log-spaced over its steps (first and last kept); "
        "0 for every checkpoint."))
    max_runs: int = Field(4, ge=0, description=(
        "Runs estimated at most (the first in the suite's order, branch runs left out); 0 "
        "for every run."))
    branches: bool = Field(False, description=(
        "Estimate branch runs too (they start mid-training, so their curves begin late)."))
    lr: float = Field(3e-4, gt=0, description="SGLD step size ε (devinterp's lr).")
    nbeta: float = Field(300.0, gt=0, description="Inverse temperature nβ (devinterp's n_beta).")
    localization: float = Field(1000.0, ge=0, description=(
        "Localisation strength γ, the pull towards the checkpoint's weights."))
    chains: int = Field(2, ge=2, description="SGLD chains per estimate (the s.d. is over them).")
    draws: int = Field(30, ge=4, description="SGLD steps (draws) per chain.")
    batch_size: int = Field(4, ge=1, description="Evaluation sequences per SGLD step.")
    init_batches: int = Field(0, ge=0, description=(
        "Batches that measure the checkpoint's own loss L_n(w*); 0: one pass over the "
        "evaluation sequences (the batches the chains then cycle through)."))
    threads: int = Field(1, ge=1, description=(
        "Torch threads while sampling (1 was 3x faster than 2 on the demo's small models on "
        "a busy 2-core machine)."))
    n_sequences: int | None = Field(None, ge=1, description=(
        "Evaluation sequences sampled from (the first n of the store's); default all."))
    plateau: float = Field(0.1, ge=0, le=1, description=(
        "A change between checkpoints of at most this share of the run's LLC range is a "
        "plateau (so is one within 2 standard errors)."))


def _settings(o: LLCOptions, n_seq: int) -> sg.SGLDSettings:
    batch = max(1, min(o.batch_size, n_seq))
    return sg.SGLDSettings(lr=o.lr, nbeta=o.nbeta, localization=o.localization,
                           chains=o.chains, draws=o.draws, batch_size=batch,
                           init_batches=o.init_batches or max(1, n_seq // batch), seed=o.seed)


def _is_branch(run: Run) -> bool:
    return run.factors.get("parent") not in (None, "", "nan", "None")


def choose_runs(suite: Suite, o: LLCOptions) -> tuple[list[Run], list[str], list[str]]:
    """The runs estimated, the branch runs left out, the runs beyond ``max_runs``."""
    branches = [r.id for r in suite.runs if _is_branch(r) and not o.branches]
    runs = [r for r in suite.runs if r.checkpoints and r.id not in branches]
    cut = len(runs) if o.max_runs == 0 else o.max_runs
    return runs[:cut], branches, [r.id for r in runs[cut:]]


def _estimate_all(runs: list[Run], tokens: np.ndarray, o: LLCOptions
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(llc rows, trace rows, weight statistics) for every chosen checkpoint of every run."""
    settings, rows, traces, weights = _settings(o, len(tokens)), [], [], []
    plan = [(run, ck) for run in runs
            for ck in (c for s in st.subsample(run.steps, o.max_checkpoints)
                       for c in run.checkpoints if c.step == s)]
    with bar("llc: SGLD per checkpoint", total=len(plan), info="") as pb:
        for run, ck in plan:
            model = load_model(run, ck)
            weights.append({"run": run.id, "step": ck.step, **weight_stats(model)})
            est = sg.estimate(model, tokens, settings)
            why = "; ".join(f"chain {c}: {w}" for c, w in enumerate(est.why) if w)
            rows.append({"run": run.id, "step": ck.step, "llc_mean": est.llc_mean,
                         "llc_sd": est.llc_sd, "n_chains": int((~est.diverged).sum()),
                         "n_diverged": int(est.diverged.sum()), "init_loss": est.init_loss,
                         "diverged": why})
            for c, tr in enumerate(est.traces):
                traces += [{"run": run.id, "step": ck.step, "chain": c, "draw": i,
                            "loss": float(v), "excess": float(v - est.init_loss),
                            "diverged": bool(est.diverged[c])} for i, v in enumerate(tr)]
            pb.update(info=f"{run.id}@{ck.step}: {est.llc_mean:.3g}")
            pb.advance()
    return pd.DataFrame(rows), pd.DataFrame(traces), pd.DataFrame(weights)


def _stages(df: pd.DataFrame, o: LLCOptions) -> pd.DataFrame:
    rows = []
    for run, g in df.groupby("run", sort=False):
        g = g[np.isfinite(g["llc_mean"])].sort_values("step")
        se = g["llc_sd"].fillna(0) / np.sqrt(g["n_chains"].clip(lower=1))
        cut = st.stages(g["step"], g["llc_mean"], se, o.plateau)
        rows.append({"run": run, "pattern": cut.pattern, "n_boundaries": len(cut.boundaries),
                     "boundaries": " ".join(map(str, cut.boundaries)),
                     "n_checkpoints": len(g)})
    out = pd.DataFrame(rows)
    mode, _ = st.modal(list(out["pattern"])) if len(out) else ("", 0)
    return out.assign(follows_modal=out["pattern"] == mode) if len(out) else out


def formation(ds: xr.Dataset | None, runs: list[str]) -> tuple[dict[str, int | None], str]:
    """Per run, the first store step with a formed induction head (None: never), or the
    reason there is nothing to line up ({} and why)."""
    if ds is None or not data.has_values(ds, "head_score"):
        return {}, "the store has no head scores"
    try:
        best = circuits.strongest(ds, "induction")
    except data.Skip as e:
        return {}, str(e)
    steps, names = data.steps(ds), data.runs(ds)
    out = {}
    for r in runs:
        if r not in names:
            continue
        hit = np.flatnonzero(np.nan_to_num(best[names.index(r)], nan=-1.0)
                             >= circuits.THRESHOLD["induction"])
        out[r] = int(steps[hit[0]]) if hit.size else None
    return out, "" if out else "no estimated run is in the store"


def _induction(formed: dict[str, int | None], stages: pd.DataFrame) -> pd.DataFrame:
    cuts = {r: [int(s) for s in str(b).split()] for r, b in
            zip(stages["run"], stages["boundaries"].fillna(""), strict=True)}
    rows = []
    for r, step in formed.items():
        near, gap = st.nearest(step, cuts.get(r, [])) if step is not None else (None, np.nan)
        rows.append({"run": r, "formed_step": step, "nearest_boundary": near,
                     "gap_decades": gap})
    return pd.DataFrame(rows, columns=["run", "formed_step", "nearest_boundary", "gap_decades"])


def llc(suite: Suite, store=None, options: LLCOptions | None = None,
        **overrides) -> AnalysisResult:
    """The LLC of each run at a subsample of its checkpoints; its stages; their timing."""
    o = LLCOptions.build(options, **overrides)
    runs, branches, beyond = choose_runs(suite, o)
    if not runs:
        raise data.Skip("the suite has no run with checkpoints (branch runs left out)")
    inputs = eval_inputs(suite, store, o.n_sequences)
    with sg.threads(o.threads):
        df, traces, weights = _estimate_all(runs, inputs.tokens, o)
    formed, why_not = formation(inputs.ds, [r.id for r in runs])
    res = decide(df, o, formed, why_not, traces=traces, weights=weights)
    res.summary |= {"branches_left_out": branches, "runs_left_out": beyond,
                    "tokens": f"{len(inputs.tokens)} sequences of {inputs.source}"}
    log.info("llc: %d estimates over %d runs", len(df), len(runs))
    return res


def decide(df: pd.DataFrame, o: LLCOptions, formed: dict[str, int | None], why_not: str, *,
           traces: pd.DataFrame | None = None, weights: pd.DataFrame | None = None,
           figures: bool = True) -> AnalysisResult:
    """The stages, their timing and the verdict from the per-checkpoint LLC estimates ``df``
    (columns run, step, llc_mean, llc_sd, n_chains, n_diverged, diverged) and each run's
    induction-head formation step. :func:`llc` calls it on SGLD estimates, the calibration
    (:data:`SIMULATION`) on simulated ones."""
    traces = pd.DataFrame(columns=["run", "step", "chain", "draw", "loss", "excess", "diverged"]
                          ) if traces is None else traces
    stages = _stages(df, o)
    timing = st.timing({r: [int(s) for s in str(b).split()] for r, b in
                        zip(stages["run"], stages["boundaries"].fillna(""), strict=True)},
                       n_boot=o.n_boot, seed=o.seed)
    induction = _induction(formed, stages)
    s = rep.summary(df, stages, timing, induction, o, why_not)
    return AnalysisResult(
        NAME, "G (developmental stages)", rep.verdict(s), s,
        tables={"llc": df, "stages": stages, "timing": timing, "induction": induction,
                "traces": traces, "weights": pd.DataFrame() if weights is None else weights},
        figures=({"llc_curves": rep.curves(df, stages), "sgld_traces": rep.trace_figure(traces)}
                 if figures else {}))


def claims_stages(res: AnalysisResult) -> bool:
    """The verdict's claim: runs pass through stages (their modal pattern has a boundary, or
    the first boundary's step is stated across runs)."""
    return "→" in res.summary["modal_pattern"] or res.summary["first_boundary"] is not None


SIMULATION = Simulation(
    null=lambda n, seed: llc_estimates(n, seed, planted=False),
    planted=lambda n, seed: llc_estimates(n, seed, planted=True),
    claims=claims_stages,
    effect="an LLC plateau from step 25 to 174 (a rise of 5 % of the range) between two rises",
    options={"n_boot": 100},
    run=lambda df, o: decide(df, o, {}, "the estimates are simulated", figures=False),
    size=lambda res: int(res.summary["n_runs"]))  # runs estimated (max_runs), not the suite's


def _applies(ctx: Context, o: LLCOptions) -> str | None:
    return sg.available()


def _run(ctx: Context, o: LLCOptions) -> AnalysisResult:
    store = ctx.dataset() if ctx.store is not None or ctx.ds is not None else None
    return llc(ctx.suite, store, o)


ANALYSIS = Analysis(
    NAME,
    "G: through which developmental stages (rises and plateaus of the local learning "
    "coefficient) does each run pass, at which steps, and do they line up with induction-head "
    "formation?",
    label="G", section="circuits", run=_run, options=LLCOptions,
    inputs=CheckpointInputs("a log-spaced subsample of each run's checkpoints (max_checkpoints "
                            "per run, max_runs runs; needs devinterp, the [llc] extra)",
                            _applies),
    simulation=SIMULATION)

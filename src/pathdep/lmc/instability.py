"""Frankle et al.'s instability analysis (ICML 2020, arXiv 1912.05671) from loss barriers.

    from pathdep.lmc import instability
    res = instability("runs/branching")      # branch pairs of the suite, store beside it

Copies of a network branched from step k and trained on with different data
orders; the loss barrier between their ends, as a function of k, tells from
which step on training ends in one linearly connected basin. Barriers are the
general loss barrier of Entezari et al. (2022) computed by
:mod:`pathdep.lmc.barrier` on the store's evaluation tokens (a subset of
``n_sequences`` sequences, for speed).
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pathdep.analysis.bootstrap import estimate, mean_over_pairs, mean_over_runs
from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Simulation
from pathdep.analysis.data import Skip
from pathdep.analysis.result import AnalysisResult, Interval, fmt
from pathdep.analysis.simulate_checkpoints import branch_barriers
from pathdep.lmc import inputs
from pathdep.lmc.barrier import loss_barrier
from pathdep.lmc.cache import CACHE_NAME, PathCache
from pathdep.lmc.options import InstabilityOptions
from pathdep.progress import bar
from pathdep.suites import Run, Suite

log = logging.getLogger(__name__)

INSTABILITY = "instability"
BARRIER = ("Entezari et al. 2022 (max over α of L(α) minus the straight line between the "
           "endpoint losses)")


def _is_branch(run: Run) -> bool:
    return run.factors.get("parent") not in (None, "")


def _norm(v):
    return "" if v is None else v


def branch_pairs(suite: Suite) -> list[tuple[Run, Run, int]]:
    """Pairs of branch runs with the same parent and branch step that differ only in data_seed.

    Returns (run_a, run_b, last common step); pairs without a common checkpoint
    are left out (with a warning).
    """
    groups: dict[tuple, list[Run]] = {}
    for r in suite.runs:
        if _is_branch(r):
            key = (str(r.factors["parent"]), int(r.factors.get("branch_step", -1)))
            groups.setdefault(key, []).append(r)
    out = []
    for (_, _k), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        for a, b in itertools.combinations(rs, 2):
            names = (set(a.factors) | set(b.factors)) - {"data_seed"}
            if _norm(a.factors.get("data_seed")) == _norm(b.factors.get("data_seed")):
                continue
            if any(_norm(a.factors.get(n)) != _norm(b.factors.get(n)) for n in names):
                continue
            common = set(a.steps) & set(b.steps)
            if not common:
                log.warning("branch runs %s and %s share no checkpoint step; left out", a.id, b.id)
                continue
            out.append((a, b, max(common)))
    return out


def _instability_figures(pairs: pd.DataFrame, by_step: pd.DataFrame, paths: pd.DataFrame,
                         thr: float) -> dict:
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=pairs["branch_step"], y=pairs["barrier"], mode="markers", name="pair",
        marker={"size": 7, "opacity": 0.6},
        text=[f"{a} vs {b} (step {s})" for a, b, s in
              zip(pairs["run_a"], pairs["run_b"], pairs["step"], strict=True)]))
    fig.add_trace(go.Scatter(
        x=by_step["branch_step"], y=by_step["mean_barrier"], mode="lines+markers",
        name="mean (95% interval)",
        error_y={"type": "data", "symmetric": False,
                 "array": (by_step["high"] - by_step["mean_barrier"]).clip(lower=0).fillna(0),
                 "arrayminus": (by_step["mean_barrier"] - by_step["low"]).clip(lower=0).fillna(0)}))
    fig.add_hline(y=thr, line_dash="dot", annotation_text=f"threshold {thr:.3g} nats")
    fig.update_layout(title="Loss barrier between branches vs the step they branched at",
                      xaxis_title="branch step k", yaxis_title="loss barrier (nats)")
    path_fig = go.Figure()
    for (pid, label), g in paths.groupby(["pair", "label"], sort=False):
        path_fig.add_trace(go.Scatter(x=g["alpha"], y=g["loss"], mode="lines+markers",
                                      name=label, legendgroup=str(pid)))
    path_fig.update_layout(title="Evaluation loss along the line between branch ends",
                           xaxis_title="α  (θ = (1−α)·θa + α·θb)", yaxis_title="loss (nats)")
    return {"barrier_vs_branch_step": fig, "loss_along_alpha": path_fig}


def _steps_text(ks) -> str:
    """"step 0" or "steps 0-100"."""
    ks = [int(k) for k in ks]
    return f"step {ks[0]}" if len(ks) == 1 else f"steps {ks[0]}-{ks[-1]}"


def _pairs_text(n: int) -> str:
    return f"{n} pair" + ("" if n == 1 else "s")


def _instability_verdict(by_step: pd.DataFrame, stable_k, thr: float, unstable: Interval | None,
                         n_unstable: int) -> str:
    ks = by_step["branch_step"].tolist()
    unsure = by_step[by_step["decision"] == "cannot tell"]
    why = (f"; {_steps_text(unsure['branch_step'])} cannot tell (one pair, so no interval, or an "
           f"interval across the {thr:.3g}-nat threshold)" if len(unsure) else "")
    if stable_k is None:
        lo = by_step.loc[by_step["mean_barrier"].idxmin()]
        if len(unsure):
            return (f"This suite cannot tell from which branch step copies end in one linearly "
                    f"connected basin: no tested step ({_steps_text(ks)}) has its whole interval "
                    f"below the {thr:.3g}-nat threshold{why}; lowest step mean "
                    f"{fmt(lo['mean_barrier'])} nats at step {int(lo['branch_step'])}. Branch "
                    "more data orders per step (three or more) to get an interval.")
        return (f"Branches from no tested step ({_steps_text(ks)}) end in one linearly "
                f"connected basin: mean barrier {unstable} nats over {_pairs_text(n_unstable)}, "
                f"with every step's interval above the {thr:.3g}-nat threshold"
                f" (lowest step mean {fmt(lo['mean_barrier'])} at step {int(lo['branch_step'])}).")
    after = by_step[by_step["branch_step"] >= stable_k]
    head = (f"Branches from step >= {int(stable_k)} end in one linearly connected basin "
            f"(the interval of the mean barrier is below {thr:.3g} nats at every such step; "
            f"means at most {fmt(after['mean_barrier'].max())})")
    before = by_step[by_step["branch_step"] < stable_k]
    if not len(before):
        return head + f"; this holds from the first tested step, {int(ks[0])}."
    no = before[before["decision"] == "unstable"]["branch_step"]
    tail = (f"; from {_steps_text(no)} they do not (mean barrier {unstable} nats over "
            f"{_pairs_text(n_unstable)} before step {int(stable_k)})" if len(no) else "")
    return head + tail + why + "."


def _pair_barriers(pairs, inp: inputs.Inputs, grid: np.ndarray, cache: PathCache
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per branch pair (its barrier) and the loss along α of every pair."""
    rows, path_rows = [], []
    with bar("instability: barriers", total=len(pairs), info="") as pb:
        for i, (a, b, step) in enumerate(pairs):
            losses = cache.losses(a, a.checkpoint(step), b, b.checkpoint(step))
            br = loss_barrier(grid, losses)
            k = int(a.factors.get("branch_step", -1))
            rows.append({"parent": str(a.factors["parent"]), "branch_step": k, "run_a": a.id,
                         "run_b": b.id, "step": step, "loss_a": losses[0], "loss_b": losses[-1],
                         "barrier": br.barrier, "barrier_frankle": br.frankle,
                         "alpha_max": br.alpha})
            label = f"k={k}: {a.id} vs {b.id}"
            path_rows += [{"pair": i, "label": label, "branch_step": k, "alpha": float(x),
                           "loss": float(v)} for x, v in zip(grid, losses, strict=True)]
            pb.advance(1, info=f"k={k} barrier {br.barrier:.3g}")
    return pd.DataFrame(rows), pd.DataFrame(path_rows)


def _branch_matrix(g: pd.DataFrame) -> np.ndarray:
    """(branch, branch) barriers of one branch step's pairs (NaN where not compared)."""
    names = sorted(set(g["run_a"]) | set(g["run_b"]))
    ix = {n: i for i, n in enumerate(names)}
    M = np.full((len(names), len(names)), np.nan)
    for a, b, v in zip(g["run_a"], g["run_b"], g["barrier"], strict=True):
        M[ix[a], ix[b]] = M[ix[b], ix[a]] = v
    return M


def _decide(iv: Interval, thr: float) -> str:
    """'stable' when the interval lies below ``thr``, 'unstable' above it, else 'cannot tell'."""
    if not (np.isfinite(iv.low) and np.isfinite(iv.high)):
        return "cannot tell"
    return "stable" if iv.high < thr else "unstable" if iv.low >= thr else "cannot tell"


def _by_step(df: pd.DataFrame, thr: float, o: InstabilityOptions
             ) -> tuple[pd.DataFrame, dict[str, Interval]]:
    """Per branch step: the mean barrier over pairs, its interval and the decision.

    Pairs share branches (three branches make three pairs from three models), so
    the interval resamples *branches* and averages the pairs of distinct
    resampled branches (bootstrap.mean_over_pairs), not the pairs as if they were
    independent. With two branches (one pair) there is nothing to resample: no
    interval, and the step is "cannot tell". A step is stable only when its
    whole interval lies below the threshold.
    """
    steps_rows, intervals = [], {}
    for j, (k, g) in enumerate(df.groupby("branch_step", sort=True)):
        M = _branch_matrix(g)
        iv = estimate(lambda r, w, M=M: mean_over_pairs(M, r), len(M), n_boot=o.n_boot,
                      seed=o.seed + j)
        if len(M) < 3:
            iv = Interval(float(np.nanmean(g["barrier"])), np.nan, np.nan)
        intervals[str(int(k))] = iv
        decision = _decide(iv, thr)
        steps_rows.append({"branch_step": int(k), "n_branches": len(M), "n_pairs": len(g),
                           "mean_barrier": iv.value, "low": iv.low, "high": iv.high,
                           "mean_barrier_frankle": float(g["barrier_frankle"].mean()),
                           "decision": decision, "stable": decision == "stable"})
    return pd.DataFrame(steps_rows), intervals


def _stability_step(by_step: pd.DataFrame) -> int | None:
    """The first branch step from which every later step is stable."""
    stable = by_step["stable"].to_numpy()
    for i in range(len(by_step)):
        if stable[i:].all():
            return int(by_step["branch_step"].iloc[i])
    return None


def instability(suite: Suite | str | Path, store=None, options: InstabilityOptions | None = None,
                *, cache_dir: str | Path | None = None, **overrides) -> AnalysisResult:
    """Frankle et al.'s instability analysis (ICML 2020, arXiv 1912.05671) on branch runs.

    Branch runs (factor ``parent`` set) are grouped by (parent, branch_step);
    in a group every pair that differs in ``data_seed`` and agrees on every other
    factor is compared at its last common checkpoint: the Entezari loss barrier
    (and Frankle's) along the straight line, on the first ``n_sequences``
    evaluation sequences of ``store`` (a path, an opened store, a token array, or
    None for ``<suite>/measurements.zarr``).

    Per branch step k: the mean barrier over pairs with a bootstrap interval over
    branches (``n_boot`` replicates; :func:`_by_step`). The *stability step* is the
    first k from which the interval of every k' ≥ k lies below ``threshold`` nats (default
    ``rel_threshold`` = 2% of the mean endpoint loss). Frankle et al. call a
    network stable when the *error* barrier is below 2%; the loss-based threshold
    is our adaptation of that operational rule, not theirs. Loss paths are cached
    in ``cache_dir``. Options: :class:`~pathdep.lmc.options.InstabilityOptions`.

    Raises Skip when the suite has no branch pairs.
    """
    o = inputs.options(InstabilityOptions, options, overrides)  # a missing device fails here
    suite = inputs.as_suite(suite)
    pairs = branch_pairs(suite)
    if not pairs:
        raise Skip(_NO_PAIRS.format(suite.name))
    inp = inputs.eval_inputs(suite, store, o.n_sequences)
    grid = inputs.alphas(o)
    cache = PathCache(inp.tokens, grid, batch_size=o.batch_size, cache_dir=cache_dir,
                      device=o.device, dtype=o.dtype)
    df, paths = _pair_barriers(pairs, inp, grid, cache)
    return from_pairs(df, o, paths, grid, int(inp.tokens.shape[0]), inp.source)


def from_pairs(df: pd.DataFrame, o: InstabilityOptions, paths: pd.DataFrame | None = None,
               grid: np.ndarray | None = None, n_sequences: int = 0, source: str = "",
               figures: bool = True) -> AnalysisResult:
    """The verdict from the branch pairs' barriers ``df`` (one row per pair: parent,
    branch_step, run_a, run_b, loss_a, loss_b, barrier, barrier_frankle). :func:`instability`
    calls it on measured barriers, the calibration (:data:`SIMULATION`) on simulated ones."""
    grid = inputs.alphas(o) if grid is None else grid
    thr = inputs.threshold(o, np.r_[df["loss_a"], df["loss_b"]])
    by_step, intervals = _by_step(df, thr, o)
    stable_k = _stability_step(by_step)
    unstable_pairs = df if stable_k is None else df[df["branch_step"] < stable_k]
    unstable = (mean_over_runs(unstable_pairs["barrier"].to_numpy(), n_boot=o.n_boot,
                               seed=o.seed) if len(unstable_pairs) else None)
    verdict = _instability_verdict(by_step, stable_k, thr, unstable, len(unstable_pairs))
    summary = {"stability_step": stable_k, "threshold": thr, "rel_threshold": o.rel_threshold,
               "threshold_given": o.threshold is not None,
               "mean_endpoint_loss": float(np.mean(np.r_[df["loss_a"], df["loss_b"]])),
               "mean_barrier_by_step": intervals, "mean_barrier_unstable": unstable,
               "n_pairs": len(df), "branch_steps": by_step["branch_step"].tolist(),
               "alphas": [round(float(x), 6) for x in grid],
               "n_sequences": n_sequences, "tokens": source, "barrier": BARRIER}
    log.info("instability: %s", verdict)
    paths = pd.DataFrame(columns=["pair", "label", "branch_step", "alpha", "loss"]
                         ) if paths is None else paths
    return AnalysisResult(INSTABILITY, "F (instability)", verdict, summary,
                          tables={"pairs": df, "by_step": by_step, "paths": paths},
                          figures=_instability_figures(df, by_step, paths, thr) if figures else {})


_NO_PAIRS = ("suite {!r} has no pair of branch runs from the same parent and step that differ "
             "only in data_seed; spawn them with branching (several data seeds per branch step)")


def _applies(ctx: Context, o: InstabilityOptions) -> str | None:
    return None if branch_pairs(ctx.suite) else _NO_PAIRS.format(ctx.suite.name)


def _run(ctx: Context, o: InstabilityOptions) -> AnalysisResult:
    return instability(ctx.suite, inputs.shared(ctx, o.n_sequences), o, cache_dir=ctx.cache_dir(CACHE_NAME))


SIMULATION = Simulation(
    null=lambda n, seed: branch_barriers(n, seed, planted=False),
    planted=lambda n, seed: branch_barriers(n, seed, planted=True),
    claims=lambda res: res.summary["stability_step"] is not None,
    effect=("branches from step 600 at the demo's within-basin barrier (about 0.004 nats), "
            "from step 100 at its 0.13"),
    options={"n_boot": 200},
    run=lambda df, o: from_pairs(df, o, figures=False),
    size=lambda res: int(res.tables["by_step"]["n_branches"].min()))  # data orders per step

ANALYSIS = Analysis(
    INSTABILITY,
    "F: from which branch step on do copies of a run trained with different data orders end "
    "in one linearly connected basin?",
    label="F", section="interventions", run=_run, options=InstabilityOptions,
    inputs=CheckpointInputs("pairs of branches that differ only in data order", _applies),
    simulation=SIMULATION, command="barriers")

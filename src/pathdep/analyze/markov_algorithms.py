"""The four-algorithm comparison of Park et al. (methods.md §7) for every run × checkpoint.

    from pathdep.analyze.markov_algorithms import markov_algorithms
    markov_algorithms("runs/mk", out="runs/mk/measurements.zarr.analysis")

For a markov-mixture suite trained here, each checkpoint's in-context
next-state predictions are compared (Markov KL) with Uni-Ret, Bi-Ret, Uni-Inf
and Bi-Inf, on the training chains and on fresh chains; the nearest algorithm
is each run's dominant one, and across runs an algorithm is called dominant
only when it is nearer than every other by a paired test (:func:`dominance`). The result is an AnalysisResult saved beside the store's
other analyses, so the report shows it (``pathdep run`` does this for Markov
suites). The chains come from the suite's ``data/info.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import ttest_1samp

from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Options, Simulation
from pathdep.analysis.result import AnalysisResult
from pathdep.analysis.simulate_checkpoints import markov_kl_table
from pathdep.errors import PathdepError
from pathdep.models import load_model
from pathdep.probes.markov import ALGORITHMS, compare_algorithms, model_predictor
from pathdep.suites import Suite, load_suite

log = logging.getLogger(__name__)
NAME = "markov_algorithms"


def _chains(suite: Suite) -> tuple[np.ndarray, np.ndarray]:
    spec = suite.meta.get("spec") or {}
    if (spec.get("data") or {}).get("generator") != "markov-mixture" or not suite.root:
        raise PathdepError(
            f"suite {suite.name!r} is not a markov-mixture suite trained by pathdep; the "
            "four-algorithm comparison needs the chains kept with the suite (data/info.json)"
        )
    info = json.loads((Path(suite.root) / "data" / "info.json").read_text())
    return np.array(info["chains"]), np.array(info["prior"])


def _rows(suite: Suite, chains, prior, length: int, n_rep: int, seed: int) -> list[dict]:
    rows = []
    k = chains.shape[1]
    for run in suite.runs:
        for ckpt in run.checkpoints:
            model = load_model(run, ckpt)
            res = compare_algorithms(model_predictor(model, list(range(k))), chains, prior,
                                     length=length, n_rep=n_rep, seed=seed)
            for chainset, r in res.items():
                rows += [{"run": run.id, "step": ckpt.step, "chainset": chainset, "algorithm": a,
                          "kl": r["kl"][a], "dominant": r["dominant"]} for a in ALGORITHMS]
            del model
    return rows


def _figure(df: pd.DataFrame):
    import plotly.graph_objects as go

    fig = go.Figure()
    mean = df.groupby(["chainset", "algorithm", "step"], as_index=False)["kl"].mean()
    for (cs, a), g in mean.groupby(["chainset", "algorithm"]):
        fig.add_trace(go.Scatter(x=g["step"], y=g["kl"], mode="lines+markers", name=f"{a} ({cs})",
                                 line={"dash": "solid" if cs == "train" else "dot"}))
    fig.update_layout(title="Markov KL from the model to each algorithm (mean over runs)",
                      xaxis_title="step", yaxis_title="KL (nats)", xaxis_type="log")
    return fig


LEVEL = 0.05  # family-wise level of "dominant across runs", over the two chain sets
ALPHA = LEVEL / 4  # per one-sided test: two chain sets x the choice of the nearest (Berger 1982)
MIN_RUNS = 3  # runs below which no algorithm is called dominant across runs


def dominance(last: pd.DataFrame) -> pd.DataFrame:
    """Per chain set, whether one algorithm is nearer than every other across runs.

    ``last`` holds each run's KL rows at its last checkpoint. The nearest
    algorithm is the one with the lowest mean log KL over runs; it is
    *dominant* when a paired one-sided t-test of log KL (runs as replicates)
    puts it below every other algorithm at :data:`ALPHA`: an intersection-union
    test (Berger 1982, Technometrics 24:295), so no correction over the other
    algorithms is needed, and ALPHA halves LEVEL twice, once for choosing the
    nearest of two tied algorithms and once for the two chain sets (Bonferroni).
    The per-run nearest algorithm alone (the old verdict) names one whatever the
    data: two tied algorithms split the runs by noise (docs/calibration.md).
    """
    rows = []
    for cs, g in last.groupby("chainset", sort=False):
        logk = np.log(g.pivot_table(index="run", columns="algorithm", values="kl")
                      .clip(lower=1e-12))
        order = logk.mean().sort_values()
        top, n = order.index[0], len(logk)
        p = np.nan
        if n >= MIN_RUNS:
            ps = [ttest_1samp((logk[a] - logk[top]).to_numpy(), 0.0, alternative="greater").pvalue
                  for a in order.index[1:]]
            p = float(np.max(ps))
        rows.append({"chainset": cs, "nearest": top, "runner_up": order.index[1],
                     "kl_ratio": float(np.exp(order.iloc[0] - order.iloc[1])), "p": p,
                     "alpha": ALPHA, "n_runs": n, "dominant": bool(np.isfinite(p) and p < ALPHA)})
    return pd.DataFrame(rows)


def _across(d: pd.Series) -> str:
    if d["n_runs"] < MIN_RUNS:
        return (f"with {d['n_runs']} run(s) no algorithm can be shown dominant across runs "
                f"(at least {MIN_RUNS} needed)")
    if d["dominant"]:
        return (f"across runs {d['nearest']} is dominant (Markov KL {d['kl_ratio']:.2f} times the "
                f"runner-up {d['runner_up']}'s, geometric mean; paired t-test on log KL against "
                f"every other algorithm, largest one-sided p {d['p']:.2g} < {d['alpha']:g})")
    return (f"across runs {d['nearest']} is not shown nearer than the runner-up "
            f"{d['runner_up']} (largest one-sided p {d['p']:.2g}, needed < {d['alpha']:g}), so "
            "this suite cannot tell which algorithm dominates")


def _verdict(df: pd.DataFrame) -> tuple[str, dict, pd.DataFrame]:
    last = df[df["step"] == df.groupby("run")["step"].transform("max")]
    dom_table = dominance(last)
    summary, parts = {}, []
    for cs in ("train", "fresh"):
        dom = last[last["chainset"] == cs].groupby("run")["dominant"].first()
        counts = dom.value_counts()
        d = dom_table[dom_table["chainset"] == cs].iloc[0]
        summary[f"dominant_{cs}"] = counts.to_dict()
        summary[f"dominant_across_runs_{cs}"] = d["nearest"] if d["dominant"] else None
        parts.append(f"on {cs} chains the nearest is {counts.index[0]} in {counts.iloc[0]} of "
                     f"{len(dom)} runs; {_across(d)}")
    summary |= {"level": LEVEL, "min_runs": MIN_RUNS}
    return ("At the last checkpoint, " + "; ".join(parts) + ".", summary, dom_table)


def from_table(df: pd.DataFrame, figures: bool = True) -> AnalysisResult:
    """The result from the KL table (one row per run, step, chain set and algorithm); the
    analysis and its calibration (:data:`SIMULATION`) both decide the verdict here."""
    verdict, summary, dom_table = _verdict(df)
    return AnalysisResult(NAME, "ICL algorithms (Park et al.)", verdict, summary,
                          tables={"kl": df, "dominance": dom_table},
                          figures={"kl_over_training": _figure(df)} if figures else {})


class MarkovAlgorithmsOptions(Options):
    """Options of :func:`markov_algorithms`."""

    length: int | None = Field(None, ge=2, description=(
        "Context length of the compared sequences; default min(64, context - 1)."))
    n_rep: int = Field(8, ge=1, description="Sequences per chain set and checkpoint.")
    seed: int = Field(0, description="Seed of the sampled chains.")


def markov_algorithms(suite: Suite | str | Path, out: str | Path | None = None,
                      options: MarkovAlgorithmsOptions | None = None,
                      **overrides) -> AnalysisResult:
    """Compare every checkpoint with the four algorithms; save under ``out/markov_algorithms``
    when ``out`` is given. Options: :class:`MarkovAlgorithmsOptions`."""
    o = MarkovAlgorithmsOptions.build(options, **overrides)
    length, n_rep, seed = o.length, o.n_rep, o.seed
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    chains, prior = _chains(suite)
    context = int(suite.meta["spec"].get("model", {}).get("context", 128))
    length = length or min(64, context - 1)
    result = from_table(pd.DataFrame(_rows(suite, chains, prior, length, n_rep, seed)))
    result.summary |= {"context_length": length, "n_rep": n_rep}
    if out is not None:
        result.save(Path(out) / NAME)
    return result


def _applies(ctx: Context, o: MarkovAlgorithmsOptions) -> str | None:
    generator = ((ctx.suite.meta.get("spec") or {}).get("data") or {}).get("generator")
    if generator == "markov-mixture" or NAME in ctx.requested:
        return None
    return "the suite is not a markov-mixture suite (Park et al.'s algorithms need its chains)"


def _run(ctx: Context, o: MarkovAlgorithmsOptions) -> AnalysisResult:
    return markov_algorithms(ctx.suite, None, o)


SIMULATION = Simulation(
    null=lambda n, seed: markov_kl_table(n, seed, planted=False),
    planted=lambda n, seed: markov_kl_table(n, seed, planted=True),
    claims=lambda res: any(res.summary[f"dominant_across_runs_{cs}"] is not None
                           for cs in ("train", "fresh")),
    effect="on training chains Uni-Inf at 0.7 times the next nearest algorithm's Markov KL",
    run=lambda df, o: from_table(df, figures=False),
    size=lambda res: int(res.tables["dominance"]["n_runs"].min()))

ANALYSIS = Analysis(
    NAME,
    "Which in-context algorithm (Park et al.'s Uni/Bi retrieval or inference) does each "
    "checkpoint implement?",
    label="", section="icl-algorithms", run=_run, options=MarkovAlgorithmsOptions,
    inputs=CheckpointInputs("every checkpoint of a markov-mixture suite", _applies),
    simulation=SIMULATION)

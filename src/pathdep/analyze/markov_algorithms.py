"""The four-algorithm comparison of Park et al. (methods.md §7) for every run × checkpoint.

    from pathdep.analyze.markov_algorithms import markov_algorithms
    markov_algorithms("runs/mk", out="runs/mk/measurements.zarr.analysis")

For a markov-mixture suite trained here, each checkpoint's in-context
next-state predictions are compared (Markov KL) with Uni-Ret, Bi-Ret, Uni-Inf
and Bi-Inf, on the training chains and on fresh chains; the nearest algorithm
is the dominant one. The result is an AnalysisResult saved beside the store's
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

from pathdep.analysis.contract import Analysis, CheckpointInputs, Context, Options
from pathdep.analysis.result import AnalysisResult
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


def _verdict(df: pd.DataFrame) -> tuple[str, dict]:
    last = df[df["step"] == df.groupby("run")["step"].transform("max")]
    summary, parts = {}, []
    for cs in ("train", "fresh"):
        dom = last[last["chainset"] == cs].groupby("run")["dominant"].first()
        counts = dom.value_counts()
        summary[f"dominant_{cs}"] = counts.to_dict()
        top = counts.index[0]
        parts.append(f"on {cs} chains {top} in {counts.iloc[0]} of {len(dom)} runs")
    return "At the last checkpoint the dominant algorithm is " + "; ".join(parts) + ".", summary


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
    df = pd.DataFrame(_rows(suite, chains, prior, length, n_rep, seed))
    verdict, summary = _verdict(df)
    summary |= {"context_length": length, "n_rep": n_rep}
    result = AnalysisResult(NAME, "ICL algorithms (Park et al.)", verdict, summary,
                            tables={"kl": df}, figures={"kl_over_training": _figure(df)})
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


ANALYSIS = Analysis(
    NAME,
    "Which in-context algorithm (Park et al.'s Uni/Bi retrieval or inference) does each "
    "checkpoint implement?",
    label="", section="icl-algorithms", run=_run, options=MarkovAlgorithmsOptions,
    inputs=CheckpointInputs("every checkpoint of a markov-mixture suite", _applies))

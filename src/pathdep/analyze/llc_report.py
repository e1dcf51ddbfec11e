"""The llc analysis's summary, verdict and figures (analyze/llc.py computes the tables).

Every number of the verdict is a value of the summary or a table
(tests/analyze/verdict_numbers.py); a part that cannot be said is named with its
reason, never printed as NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pathdep.analysis import circuits
from pathdep.analysis import llc_stages as st
from pathdep.analysis.bootstrap import mean_over_runs
from pathdep.analysis.result import Interval, fmt

MAX_NAMED = 4  # diverged estimates named in the verdict


def summary(df: pd.DataFrame, stages: pd.DataFrame, timing: pd.DataFrame,
            induction: pd.DataFrame, o, why_not: str) -> dict:
    """The numbers the verdict quotes (and the settings that produced them)."""
    n = int(stages["run"].nunique())
    mode, count = st.modal(list(stages["pattern"]))
    last = df[np.isfinite(df["llc_mean"])].sort_values("step").groupby("run").tail(1)
    final = (mean_over_runs(last["llc_mean"].to_numpy(), n_boot=o.n_boot, seed=o.seed)
             if len(last) else None)
    first = timing[timing["boundary"] == 1]
    bad = df[df["n_diverged"] > 0]
    gaps = induction["gap_decades"].astype(float)
    formed = induction[induction["formed_step"].notna()]
    return {
        "n_runs": n, "runs": list(stages["run"]), "n_estimates": len(df),
        "settings": {"lr": o.lr, "nbeta": o.nbeta, "localization": o.localization,
                     "chains": o.chains, "draws": o.draws, "batch_size": o.batch_size,
                     "max_checkpoints": o.max_checkpoints, "plateau": o.plateau},
        "final_llc": final, "level": 0.95,
        "modal_pattern": mode, "n_modal": count,
        "first_boundary": (Interval(float(first["step"].iloc[0]), float(first["step_low"].iloc[0]),
                                    float(first["step_high"].iloc[0]))
                           if len(first) and np.isfinite(first["step"].iloc[0]) else None),
        "first_boundary_runs": int(first["n_runs"].iloc[0]) if len(first) else 0,
        "first_boundary_cannot_tell": str(first["cannot_tell"].iloc[0]) if len(first) else "",
        "n_chains_total": int(len(df) * o.chains), "n_chains_diverged": int(df["n_diverged"].sum()),
        "diverged_estimates": [f"{r}@{s}" for r, s in zip(bad["run"], bad["step"], strict=True)],
        "induction_reason": why_not, "induction_threshold": circuits.THRESHOLD["induction"],
        "copying_min": circuits.COPYING_MIN,
        "induction_runs": list(formed["run"]),
        "median_gap_decades": (float(np.nanmedian(gaps)) if np.isfinite(gaps).any() else None),
        "min_runs": st.MIN_RUNS,
    }


def _iv(iv: Interval) -> str:
    """The interval as printed, or its value alone where it has no bounds (n_boot = 0)."""
    return str(iv) if np.isfinite([iv.low, iv.high]).all() else fmt(iv.value)


def _head(s: dict) -> str:
    k = s["settings"]
    head = (f"LLC by devinterp's SGLD ({k['chains']} chains of {k['draws']} draws, "
            f"nβ {k['nbeta']:g}, ε {k['lr']:g}, γ {k['localization']:g}) at up to "
            f"{k['max_checkpoints']} log-spaced checkpoints of each of {s['n_runs']} run(s)")
    if s["final_llc"] is not None:
        head += (f"; at each run's last estimated checkpoint it is {_iv(s['final_llc'])} "
                 "(mean over runs, bootstrap 95 %)")
    return head


def _stages_text(s: dict) -> str:
    n = s["n_runs"]
    if n < s["min_runs"]:
        return (f"with {n} run(s) the stage timing across runs cannot tell (at least "
                f"{s['min_runs']} needed)")
    text = f"{s['n_modal']} of {n} runs share the stage pattern {s['modal_pattern']}"
    if s["first_boundary"] is not None:
        return (text + f"; the first stage boundary falls at step {_iv(s['first_boundary'])} "
                f"(geometric mean over the {s['first_boundary_runs']} runs that have one, "
                "bootstrap 95 %)")
    if s["first_boundary_runs"] == 0:
        return text + "; no run's curve has a stage boundary"
    return text + f"; the first boundary's timing cannot tell: {s['first_boundary_cannot_tell']}"


def _induction_text(s: dict) -> str:
    if s["induction_reason"]:
        return f"the stages are not lined up with induction heads: {s['induction_reason']}"
    if not s["induction_runs"]:
        return (f"no run formed induction heads ({circuits.describe('induction')}), so there "
                "is no formation step to line the stages up with")
    m = len(s["induction_runs"])
    if s["median_gap_decades"] is None:
        return f"induction heads formed in {m} run(s), none of which has a stage boundary"
    return (f"induction heads formed in {m} run(s); the nearest stage boundary lies a median "
            f"{s['median_gap_decades']:.2f} decades of steps from the formation step")


def _divergence_text(s: dict) -> str:
    k, total = s["n_chains_diverged"], s["n_chains_total"]
    if not k:
        return f"none of the {total} SGLD chains diverged (loss traces: the sgld_traces figure)"
    named = s["diverged_estimates"][:MAX_NAMED]
    more = f" and {len(s['diverged_estimates']) - MAX_NAMED} more" if len(
        s["diverged_estimates"]) > MAX_NAMED else ""
    return (f"{k} of {total} SGLD chains diverged (at {', '.join(named)}{more}; the llc table "
            "says why) and are left out of their estimates")


def verdict(s: dict) -> str:
    parts = [_head(s), _stages_text(s), _induction_text(s), _divergence_text(s)]
    return "; ".join(parts) + "."


def curves(df: pd.DataFrame, stages: pd.DataFrame) -> go.Figure:
    """Each run's LLC over log step (± chain s.d.), its stage boundaries marked."""
    fig = go.Figure()
    cuts = dict(zip(stages["run"], stages["boundaries"].fillna(""), strict=True))
    for run, g in df.groupby("run", sort=False):
        g = g.sort_values("step")
        x = np.maximum(g["step"], 1)  # step 0 drawn at 1 on the log axis
        fig.add_trace(go.Scatter(x=x, y=g["llc_mean"], mode="lines+markers", name=run,
                                 legendgroup=run, meta={"run": run},
                                 error_y={"type": "data", "array": g["llc_sd"].fillna(0)}))
        b = [int(v) for v in str(cuts.get(run, "")).split()]
        at = g[g["step"].isin(b)]
        if len(at):
            fig.add_trace(go.Scatter(x=np.maximum(at["step"], 1), y=at["llc_mean"], mode="markers",
                                     marker={"symbol": "x", "size": 11}, showlegend=False,
                                     name=f"{run} boundary", legendgroup=run, meta={"run": run}))
    fig.update_layout(title="LLC over training (× = stage boundary; step 0 drawn at 1)",
                      xaxis_title="step", yaxis_title="LLC (nats)", xaxis_type="log")
    return fig


def trace_figure(traces: pd.DataFrame) -> go.Figure:
    """The SGLD loss of every chain of every estimate, minus the checkpoint's own loss.

    A sound estimate levels off within the draws; a diverged chain is dashed.
    """
    fig = go.Figure()
    seen: set[str] = set()
    for (run, step, chain), g in traces.groupby(["run", "step", "chain"], sort=False):
        bad = bool(g["diverged"].any())
        fig.add_trace(go.Scatter(
            x=g["draw"], y=g["excess"], mode="lines", name=run, legendgroup=run,
            meta={"run": run}, showlegend=run not in seen, opacity=0.7,
            line={"width": 1, "dash": "dash" if bad else "solid"},
            hovertext=f"{run} step {step} chain {chain}" + (" (diverged)" if bad else "")))
        seen.add(run)
    fig.update_layout(title="SGLD loss traces: loss minus the checkpoint's loss, per chain and "
                      "checkpoint (dashed: diverged)", xaxis_title="draw",
                      yaxis_title="L(w) − L(w*) (nats)")
    return fig

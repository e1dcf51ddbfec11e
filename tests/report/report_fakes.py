"""Fake analysis results (real Plotly figures, one trace per run) and a tiny store, for report tests.

A module of its own (not conftest) so that tests can import it by a name no other folder uses.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pathdep.analysis.result import AnalysisResult, Interval

EVIL = "</script><script>alert(1)</script>"
EVIL_RUN = '<script>alert("run")</script>'
RUNS = ["seed0", "seed1", EVIL_RUN]
STEPS = [0, 10, 100, 1000]


def _curves(title: str, group: bool = False, band: bool = False) -> go.Figure:
    """One line per run (name = run id; with ``group`` also legendgroup and meta), a threshold
    line that belongs to no run, and with ``band`` an interval per run named "<run> interval"."""
    rng = np.random.default_rng(0)
    fig = go.Figure(layout={"title": {"text": title}, "xaxis": {"type": "log"}})
    x = [s + 1 for s in STEPS]
    for r in RUNS:
        y = np.exp(-np.arange(len(STEPS)) / 2) + rng.normal(0, 0.05, len(STEPS))
        if band:
            fig.add_scatter(x=x + x[::-1], y=np.r_[y + 0.05, (y - 0.05)[::-1]], fill="toself",
                            line={"width": 0}, opacity=0.2, showlegend=False, name=f"{r} interval")
        fig.add_scatter(x=x, y=y, mode="lines+markers", name=r,
                        legendgroup=r if group else None, meta=r if group else None)
    fig.add_scatter(x=[1, 1001], y=[0.5, 0.5], mode="lines", name="threshold")
    return fig


def fake_results(n_big_rows: int = 120) -> list[AnalysisResult]:
    """One result per report section, plus an analysis the report does not know."""
    pairs = pd.DataFrame({"run_a": ["seed0", "seed0", "seed1"], "run_b": ["seed1", EVIL_RUN, EVIL_RUN],
                          "agreement": [0.91, 0.88, 0.9]})
    outliers = pd.DataFrame({"run": [EVIL_RUN, "seed0"], "token": [EVIL, "the"],
                             "context": [f"before {EVIL} after", "of the cat"], "delta": [3.2, 1.1]})
    text_fig = go.Figure(go.Scatter(x=[1, 2], y=[3.2, 1.1], mode="markers+text", name=EVIL_RUN,
                                    text=[EVIL, "the"], hovertext=[EVIL, "the"]),
                         layout={"title": {"text": f"Outliers {EVIL}"}})
    matrix = go.Figure(go.Heatmap(z=[[1, 0.9, 0.88], [0.9, 1, 0.9], [0.88, 0.9, 1]], x=RUNS, y=RUNS),
                       layout={"title": {"text": "Agreement between final runs"}})
    big = pd.DataFrame({"i": range(n_big_rows), "x": np.linspace(0, 1, n_big_rows)})
    iv = Interval(410.0, 380.0, 450.0, n_boot=200)
    return [
        AnalysisResult("outliers", "A", "Two tokens stand out.", {"n": 2},
                       {"outliers": outliers}, {"scatter": text_fig}),
        AnalysisResult("agreement", "A", "Final runs agree on 90% [88%, 91%] of tokens.",
                       {"agreement": Interval(0.9, 0.88, 0.91)}, {"pairs": pairs},
                       {"curves": _curves("Agreement over training"), "matrix": matrix}),
        AnalysisResult("phase_changes", "G", "Induction heads formed in 3 of 3 runs, at step "
                       f"{iv}.", {"step": iv, "formed": 3, "runs": 3}, {"steps": big},
                       {"induction": _curves("Induction score", group=True)}),
        AnalysisResult("clusters", "C/D", "One cluster: no sign of distinct solutions.",
                       {"k": 1}, {}, {"sil": _curves("Silhouette")}),
        AnalysisResult("predictiveness", "E", "Step 100 predicts the final loss (R² 0.8).",
                       {"r2": Interval(0.8, 0.6, 0.9), "slope": float("nan")}, {}, {}),
        AnalysisResult("interventions", "F", "Early interventions decay away.", {"effect": 0.01},
                       {}, {"effect": _curves("Effect of the intervention")}),
        AnalysisResult("learning_curves", "shapes", "Curves are smooth, not S-shaped.", {}, {},
                       {"curves": _curves("Loss", band=True)}),
        AnalysisResult("loss_pca", "A", "PC1 is training time.", {"pc1": 0.7}, {},
                       {"traj": _curves("PCA trajectories")}),
    ]


def write_store(store: Path) -> None:
    """A minimal store: run ids, factors as coordinates, the suite name in attrs."""
    import xarray as xr

    ds = xr.Dataset({"loss": (("run", "step"), np.ones((len(RUNS), len(STEPS)), "float32"))},
                    coords={"run": RUNS, "step": STEPS, "factor_seed": ("run", [0, 1, 2]),
                            "factor_lr": ("run", [1e-3, 1e-3, 3e-3])},
                    attrs={"suite": f"toy {EVIL}", "eval_hash": "0" * 64})
    with warnings.catch_warnings():  # zarr: fixed-length strings have no v3 spec yet
        warnings.simplefilter("ignore")
        ds.to_zarr(store, mode="w")


def save_results(store: Path, results: list[AnalysisResult]) -> None:
    folder = store.with_name(store.name + ".analysis")
    for r in results:
        r.save(folder / r.name)


def make_store(folder: Path) -> Path:
    """A store with its analysis results beside it, as `pathdep analyze` leaves them."""
    path = folder / "toy.zarr"
    write_store(path)
    save_results(path, fake_results())
    return path

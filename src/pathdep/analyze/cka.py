"""A. Representation similarity between runs: linear CKA of hidden states (methods.md §9).

Linear CKA (Kornblith et al., ICML 2019), feature-space form: centre the
columns of X (n × p₁) and Y (n × p₂), then

    CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F).

The debiased option replaces each dot-product similarity with the unbiased
HSIC estimator (Song et al. 2007), as in the google-research
``representation_similarity`` demo: for ⟨X, Y⟩ = ‖YᵀX‖²_F,
``xty − n/(n−2)·(Σrow²_x · Σrow²_y) + ‖X‖²‖Y‖²/((n−1)(n−2))`` with the
row sums of squares taken as a dot product. It is invariant to orthogonal
transforms and isotropic scaling, 1 for identical representations, and the
debiased form is ≈ 0 for independent ones.

The analysis compares every pair of runs at matched hidden layers (``hlayer``)
and steps, on the stored hidden-state samples (``hsample``); NaN-padded
width columns (narrower runs) are dropped. Intervals resample runs only
(resampling samples duplicates rows, which biases CKA upward).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from pathdep.analysis import bootstrap, data, figures
from pathdep.analysis.contract import Analysis, StepOptions, StoreInputs, on_store
from pathdep.analysis.result import AnalysisResult


def _dot_similarity(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    xty = float(np.linalg.norm(y.T @ x) ** 2)
    if not debiased:
        return xty
    n = x.shape[0]
    sx, sy = (x**2).sum(1), (y**2).sum(1)
    return (xty - n / (n - 2) * float(sx @ sy)
            + float(sx.sum() * sy.sum()) / ((n - 1) * (n - 2)))


def linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Linear CKA between representations x (n × p₁) and y (n × p₂) of the same n inputs."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0] or x.shape[0] < 4:
        raise ValueError("linear_cka needs the same n ≥ 4 rows in x and y")
    x, y = x - x.mean(0), y - y.mean(0)
    num = _dot_similarity(x, y, debiased)
    nx, ny = _dot_similarity(x, x, debiased), _dot_similarity(y, y, debiased)
    return float(num / np.sqrt(nx * ny)) if nx > 0 and ny > 0 else np.nan


def _hidden(ds: xr.Dataset, r: int, si: int, li: int) -> np.ndarray:
    h = ds["hidden"].isel(run=r, step=si, hlayer=li).transpose("hsample", "d").values
    h = np.asarray(h, dtype=np.float64)
    return h[:, np.isfinite(h).all(0)]


def _pairs_at(ds: xr.Dataset, si: int, runs: np.ndarray) -> list[dict]:
    names, st, rows = data.runs(ds), data.steps(ds), []
    for li, layer in enumerate(ds["hlayer"].values):
        hs = {r: _hidden(ds, r, si, li) for r in runs}
        for i, a in enumerate(runs):
            for b in runs[i + 1:]:
                ok = np.isfinite(hs[a]).all(1) & np.isfinite(hs[b]).all(1)
                x, y = hs[a][ok], hs[b][ok]
                rows.append({"step": int(st[si]), "hlayer": int(layer), "run_a": names[a],
                             "run_b": names[b], "a": int(a), "b": int(b),
                             "cka": linear_cka(x, y), "cka_debiased": linear_cka(x, y, True)})
    return rows


class CkaOptions(StepOptions):
    """Options of :func:`cka`."""

    debiased: bool = Field(False, description=(
        "Use the debiased HSIC estimator (Kornblith et al. 2019)."))
    max_steps: int = Field(20, ge=1, description=(
        "At most this many steps (evenly spread) for CKA over training."))


def cka(ds: xr.Dataset, options: CkaOptions | None = None, **overrides) -> AnalysisResult:
    """Pairwise linear CKA between runs at matched layers, over (up to ``max_steps``) steps."""
    o = CkaOptions.build(options, **overrides)
    step, debiased, n_boot, seed, max_steps = o.step, o.debiased, o.n_boot, o.seed, o.max_steps
    data.require(ds, "hidden")
    if ds.sizes["run"] < 2:
        raise data.Skip("needs at least two runs")
    focus = data.choose_step(ds, step)
    d, st = data.done(ds), data.steps(ds)
    steps_i = data.common_steps(ds, 2)
    steps_i = np.unique(np.r_[steps_i[np.linspace(0, len(steps_i) - 1, min(max_steps, len(steps_i)))
                                      .astype(int)], focus])
    rows = [row for si in steps_i for row in _pairs_at(ds, int(si), np.flatnonzero(d[:, si]))]
    table = pd.DataFrame(rows)
    col = "cka_debiased" if debiased else "cka"
    at = table[table["step"] == st[focus]]
    n = ds.sizes["run"]
    per_layer = {}
    for layer, g in at.groupby("hlayer"):
        m = np.full((n, n), np.nan)
        m[g["a"], g["b"]] = m[g["b"], g["a"]] = g[col]
        per_layer[int(layer)] = bootstrap.estimate(lambda r, w, m=m: bootstrap.mean_over_pairs(m, r),
                                                   n, n_boot=n_boot, seed=seed)
    mean_m = _matrix(at, n, col)
    overall = bootstrap.estimate(lambda r, w: bootstrap.mean_over_pairs(mean_m, r), n,
                                 n_boot=n_boot, seed=seed)
    low = min(per_layer, key=lambda k: per_layer[k].value)
    verdict = (f"At step {int(st[focus])}, hidden states of different runs have "
               f"{'debiased ' if debiased else ''}linear CKA {overall} at matched layers (mean over "
               f"pairs and {len(per_layer)} layers); lowest at layer {low} ({per_layer[low]}).")
    curve = table.groupby(["step", "hlayer"])[col].mean().reset_index()
    curve["layer"] = "layer " + curve["hlayer"].astype(str)
    fig = figures.lines(curve, "step", col, "layer", log_x=True,
                        title="Linear CKA between runs at matched layers (mean over pairs)")
    return AnalysisResult(name="cka", question="A (representation similarity)", verdict=verdict,
                          summary={"step": int(st[focus]), "debiased": debiased, "mean_cka": overall,
                                   "by_layer": {str(k): v for k, v in per_layer.items()}},
                          tables={"pairs": table.drop(columns=["a", "b"])}, figures={"by_step": fig})


def _matrix(at: pd.DataFrame, n: int, col: str) -> np.ndarray:
    """(run, run) mean over layers of CKA at one step."""
    m = at.groupby(["a", "b"])[col].mean()
    out = np.full((n, n), np.nan)
    for (a, b), v in m.items():
        out[a, b] = out[b, a] = v
    return out


ANALYSIS = Analysis(
    "cka",
    "A: how similar are runs' hidden states at matched layers (linear CKA)?",
    label="A", section="differences", run=on_store(cka),
    options=CkaOptions, inputs=StoreInputs(needs=("hidden",)))

"""Small Plotly figure builders shared by the analyses (graph_objects only, no templates).

Figures hold summaries, never raw per-token arrays: a density heatmap stands in
for a scatter of a million points (a hexbin-style plot that stays small).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def lines(df: pd.DataFrame, x: str, y: str, group: str | None = None, *, title: str,
          log_x: bool = False, band: tuple[str, str] | None = None,
          y_title: str | None = None) -> go.Figure:
    """One line per ``group`` value; ``band`` = (low, high) columns drawn as an interval."""
    fig = go.Figure()
    groups = [(None, df)] if group is None else list(df.groupby(group, sort=False))
    for name, g in groups:
        label = y if name is None else str(name)
        if band is not None:
            fig.add_trace(go.Scatter(x=np.r_[g[x], g[x][::-1]], y=np.r_[g[band[1]], g[band[0]][::-1]],
                                     fill="toself", line={"width": 0}, opacity=0.2,
                                     showlegend=False, name=f"{label} interval", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=g[x], y=g[y], mode="lines+markers", name=label))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y_title or y)
    if log_x:
        fig.update_xaxes(type="log")
    return fig


def density(xv: np.ndarray, yv: np.ndarray, *, title: str, x_title: str, y_title: str,
            bins: int = 80) -> go.Figure:
    """Hexbin-style 2-D histogram (log10 counts) with the y = x diagonal."""
    ok = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[ok], yv[ok]
    lo = float(min(xv.min(initial=0), yv.min(initial=0)))
    hi = float(max(xv.max(initial=0), yv.max(initial=0)))
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    h, _, _ = np.histogram2d(xv, yv, bins=[edges, edges])
    mid = (edges[:-1] + edges[1:]) / 2
    z = np.where(h.T > 0, np.log10(np.maximum(h.T, 1)), np.nan)
    fig = go.Figure(go.Heatmap(x=mid, y=mid, z=z, colorscale="Viridis",
                               colorbar={"title": "log10 count"}))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x",
                             line={"dash": "dash", "color": "gray"}))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig


def heatmap(z: np.ndarray, x: list, y: list, *, title: str, x_title: str = "", y_title: str = "",
            zmin: float | None = None, zmax: float | None = None) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=np.asarray(z, dtype=float), x=[str(v) for v in x],
                               y=[str(v) for v in y], zmin=zmin, zmax=zmax, colorscale="Viridis"))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig


def bars(df: pd.DataFrame, x: str, y: str, group: str | None = None, *, title: str,
         err: tuple[str, str] | None = None) -> go.Figure:
    """Grouped bars; ``err`` = (low, high) columns drawn as asymmetric error bars."""
    fig = go.Figure()
    groups = [(None, df)] if group is None else list(df.groupby(group, sort=False))
    for name, g in groups:
        error = None
        if err is not None:
            error = {"type": "data", "symmetric": False, "array": (g[err[1]] - g[y]).to_numpy(),
                     "arrayminus": (g[y] - g[err[0]]).to_numpy()}
        fig.add_trace(go.Bar(x=g[x].astype(str), y=g[y], name=str(name or y), error_y=error))
    fig.update_layout(title=title, barmode="group", xaxis_title=x, yaxis_title=y)
    return fig


def points(df: pd.DataFrame, x: str, y: str, label: str, *, title: str,
           group: str | None = None) -> go.Figure:
    """A labelled scatter (one marker per row, hover text from ``label``)."""
    fig = go.Figure()
    groups = [(None, df)] if group is None else list(df.groupby(group, sort=False))
    for name, g in groups:
        fig.add_trace(go.Scatter(x=g[x], y=g[y], mode="markers+text", text=g[label].astype(str),
                                 textposition="top center", name=str(name or label)))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y)
    return fig

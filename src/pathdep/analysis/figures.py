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


def _state_colours(k: int) -> list[list]:
    """A step colour scale: state i (of k) gets the i-th qualitative colour."""
    from plotly.colors import qualitative

    pal = qualitative.Plotly
    scale = []
    for i in range(k):
        c = pal[i % len(pal)]
        scale += [[i / k, c], [(i + 1) / k, c]]
    return scale


def timeline(states: np.ndarray, rows: list[str], steps: np.ndarray, *, title: str) -> go.Figure:
    """One row per run, one column per step, colour = state; NaN where a run has no cell."""
    k = int(np.nanmax(states)) + 1 if np.isfinite(states).any() else 1
    fig = go.Figure(go.Heatmap(
        z=states, x=[str(s) for s in steps], y=[str(r) for r in rows], zmin=-0.5,
        zmax=k - 0.5, colorscale=_state_colours(k),
        colorbar={"title": "state", "tickvals": list(range(k))},
        hovertemplate="run %{y}<br>step %{x}<br>state %{z}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="step", yaxis_title="run",
                      xaxis={"type": "category"}, yaxis={"autorange": "reversed"})
    return fig


def state_graph(nodes: pd.DataFrame, edges: pd.DataFrame, *, title: str) -> go.Figure:
    """States as nodes (columns state, x, y, visits), transitions as arrows (source, target,
    count): width by count, forward jumps arched above, returns below."""
    pos = {int(r.state): (float(r.x), float(r.y)) for r in nodes.itertuples()}
    fig, top = go.Figure(), max(edges["count"].max() if len(edges) else 1, 1)
    for e in edges.itertuples():
        (x0, y0), (x1, y1) = pos[int(e.source)], pos[int(e.target)]
        bend = 0.25 * abs(int(e.target) - int(e.source)) * (1 if e.target > e.source else -1)
        t = np.linspace(0, 1, 25)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + bend
        xs = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x1
        ys = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y1
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="text",
                                 text=f"{e.source}→{e.target}: {e.count}",
                                 line={"width": 1 + 7 * e.count / top, "color": "gray"}))
        fig.add_annotation(x=xs[-3], y=ys[-3], ax=xs[-6], ay=ys[-6], xref="x", yref="y",
                           axref="x", ayref="y", showarrow=True, arrowhead=2, text="")
        fig.add_annotation(x=xs[12], y=ys[12], text=str(e.count), showarrow=False,
                           yshift=8 if bend >= 0 else -8)
    size = 20 + 30 * nodes["visits"] / max(nodes["visits"].max(), 1)
    fig.add_trace(go.Scatter(x=nodes["x"], y=nodes["y"], mode="markers+text",
                             text=nodes["state"].astype(str), textposition="middle center",
                             marker={"size": size, "color": [
                                 c for _, c in _state_colours(len(nodes))[::2]]},
                             hovertext=[f"state {s}: {v} cells" for s, v in
                                        zip(nodes["state"], nodes["visits"], strict=True)],
                             hoverinfo="text", showlegend=False))
    fig.update_layout(title=title, xaxis={"title": "mean position in training (0 = start, "
                                                   "1 = end)"},
                      yaxis={"visible": False})
    return fig

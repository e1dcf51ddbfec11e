"""Turn analysis results into what the HTML template shows: safe figure JSON, table rows, numbers.

Nothing here writes HTML by hand: the template (autoescaped Jinja2) does, and
figure JSON is escaped so that no string from the data can close its
``<script>`` element.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

MAX_TABLE_ROWS = 50
MAX_NUMBERS = 12
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                 "\u2028": "\\u2028", "\u2029": "\\u2029"}
_COLORED_TYPES = {"scatter", "scattergl", "bar"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#843c39",
           "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")


def environment() -> Environment:
    """The Jinja2 environment: package templates, autoescape always on, strict undefined."""
    return Environment(loader=PackageLoader("pathdep.report", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def safe_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: ``<``, ``>``, ``&`` as \\u escapes."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    for ch, esc in _JSON_ESCAPES.items():
        text = text.replace(ch, esc)
    return text


def _trace_ids(trace: dict) -> list[str]:
    """Candidate run ids of a trace, most specific first: meta(.run), legendgroup, name."""
    meta = trace.get("meta")
    ids = [meta.get("run")] if isinstance(meta, dict) else [meta]
    ids += [trace.get("legendgroup"), trace.get("name")]
    return [str(i) for i in ids if isinstance(i, (str, int)) and str(i) != ""]


def finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None (strict JSON has neither)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    return obj


def figure_dict(fig: Any) -> dict:
    """A Plotly figure (or its dict) as a plain, strict-JSON-able dict."""
    text = fig.to_json() if hasattr(fig, "to_json") else json.dumps(fig, default=str)
    return finite(json.loads(text))


def runs_in_figures(figures: list[dict]) -> list[str]:
    """Run ids named by traces, in order of appearance (used when the store gives none)."""
    seen: dict[str, None] = {}
    for fig in figures:
        for trace in fig.get("data", []):
            ids = _trace_ids(trace)
            if ids:
                seen.setdefault(ids[0], None)
    return list(seen)


def _color(trace: dict, color: str) -> None:
    """Give a run's trace its run colour unless the analysis chose one."""
    if trace.get("type", "scatter") not in _COLORED_TYPES:
        return
    line, marker = trace.setdefault("line", {}), trace.setdefault("marker", {})
    if "color" not in line and "color" not in marker:
        line["color"] = marker["color"] = color


def run_of(trace: dict, runs: dict[str, object]) -> str | None:
    """The run a trace belongs to: its meta(.run), legendgroup or name is a run id, or its name
    starts with one and a space ("seed1 interval"; the longest such run wins)."""
    ids = _trace_ids(trace)
    exact = next((i for i in ids if i in runs), None)
    if exact is not None or not ids:
        return exact
    name = str(trace.get("name") or "")
    prefixed = [r for r in runs if name.startswith(r + " ")]
    return max(prefixed, key=len) if prefixed else None


def figure_payload(d: dict, runs: list[str]) -> dict:
    """The figure dict and, per trace, its run id or None.

    Where every run has at most one legend entry, its traces take the run's
    colour, so a run looks the same on every plot; figures that draw several
    series per run ("seed0 PC1", "seed0 PC2") keep the analysis's colours.
    """
    colors = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(runs)}
    traces = d.get("data", [])
    trace_runs = [run_of(t, colors) for t in traces]
    legend = Counter(r for t, r in zip(traces, trace_runs, strict=True)
                     if r is not None and t.get("showlegend") is not False)
    if max(legend.values(), default=0) <= 1:
        for trace, run in zip(traces, trace_runs, strict=True):
            if run is not None:
                _color(trace, colors[run])
    layout = d.setdefault("layout", {})
    height = layout.get("height") or 440
    layout.pop("width", None)  # fill the column; the page decides the width
    layout.setdefault("margin", {"t": 60, "b": 50, "l": 60, "r": 30})
    return {"figure": d, "runs": trace_runs, "height": int(height)}


def fmt(v: Any) -> str:
    """A cell or summary value as short text: 4 significant digits, intervals as v [lo, hi]."""
    if isinstance(v, dict) and {"value", "low", "high"} <= set(v):
        if fmt(v["value"]) == "":  # an interval around nothing is not measured, not "[, ]"
            return ""
        return f"{fmt(v['value'])} [{fmt(v['low'])}, {fmt(v['high'])}]"
    if hasattr(v, "to_dict") and hasattr(v, "low"):
        return fmt(v.to_dict())
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v) if len(v) <= 8 else f"({len(v)} values)"
    if hasattr(v, "item"):
        return fmt(v.item())
    return str(v)


def summary_numbers(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers of a summary (scalars and intervals), as (label, text) pairs."""
    out = []
    for key, v in summary.items():
        scalar = isinstance(v, (int, float, str, bool)) or hasattr(v, "low") or (
            isinstance(v, dict) and {"value", "low", "high"} <= set(v))
        if scalar and fmt(v) != "":
            out.append((str(key).replace("_", " "), fmt(v)))
    return out[:MAX_NUMBERS]


def table_view(df: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS) -> dict:
    """Columns, formatted rows (first ``max_rows``), numeric flags and the total row count."""
    shown = df.head(max_rows)
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
               for c in df.columns]
    rows = [[fmt(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in df.columns], "numeric": numeric, "rows": rows,
            "n_rows": len(df), "truncated": len(df) > max_rows}

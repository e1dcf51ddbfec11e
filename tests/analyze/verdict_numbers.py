"""Which numbers of a verdict are not in its result's summary or tables (issue 15 item 4).

A number in a verdict is *backed* when some value of the summary (walked through
nested dicts, lists and intervals) or of a table cell equals it at the precision it
is printed with (its decimals, or 2-3 significant figures), or when it counts
something a table shows: a table's rows, a column's non-missing values, distinct
values or True values, or a list of the summary holds. Percentages are
compared as shares too. Digits inside names (``seed0-data1``, ``L1H2``,
``log10``) and years of citations ("Ainsworth et al. 2023") are not numbers. A
verdict that quotes the shipped calibration of its analysis (power at a suite
size, the planted effect: analysis/calibration.json, and the power it is held
to, analysis/power.ENOUGH) is backed by that table.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

NUM = re.compile(r"(?<![\w.])[-−]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")
CITATION = re.compile(r"(et al\.?,?|\()\s*(19|20)\d\d\b")
NAME = re.compile(r"\b[\w.-]*[A-Za-z_][\w.-]*\d[\w.-]*|\b\d+[A-Za-z_][\w.-]*|[\w-]*\d[\w-]*→[\w→-]*")


def numbers_in(text: str) -> list[tuple[str, bool]]:
    """(number as printed, followed by %) for each number of ``text`` outside names."""
    text = NAME.sub(" ", CITATION.sub(" ", text))
    return [(m.group(0).replace("−", "-"), text[m.end():m.end() + 2].lstrip()[:1] == "%")
            for m in NUM.finditer(text)]


def source_values(summary, tables: dict[str, pd.DataFrame]) -> np.ndarray:
    vals: list[float] = []

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            vals.append(float(len(x)))
            for v in x:
                walk(v)
        elif hasattr(x, "value") and hasattr(x, "low"):  # an Interval
            walk([x.value, x.low, x.high])
        elif isinstance(x, (bool, int, float, np.integer, np.floating)):
            vals.append(float(x))

    walk(summary)
    for df in tables.values():
        vals.append(float(len(df)))
        for c in df.columns:
            col = df[c]
            vals += [float(col.notna().sum()), float(col.nunique())]
            if col.dtype == bool:
                vals.append(float(col.sum()))
            else:
                vals += pd.to_numeric(col, errors="coerce").dropna().astype(float).tolist()
    return np.array([v for v in vals if math.isfinite(v)])


def _backed(s: str, pct: bool, vals: np.ndarray) -> bool:
    x = float(s)
    dec = len(s.split(".")[1]) if "." in s else 0
    for c, scale in ([(x, 1.0)] + ([(x / 100, 0.01)] if pct else [])):
        if np.any(np.abs(vals - c) <= 0.5 * 10 ** (-dec) * scale + 1e-9):
            return True
        digits = len(s.lstrip("-").replace(".", "").lstrip("0"))
        if c and np.any(np.abs(vals - c) <= abs(c) * 0.5 * 10 ** (1 - max(digits, 2))):
            return True
    return False


def calibration_of(name: str) -> list[dict]:
    """The shipped calibration rows of analysis ``name`` (analysis/calibration.json)."""
    import json
    from importlib.resources import files

    rows = json.loads(files("pathdep.analysis").joinpath("calibration.json").read_text())
    return [r for r in rows if r.get("analysis") == name]


def unbacked(verdict: str, summary, tables: dict[str, pd.DataFrame],
             constants: set[str] = frozenset(), name: str | None = None) -> list[str]:
    """Numbers of ``verdict`` backed by nothing in ``summary`` and ``tables`` (nor in
    ``constants``, nor, given the analysis ``name``, in its shipped calibration)."""
    from pathdep.analysis.power import ENOUGH

    cal = calibration_of(name) if name else []
    vals = source_values([summary, cal, [ENOUGH] if cal else []], tables)
    quoted = {s for r in cal for s, _ in numbers_in(str(r.get("effect", "")))}
    return [s for s, pct in numbers_in(verdict)
            if s not in constants and s not in quoted and not _backed(s, pct, vals)]

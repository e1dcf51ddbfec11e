"""What every analysis returns, and what the report reads.

An analysis is a function ``(ds: xarray.Dataset, **options) -> AnalysisResult``
registered in ``pathdep.analyze.registry``. ``analyze()`` writes each result
beside the store (``<store>.analysis/<name>/``: tables as CSV, figures as
Plotly JSON, ``summary.json``), and ``AnalysisResult.load`` reads it back, so
the report needs only that folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.io as pio

from pathdep.atomic import atomic_dir


def fmt(x: float) -> str:
    """3 significant digits, but whole numbers (e.g. steps) in full: 1024, not 1.02e+03."""
    if x == x and abs(x) < 1e9 and float(x).is_integer():
        return str(int(x))
    return f"{x:.3g}"


def _read_csv(path: Path) -> pd.DataFrame:
    """A saved table; a table saved with no columns (nothing to show) reads back empty."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@dataclass
class Interval:
    """A point estimate with a bootstrap interval over runs (and items)."""

    value: float
    low: float
    high: float
    level: float = 0.95
    n_boot: int = 0

    def __str__(self) -> str:
        return f"{fmt(self.value)} [{fmt(self.low)}, {fmt(self.high)}]"

    def __getitem__(self, key: str) -> float:  # reads like the dict it is saved as
        return self.to_dict()[key]

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high, "level": self.level,
                "n_boot": self.n_boot}


@dataclass
class AnalysisResult:
    """Tables, figures, summary numbers and a one-sentence verdict of one analysis.

    ``question`` is the literature's label (e.g. "A", "C/D", "E", "G") or a
    short topic; ``summary`` holds plain numbers and Interval objects that the
    verdict quotes (JSON-serialisable through ``to_dict``).
    """

    name: str
    question: str
    verdict: str
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)  # plotly.graph_objects.Figure

    def summary_json(self) -> dict[str, Any]:
        return {"name": self.name, "question": self.question, "verdict": self.verdict,
                "summary": _plain(self.summary)}

    def normalized(self) -> AnalysisResult:
        """The same result with its summary as it reads back from disk (plain JSON values,
        intervals as :class:`Interval`), so a fresh and a reused result are alike."""
        summary = _revive(json.loads(json.dumps(_plain(self.summary), default=str)))
        return AnalysisResult(self.name, self.question, self.verdict, summary, dict(self.tables),
                              dict(self.figures))

    def save(self, folder: Path) -> None:
        """Write to ``folder`` (created): summary.json, <table>.csv, <figure>.json."""
        with atomic_dir(Path(folder)) as tmp:
            (tmp / "summary.json").write_text(json.dumps(self.summary_json(), indent=2, default=str))
            for k, df in self.tables.items():
                df.to_csv(tmp / f"{k}.csv", index=False)
            for k, fig in self.figures.items():
                (tmp / f"{k}.fig.json").write_text(fig.to_json())

    @classmethod
    def load(cls, folder: Path) -> AnalysisResult:
        folder = Path(folder)
        s = json.loads((folder / "summary.json").read_text())
        tables = {p.stem: _read_csv(p) for p in sorted(folder.glob("*.csv"))}
        figures = {p.name.removesuffix(".fig.json"): pio.from_json(p.read_text())
                   for p in sorted(folder.glob("*.fig.json"))}
        return cls(name=s["name"], question=s["question"], verdict=s["verdict"],
                   summary=_revive(s["summary"]), tables=tables, figures=figures)


_INTERVAL_KEYS = {"value", "low", "high", "level", "n_boot"}


def _plain(v):
    """JSON-ready: Intervals as dicts, numpy scalars as Python numbers."""
    if isinstance(v, Interval):
        return v.to_dict()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item"):
        return v.item()
    return v


def _revive(v):
    """The inverse of :func:`_plain` for intervals: their dicts become :class:`Interval` again."""
    if isinstance(v, dict):
        if set(v) == _INTERVAL_KEYS:
            return Interval(**v)
        return {k: _revive(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_revive(x) for x in v]
    return v

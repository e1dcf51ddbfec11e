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


def _fmt(x: float) -> str:
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
        return f"{_fmt(self.value)} [{_fmt(self.low)}, {_fmt(self.high)}]"

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
        def conv(v):
            if isinstance(v, Interval):
                return v.to_dict()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            if hasattr(v, "item"):
                return v.item()
            return v

        return {"name": self.name, "question": self.question, "verdict": self.verdict,
                "summary": conv(self.summary)}

    def save(self, folder: Path) -> None:
        """Write to ``folder`` (created): summary.json, <table>.csv, <figure>.json."""
        from pathdep.atomic import atomic_dir

        with atomic_dir(Path(folder)) as tmp:
            (tmp / "summary.json").write_text(json.dumps(self.summary_json(), indent=2, default=str))
            for k, df in self.tables.items():
                df.to_csv(tmp / f"{k}.csv", index=False)
            for k, fig in self.figures.items():
                (tmp / f"{k}.fig.json").write_text(fig.to_json())

    @classmethod
    def load(cls, folder: Path) -> AnalysisResult:
        import plotly.io as pio

        folder = Path(folder)
        s = json.loads((folder / "summary.json").read_text())
        tables = {p.stem: _read_csv(p) for p in sorted(folder.glob("*.csv"))}
        figures = {p.name.removesuffix(".fig.json"): pio.from_json(p.read_text())
                   for p in sorted(folder.glob("*.fig.json"))}
        return cls(name=s["name"], question=s["question"], verdict=s["verdict"],
                   summary=s["summary"], tables=tables, figures=figures)

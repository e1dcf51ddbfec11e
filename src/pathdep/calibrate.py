"""Calibrate verdicts: how often each one claims an effect on suites with none, and with one.

    pathdep calibrate [--analysis NAME] [--runs 4 --runs 8 --runs 16] [--reps 100] [--json]

A verdict is a hypothesis test. For every registered analysis that declares a
:class:`~pathdep.analysis.contract.Simulation`, :func:`calibrate` builds
``reps`` simulated suites of each size with no effect (``null``) and as many
with a known effect (``planted``), runs the analysis on each, and counts how
often its verdict claims the effect: the false-positive rate (null) and the
power (planted), each with a Wilson 95 % interval (Wilson 1927; Brown, Cai &
DasGupta 2001 recommend it for small counts). The standard pathdep holds
itself to: a false-positive rate of at most 0.10 at 8 runs (docs/calibration.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from scipy.stats import binomtest

from pathdep import progress
from pathdep.analysis.contract import Analysis, Context
from pathdep.analysis.data import Skip
from pathdep.analyze.registry import ANALYSES, get
from pathdep.errors import PathdepError

log = logging.getLogger(__name__)
SIZES = (4, 8, 16)
MAX_FPR = 0.10  # at 8 runs (issue 14)


@dataclass
class Rate:
    """k claims in n suites, with a Wilson interval."""

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @classmethod
    def of(cls, k: int, n: int, level: float = 0.95) -> Rate:
        if n == 0:
            return cls(0, 0, float("nan"), float("nan"))
        ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        return cls(k, n, float(ci.low), float(ci.high))

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}] ({self.k}/{self.n})"


@dataclass
class Row:
    """One analysis at one suite size."""

    analysis: str
    n_runs: int
    false_positive: Rate
    power: Rate
    skipped: int  # simulated suites the analysis skipped (counted as no claim)
    effect: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["false_positive"]["value"] = self.false_positive.value
        d["power"]["value"] = self.power.value
        return d


def calibrated() -> list[Analysis]:
    """The registered analyses that declare a simulation."""
    return [a for a in ANALYSES if a.simulation is not None]


def _claims(entry: Analysis, ds, seed: int) -> bool | None:
    """Whether the verdict on one simulated store claims the effect (None: it skipped)."""
    sim = entry.simulation
    options = entry.options.build({**dict(sim.options), "seed": seed}
                                  if "seed" in entry.options.model_fields else dict(sim.options))
    try:
        result = sim.run(ds, options) if sim.run is not None else entry.run(Context(ds=ds), options)
        return bool(sim.claims(result))
    except Skip:
        return None


def calibrate_one(entry: Analysis, n_runs: int, reps: int, seed: int = 0) -> Row:
    """False-positive rate and power of ``entry``'s verdict at ``n_runs`` runs."""
    if entry.simulation is None:
        raise PathdepError(f"analysis {entry.name!r} declares no simulation; calibrated: "
                           f"{', '.join(a.name for a in calibrated())}")
    sim = entry.simulation
    counts = {"null": 0, "planted": 0}
    skipped = 0
    for kind, make in (("null", sim.null), ("planted", sim.planted)):
        for r in range(reps):
            s = seed * 100_003 + r
            got = _claims(entry, make(n_runs, s), s)
            skipped += got is None
            counts[kind] += bool(got)
    return Row(entry.name, n_runs, Rate.of(counts["null"], reps), Rate.of(counts["planted"], reps),
               skipped, sim.effect)


def calibrate(names: Iterable[str] | None = None, sizes: Iterable[int] = SIZES, reps: int = 100,
              seed: int = 0) -> list[Row]:
    """Calibrate the named analyses (default: every one with a simulation) at each size."""
    entries = [get(n) for n in names] if names else calibrated()
    sizes = list(sizes)
    if any(n < 2 for n in sizes) or reps < 1:
        raise PathdepError("calibrate needs suite sizes of at least 2 runs and reps >= 1")
    rows = []
    with progress.bar("calibrate", total=len(entries) * len(sizes)) as bar:
        for entry in entries:
            for n in sizes:
                rows.append(calibrate_one(entry, n, reps, seed))
                log.info("%s at %d runs: false positives %s, power %s", entry.name, n,
                         rows[-1].false_positive, rows[-1].power)
                bar.advance(1, info=f"{entry.name} at {n} runs")
    return rows


def markdown(rows: list[Row]) -> str:
    """The table as Markdown (docs/calibration.md)."""
    lines = ["| analysis | runs | false-positive rate | power | planted effect |",
             "|---|---|---|---|---|"]
    for r in rows:
        flag = " **(> 0.10)**" if r.n_runs == 8 and r.false_positive.value > MAX_FPR else ""
        lines.append(f"| {r.analysis} | {r.n_runs} | {r.false_positive}{flag} | {r.power} | "
                     f"{r.effect} |")
    return "\n".join(lines)

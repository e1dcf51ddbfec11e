"""What a verdict can bear at a suite's size: the calibration table shipped with pathdep.

``calibration.json`` beside this module is the output of

    pathdep calibrate --runs 4 --runs 8 --runs 16 --reps 100 --seed 1 --json \\
        -o src/pathdep/analysis/calibration.json

(fewer reps for the slowest simulation, and 32-run rows for some analyses:
docs/calibration.md says which).

(docs/calibration.md shows it as a table). :func:`at` gives an analysis's
false-positive rate and power at the calibrated size nearest below a suite's
number of runs, so a verdict that finds no effect can say whether the suite
could have found one (power >= :data:`ENOUGH`), and the report can show both
rates beside the verdict.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).with_name("calibration.json")
ENOUGH = 0.8  # the power below which "no effect found" reads "this suite cannot tell"


@dataclass(frozen=True)
class Calibration:
    """One row of the table: an analysis at ``n_runs`` runs."""

    analysis: str
    n_runs: int
    false_positive: float
    power: float
    reps: int
    effect: str


@functools.cache
def table() -> tuple[Calibration, ...]:
    """Every row of the shipped calibration (empty when the file is absent)."""
    if not TABLE.exists():
        return ()
    return tuple(Calibration(r["analysis"], int(r["n_runs"]), float(r["false_positive"]["value"]),
                             float(r["power"]["value"]), int(r["power"]["n"]), r["effect"])
                 for r in json.loads(TABLE.read_text()))


def at(analysis: str, n_runs: int) -> Calibration | None:
    """The row for the largest calibrated size <= ``n_runs`` (None below the smallest)."""
    rows = [r for r in table() if r.analysis == analysis and r.n_runs <= n_runs]
    return max(rows, key=lambda r: r.n_runs) if rows else None


def runs_needed(analysis: str, target: float = ENOUGH) -> int | None:
    """The smallest calibrated size whose power reaches ``target`` (None: none does)."""
    ok = [r.n_runs for r in table() if r.analysis == analysis and r.power >= target]
    return min(ok) if ok else None


def cannot_tell(analysis: str, n_runs: int) -> str | None:
    """A clause saying that the suite is too small to find the planted effect, or None."""
    row = at(analysis, n_runs)
    if row is None:
        return (f"with {n_runs} runs this suite cannot tell (no calibration at so few runs; "
                "docs/calibration.md)")
    if row.power >= ENOUGH:
        return None
    need = runs_needed(analysis)
    more = (f"about {need} runs reach power {ENOUGH:g}" if need is not None else
            f"even {max(r.n_runs for r in table() if r.analysis == analysis)} runs stay below "
            f"power {ENOUGH:g}")
    return (f"but with {n_runs} runs this suite cannot tell: {row.effect} is found in "
            f"{row.power:.0%} of simulated suites of {row.n_runs} runs ({more}; "
            f"docs/calibration.md)")

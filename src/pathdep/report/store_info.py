"""What the report's header says about the suite: its name, runs and factors.

Read from the store's coordinates and attributes only (docs/store.md); the
report works without a store too, from the analysis results alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pathdep.store import open_store

logger = logging.getLogger(__name__)

FACTOR_PREFIX = "factor_"


@dataclass
class StoreInfo:
    """The suite name, run ids (in suite order) and each run's factors."""

    suite: str = ""
    runs: list[str] = field(default_factory=list)
    factors: dict[str, dict[str, str]] = field(default_factory=dict)  # run -> factor -> value
    eval_source: str = ""

    def varying_factors(self) -> dict[str, int]:
        """Factor name -> number of distinct values, for factors that differ between runs."""
        names = sorted({f for fs in self.factors.values() for f in fs})
        counts = {f: len({fs.get(f, "") for fs in self.factors.values()}) for f in names}
        return {f: n for f, n in counts.items() if n > 1}


def read_store_info(store: Path) -> StoreInfo:
    """Suite name, runs and factors from ``store``; an empty StoreInfo when it cannot be read."""
    store = Path(store)
    if not store.exists():
        logger.info("no store at %s; the report header uses the analysis results only", store)
        return StoreInfo()
    try:
        ds = open_store(store)
    except Exception as e:  # the report is still useful without the header
        logger.warning("could not read the store %s (%s); header left short", store, e)
        return StoreInfo()
    runs = [str(r) for r in ds["run"].values] if "run" in ds.coords else []
    factors: dict[str, dict[str, str]] = {r: {} for r in runs}
    for name in ds.coords:
        if str(name).startswith(FACTOR_PREFIX) and ds[name].dims == ("run",):
            for r, v in zip(runs, ds[name].values, strict=True):
                factors[r][str(name)[len(FACTOR_PREFIX):]] = "" if v is None else str(v)
    return StoreInfo(suite=str(ds.attrs.get("suite", "")), runs=runs, factors=factors,
                     eval_source=str(ds.attrs.get("eval_source", "")))

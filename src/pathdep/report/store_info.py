"""What the report's header says about the suite: its name, runs and factors.

Read from the store's coordinates and attributes only (docs/store.md); the
report works without a store too, from the analysis results alone.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pathdep.store import open_store, read_failures

logger = logging.getLogger(__name__)

FACTOR_PREFIX = "factor_"


@dataclass
class StoreInfo:
    """The suite name, run ids (in suite order) and each run's factors."""

    suite: str = ""
    runs: list[str] = field(default_factory=list)
    factors: dict[str, dict[str, str]] = field(default_factory=dict)  # run -> factor -> value
    eval_source: str = ""
    eval_shape: tuple[int, int] | None = None  # (sequences, positions)
    eval_makeup: dict = field(default_factory=dict)  # see measure.evalset.chunk_documents
    measured: list[str] = field(default_factory=list)  # runs with at least one measured step
    failures: dict[str, str] = field(default_factory=dict)  # "run@step" -> why it failed
    architectures: list[str] = field(default_factory=list)  # model types of the runs (gpt_neox, gpt2)

    def eval_description(self) -> str:
        """What the evaluation set is made of, in one line (empty when unknown)."""
        if not self.eval_source:
            return ""
        text = self.eval_source
        if self.eval_shape:
            text += f", {self.eval_shape[0]} × {self.eval_shape[1]} tokens"
        m = self.eval_makeup
        if m.get("documents"):
            text += (f" from {m['documents']} document{'s' if m['documents'] != 1 else ''}"
                     f" (the largest gives {100 * m['largest_share']:.0f}% of the tokens)")
            if m.get("sampled"):
                text += f", sampled across {m['pool']} held-out documents"
        return text

    def gaps(self) -> list[str]:
        """Sentences naming what the store lacks: unmeasured runs, failed checkpoints."""
        out = []
        missing = [r for r in self.runs if r not in self.measured]
        if missing:
            out.append(f"{len(missing)} of {len(self.runs)} runs have no measured checkpoint and are "
                       f"in no analysis: {', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}")
        out += [f"checkpoint {k} failed to measure: {why}" for k, why in self.failures.items()]
        return out

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
    measured = runs
    if "done" in ds and ds["done"].dims == ("run", "step"):
        done = np.asarray(ds["done"].values, dtype=bool)
        measured = [r for r, d in zip(runs, done, strict=True) if d.any()]
    return StoreInfo(suite=str(ds.attrs.get("suite", "")), runs=runs, factors=factors,
                     eval_source=str(ds.attrs.get("eval_source", "")), measured=measured,
                     eval_shape=tuple(int(ds.sizes[d]) for d in ("seq", "pos"))
                     if {"seq", "pos"} <= set(ds.sizes) else None,
                     eval_makeup=_json_attr(ds.attrs.get("eval_makeup")),
                     failures=read_failures(store),
                     architectures=_json_list(ds.attrs.get("architectures")))


def _json_attr(value) -> dict:
    try:
        out = json.loads(value) if isinstance(value, str) else (value or {})
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _json_list(value) -> list[str]:
    """A JSON list attribute (e.g. ``architectures``); [] when absent (older stores) or unreadable."""
    try:
        out = json.loads(value) if isinstance(value, str) else []
    except ValueError:
        return []
    return [str(x) for x in out] if isinstance(out, list) else []

"""``analyze``: run registered analyses on a store and write their results beside it.

    from pathdep.analyze import analyze
    results = analyze("runs/demo/store.zarr")            # all analyses
    results = analyze(ds, names=["agreement"], step=512)   # an open Dataset, nothing written

Results go to ``<store>.analysis/<name>/`` (``AnalysisResult.save``) plus a
combined ``summary.json`` listing every verdict and every skipped analysis
with its reason.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from pathlib import Path

import xarray as xr

from pathdep import progress
from pathdep.analyze import data, registry
from pathdep.analyze.result import AnalysisResult
from pathdep.atomic import write_json

log = logging.getLogger(__name__)


def default_out(store: str | Path) -> Path:
    """Where results of ``store`` go: ``<store>.analysis`` beside it."""
    store = Path(store)
    return store.with_name(store.name + ".analysis")


def _options(fn, step, n_boot, seed) -> dict:
    params = inspect.signature(fn).parameters
    opts = {"step": step, "n_boot": n_boot, "seed": seed}
    return {k: v for k, v in opts.items() if k in params and not (k == "step" and v is None)}


def run_one(entry: registry.Analysis, ds: xr.Dataset, *, step=None, n_boot=500,
            seed=0) -> AnalysisResult | str:
    """The result of one analysis, or the reason it was skipped."""
    reason = entry.skip_reason(ds)
    if reason is None:
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():  # NaN cells (runs without a step) are expected
                warnings.simplefilter("ignore", RuntimeWarning)
                res = entry.func(ds, **_options(entry.func, step, n_boot, seed))
            log.info("%s done in %.1f s: %s", entry.name, time.perf_counter() - t0, res.verdict)
            return res
        except data.Skip as e:
            reason = str(e)
    log.info("skipping %s: %s", entry.name, reason)
    return reason


def analyze(store: str | Path | xr.Dataset, out: str | Path | None = None,
            names: list[str] | None = None, step: int | None = None, *, n_boot: int = 500,
            seed: int = 0) -> dict[str, AnalysisResult]:
    """Run the analyses ``names`` (default: all) on ``store`` and return their results.

    ``store`` is a store path or an open Dataset; results are written to ``out``
    (default ``<store>.analysis`` for a path, nothing for a Dataset). ``step``
    is the step the single-step analyses (agreement, cka) look at.
    """
    entries = [registry.get(n) for n in (names or list(registry.REGISTRY))]
    if isinstance(store, xr.Dataset):
        ds, source = store, None
    else:
        ds, source = data.open_store(store), str(store)
        out = default_out(store) if out is None else out
    results, skipped = {}, {}
    with progress.bar("analyse", total=len(entries)) as bar:
        for entry in entries:
            bar.update(info=entry.name)
            res = run_one(entry, ds, step=step, n_boot=n_boot, seed=seed)
            if isinstance(res, str):
                skipped[entry.name] = res
            else:
                results[entry.name] = res
                if out is not None:
                    res.save(Path(out) / entry.name)
            bar.advance()
    if out is not None:
        write_json(Path(out) / "summary.json", {
            "store": source, "step": step, "n_boot": n_boot, "seed": seed,
            "results": {k: r.summary_json() for k, r in results.items()}, "skipped": skipped})
    return results

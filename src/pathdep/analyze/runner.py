"""``analyze``: run registered analyses on a store and write their results beside it.

    from pathdep.analyze import analyze
    results = analyze("runs/demo/store.zarr")            # all analyses
    results = analyze(ds, names=["agreement"], step=512)   # an open Dataset, nothing written

Results go to ``<store>.analysis/<name>/`` (``AnalysisResult.save``) plus a
combined ``summary.json`` listing every verdict and every skipped analysis
with its reason.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from pathdep import progress
from pathdep.analysis import data
from pathdep.analysis.result import AnalysisResult
from pathdep.analyze import registry
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


FINGERPRINT = ".fingerprint"


def fingerprint(entry: registry.Analysis, ds: xr.Dataset, step, n_boot, seed) -> str:
    """What a saved result depends on: the store's measured cells and identity, the options,
    and the analysis's own source file (so a changed analysis is recomputed)."""
    h = hashlib.sha256(np.ascontiguousarray(ds["done"].values).tobytes())
    ident = {k: str(ds.attrs.get(k, "")) for k in ("suite", "layout_digest", "eval_hash")}
    h.update(json.dumps([ident, step, n_boot, seed, entry.name], sort_keys=True).encode())
    src = inspect.getsourcefile(entry.func)
    if src:
        h.update(Path(src).read_bytes())
    return h.hexdigest()


def _reuse(folder: Path, fp: str) -> AnalysisResult | None:
    mark = folder / FINGERPRINT
    if not (mark.is_file() and (folder / "summary.json").is_file()):
        return None
    if mark.read_text().strip() != fp:
        return None
    try:
        return AnalysisResult.load(folder)
    except Exception:  # an unreadable result is recomputed
        return None


def analyze(store: str | Path | xr.Dataset, out: str | Path | None = None,
            names: list[str] | None = None, step: int | None = None, *, n_boot: int = 500,
            seed: int = 0, reuse: bool = True) -> dict[str, AnalysisResult]:
    """Run the analyses ``names`` (default: all) on ``store`` and return their results.

    ``store`` is a store path or an open Dataset; results are written to ``out``
    (default ``<store>.analysis`` for a path, nothing for a Dataset). ``step``
    is the step the single-step analyses (agreement, cka) look at. With
    ``reuse``, a result saved for the same store cells, options and analysis
    code is loaded instead of recomputed.
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
            fp = fingerprint(entry, ds, step, n_boot, seed) if out is not None else ""
            res = _reuse(Path(out) / entry.name, fp) if out is not None and reuse else None
            reused = res is not None
            if reused:
                log.info("%s: reused the saved result (store and options unchanged)", entry.name)
            else:
                res = run_one(entry, ds, step=step, n_boot=n_boot, seed=seed)
            if isinstance(res, str):
                skipped[entry.name] = res
            else:
                results[entry.name] = res
                if out is not None and not reused:
                    folder = Path(out) / entry.name
                    res.save(folder)
                    (folder / FINGERPRINT).write_text(fp)
            bar.advance()
    if out is not None:
        write_json(Path(out) / "summary.json", {
            "store": source, "step": step, "n_boot": n_boot, "seed": seed,
            "results": {k: r.summary_json() for k, r in results.items()}, "skipped": skipped})
    return results

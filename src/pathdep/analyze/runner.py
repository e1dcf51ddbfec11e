"""``analyze``: run the registered analyses and write their results beside the store.

    from pathdep.analyze import analyze
    results = analyze("runs/demo/measurements.zarr")          # every default analysis
    results = analyze(ds, names=["agreement"], step=512)        # an open Dataset, nothing written
    results = analyze(store, suite="runs/demo", names=["instability", "basins"],
                      options={"basins": {"max_runs": 8}})

Results go to ``<store>.analysis/<name>/`` (``AnalysisResult.save``) with a
fingerprint (:mod:`pathdep.analysis.fingerprint`) of everything the result
depends on; a rerun whose fingerprint matches loads the saved result instead
of computing it. A combined ``summary.json`` lists every verdict, every skipped
analysis with its reason, and the options each analysis ran with. Fresh and
reused results are alike (:meth:`AnalysisResult.normalized`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from pathdep import progress
from pathdep.analysis import data
from pathdep.analysis.contract import Analysis, Context, Options
from pathdep.analysis.fingerprint import fingerprint
from pathdep.analysis.result import AnalysisResult
from pathdep.analyze import registry
from pathdep.atomic import write_json, write_text
from pathdep.errors import PathdepError
from pathdep.suites import Suite, load_suite
from pathdep.suites.load import MANIFEST

log = logging.getLogger(__name__)

FINGERPRINT = ".fingerprint"
STORE_NAME = "measurements.zarr"


def default_out(store: str | Path) -> Path:
    """Where results of ``store`` go: ``<store>.analysis`` beside it."""
    store = Path(store)
    return store.with_name(store.name + ".analysis")


def _suite_beside(store: Path | None) -> Suite | None:
    """The suite whose folder holds ``store`` (the layout `pathdep run` writes), if any."""
    if store is not None and (store.parent / MANIFEST).is_file():
        log.info("analyses that load checkpoints use the suite at %s", store.parent)
        return load_suite(store.parent)
    return None


def _context(store, out, suite, names) -> Context:
    ds = store if isinstance(store, xr.Dataset) else None
    path = None if store is None or ds is not None else Path(store)
    if isinstance(suite, (str, Path)):
        suite = load_suite(suite)
    if path is None and ds is None and suite is not None and suite.root:
        candidate = Path(suite.root) / STORE_NAME  # the suite's own store, when it has one
        path = candidate if candidate.exists() else None
    if path is not None and not path.exists():
        data.open_store(path)  # the clear error for a missing store
    if suite is None and path is not None:
        suite = _suite_beside(path)
    if out is None:
        out = (default_out(path) if path is not None else
               Path(suite.root) / f"{STORE_NAME}.analysis" if ds is None and suite is not None
               and suite.root else None)
    return Context(ds=ds, store=path, suite=suite, out=Path(out) if out is not None else None,
                   requested=frozenset(names or ()))


def resolve_options(entry: Analysis, ctx: Context, common: Mapping[str, Any],
                    given: Options | Mapping[str, Any] | None) -> Options:
    """Class defaults < the context's (e.g. the spec's [rl]) < common options < ``given``."""
    fields = entry.options.model_fields
    base = {k: v for k, v in entry.defaults(ctx).items() if k in fields}
    base |= {k: v for k, v in common.items() if k in fields and v is not None}
    if isinstance(given, Options):
        given = given.model_dump(exclude_unset=True)
    return entry.options.build(base, **dict(given or {}))


_NAN = re.compile(r"\bnan\b", re.IGNORECASE)
NAN_REASON = ("its numbers are undefined on this store (too few measured runs, checkpoints or "
              "items for this analysis); the tables show what was measured")


def not_measured_if_nan(res: AnalysisResult) -> AnalysisResult:
    """A verdict that would quote NaN becomes "Not measured: <reason>" (never a finding).

    The sentence the analysis wrote is kept in ``summary["unmeasured_verdict"]``.
    """
    if not _NAN.search(res.verdict):
        return res
    reason = res.summary.get("reason") if isinstance(res.summary.get("reason"), str) else NAN_REASON
    res.summary["unmeasured_verdict"] = res.verdict
    res.verdict = f"Not measured: {reason}."
    return res


def run_one(entry: Analysis, ctx: Context, options: Options) -> AnalysisResult | str:
    """The (normalized) result of one analysis, or the reason it was skipped."""
    reason = entry.skip_reason(ctx, options)
    if reason is None:
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():  # NaN cells (runs without a step) are expected
                warnings.simplefilter("ignore", RuntimeWarning)
                res = entry.run(ctx, options)
            res = not_measured_if_nan(res)
            log.info("%s done in %.1f s: %s", entry.name, time.perf_counter() - t0, res.verdict)
            return res.normalized()
        except data.Skip as e:
            reason = str(e)
        except Exception as e:  # one failed analysis (e.g. a corrupt checkpoint) must not hide the rest
            log.error("%s failed", entry.name, exc_info=True)
            return f"failed: {e}" if isinstance(e, PathdepError) else f"failed: {type(e).__name__}: {e}"
    log.info("skipping %s: %s", entry.name, reason)
    return reason


def _fingerprint(entry: Analysis, ctx: Context, options: Options) -> str:
    loads = entry.inputs.kind == "checkpoints"
    return fingerprint(entry.module, entry.name, options.model_dump(mode="json"),
                       ds=ctx.dataset(), suite=ctx.suite if loads else None)


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


def _one(entry: Analysis, ctx: Context, options: Options, reuse: bool
         ) -> AnalysisResult | str:
    """Reuse the saved result when its fingerprint matches, else compute (and save) it."""
    if ctx.out is None:
        return run_one(entry, ctx, options)
    folder = ctx.out / entry.name
    fp = _fingerprint(entry, ctx, options)
    res = _reuse(folder, fp) if reuse else None
    if res is not None:
        log.info("%s: reused the saved result (inputs, options and code unchanged)", entry.name)
        return res
    res = run_one(entry, ctx, options)
    if isinstance(res, AnalysisResult):
        res.save(folder)
        write_text(folder / FINGERPRINT, fp)
    return res


class Results(dict):
    """name -> AnalysisResult, plus ``skipped``: name -> the reason it did not run."""

    def __init__(self, results: dict[str, AnalysisResult], skipped: dict[str, str]):
        super().__init__(results)
        self.skipped = skipped


def analyze(store: str | Path | xr.Dataset | None = None, out: str | Path | None = None,
            names: list[str] | None = None, step: int | None = None, *,
            suite: Suite | str | Path | None = None, n_boot: int = 500, seed: int = 0,
            options: Mapping[str, Options | Mapping[str, Any]] | None = None,
            reuse: bool = True, workers: int | None = None) -> Results:
    """Run the analyses ``names`` (default: every default analysis) and return their results.

    ``store``: a store path or an open Dataset. ``suite`` (a Suite or folder) is what
    the analyses that load checkpoints need; by default the suite whose folder holds
    the store. Results are written to ``out`` (default ``<store>.analysis``; nothing
    for a Dataset). ``step``, ``n_boot`` and ``seed`` go to every analysis that has
    such an option; ``options`` maps an analysis name to its own options. With
    ``reuse``, a result saved for the same inputs, options and code is loaded. The
    returned mapping's ``skipped`` says why the others did not run. ``workers`` > 1 computes
    the analyses side by side in that many one-thread worker processes (a store path only;
    :func:`_side_by_side`); the results are the same, in the same order.
    """
    entries = [registry.get(n) for n in names] if names else [
        a for a in registry.ANALYSES if a.default]
    unknown = set(options or {}) - set(registry.REGISTRY)
    if unknown:
        registry.get(sorted(unknown)[0])  # the error with suggestions
    ctx = _context(store, out, suite, names)
    common = {"step": step, "n_boot": n_boot, "seed": seed}
    results, skipped, used = {}, {}, {}
    opts = {e.name: resolve_options(e, ctx, common, (options or {}).get(e.name)) for e in entries}
    parallel = (workers or 1) > 1 and len(entries) > 1 and not isinstance(store, xr.Dataset) \
        and ctx.store is not None and ctx.out is not None
    with progress.bar("analyse", total=len(entries)) as bar:
        if parallel:
            done = _side_by_side(entries, ctx, opts, reuse, workers, bar)
        else:
            done = {}
            for entry in entries:
                bar.update(info=entry.name)
                done[entry.name] = _one(entry, ctx, opts[entry.name], reuse)
                bar.advance()
    for entry in entries:  # the registry's order, however they finished
        res = done[entry.name]
        if isinstance(res, str):
            skipped[entry.name] = res
        else:
            results[entry.name] = res
            used[entry.name] = opts[entry.name].model_dump(mode="json")
    if ctx.out is not None:
        _write_summary(ctx, {"step": step, "n_boot": n_boot, "seed": seed}, results, skipped,
                       used)
    return Results(results, skipped)


def _groups(entries: list[Analysis]) -> list[list[Analysis]]:
    """The analyses as the tasks of :func:`_side_by_side`: those that load checkpoints
    first (the long ones), and the loss barriers' two (instability, basins) in one task, as
    they share their evaluation batches (``Context.memo``, lmc/inputs.py)."""
    tasks: dict[str, list[Analysis]] = {}
    for e in sorted(entries, key=lambda e: e.inputs.kind != "checkpoints"):  # stable
        key = "pathdep.lmc" if e.module.startswith("pathdep.lmc.") else e.name
        tasks.setdefault(key, []).append(e)
    return list(tasks.values())


def _task(job: tuple[list[str], Context, dict[str, Options], bool]
          ) -> dict[str, AnalysisResult | str]:
    """In a worker process: ``_one`` for each analysis of one task, in order."""
    names, ctx, opts, reuse = job
    return {n: _one(registry.get(n), ctx, opts[n], reuse) for n in names}


def _side_by_side(entries: list[Analysis], ctx: Context, opts: dict[str, Options],
                  reuse: bool, workers: int, bar) -> dict[str, AnalysisResult | str]:
    """Run the analyses in ``workers`` worker processes of executors/processes.py (spawned,
    cores // workers torch threads each: small models use a second thread of one process
    poorly). Each worker opens the store itself and saves each result as ``_one`` does, so
    an interrupted call keeps every finished analysis and the rerun reuses it. A task that
    fails or whose worker dies fails its analyses, not the call."""
    from pathdep.executors.processes import ProcessExecutor

    tasks = _groups(entries)
    shared = dataclasses.replace(ctx, ds=None, memo={})  # each worker opens its own
    jobs = [([e.name for e in t], shared, {e.name: opts[e.name] for e in t}, reuse)
            for t in tasks]
    pool = ProcessExecutor(min(workers, len(tasks)))
    log.info("analysing in %d worker processes of %d thread(s)", pool.workers, pool.threads)
    done: dict[str, AnalysisResult | str] = {}
    try:
        for r in pool.map(_task, jobs):
            names = r.job[0]
            if r.ok:
                done |= r.value
            else:
                log.error("analyses %s failed: %s", ", ".join(names), r.error)
                done |= {n: f"failed: {r.error}" for n in names}
            for n in names:
                bar.update(info=n)
                bar.advance()
    finally:
        pool.close()
    return done


def _write_summary(ctx: Context, head: dict, results: dict[str, AnalysisResult],
                   skipped: dict[str, str], used: dict[str, dict]) -> None:
    """Update ``<out>/summary.json``: the analyses run now replace their earlier entries."""
    path = ctx.out / "summary.json"
    try:
        old = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        old = {}
    now = set(results) | set(skipped)
    merged = {k: {n: v for n, v in (old.get(k) or {}).items() if n not in now}
              for k in ("results", "skipped", "options")}
    merged["results"] |= {k: r.summary_json() for k, r in results.items()}
    merged["skipped"] |= skipped
    merged["options"] |= used
    write_json(path, {"store": str(ctx.store) if ctx.store else None, **head, **merged})

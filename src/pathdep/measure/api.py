"""``measure()``: every (run, checkpoint) of a suite into one store, on any executor.

    from pathdep.measure import measure
    result = measure("runs/quick", out="runs/quick/measure.zarr")
    result.ok, result.failed            # per-job failures, with reasons

The store is laid out from the whole suite (so later calls can add the
checkpoints left out now); the ``runs`` / ``steps`` / ``every`` narrowing only
chooses which jobs run. Jobs already done are skipped; a job another process
is measuring is waited for at the end; a failed job (e.g. a corrupt
checkpoint) is reported and the others go on.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from pathdep.errors import PathdepError
from pathdep.executors import Executor, get_executor
from pathdep.measure.guard import audit_attrs, check_stored
from pathdep.measure.job import MeasureJob, run_job
from pathdep.measure.layout import suite_layout
from pathdep.measure.stream import (
    Prefetcher,
    Streamed,
    check_budget,
    checkpoint_bytes,
    download,
    is_cached,
)
from pathdep.progress import bar
from pathdep.spec import MeasureSpec, parse_spec
from pathdep.store import (
    create_store,
    done_flags,
    grow_store,
    is_store,
    missing_cells,
    read_inputs,
    record_failures,
)
from pathdep.store.formats import require_current_store, require_zarr
from pathdep.store.schema import Dims
from pathdep.suites import Suite, load_suite, select
from pathdep.suites.checkpoint import check_loadable

log = logging.getLogger(__name__)


@dataclass
class MeasureResult:
    """What a measure call did: where the store is, and each job's fate."""

    store: Path
    measured: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)
    failed: dict[tuple[str, int], str] = field(default_factory=dict)
    tokens: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        lines = [f"{self.store}: {len(self.measured)} measured, {len(self.skipped)} already "
                 f"stored, {len(self.failed)} failed ({self.seconds:.1f} s)"]
        lines += [f"  FAILED {run}@{step}: {why}" for (run, step), why in self.failed.items()]
        return "\n".join(lines)


def default_options(suite: Suite, config: MeasureSpec | None = None, **overrides) -> MeasureSpec:
    """``config``, else the suite spec's ``[measure]``, else defaults; non-None overrides win."""
    if config is None and suite.meta.get("spec"):
        config = parse_spec(suite.meta["spec"], f"suite {suite.name} spec").measure
    config = config or MeasureSpec()
    update = {k: v for k, v in overrides.items() if v is not None}
    if not update:
        return config
    try:  # exclude_unset: which options were given stays known (auto batch size on a GPU)
        return MeasureSpec.model_validate({**config.model_dump(exclude_unset=True), **update})
    except ValidationError as e:
        bad = "; ".join(f"{'.'.join(map(str, er['loc']))}: {er['msg']}" for er in e.errors())
        raise PathdepError(f"measure options: {bad}") from None


def _fit_old_store(store: Path, layout):
    """A store created before behaviour probes (or weight statistics) is measured without
    them (it has no place for them)."""
    if not is_store(store):
        return layout
    import zarr

    group = zarr.open_group(store, mode="r")
    if layout.dims.wstat and "weight_stats" not in group:
        log.info("store %s has no weight statistics (it predates them); measuring without",
                 store)
        layout = replace(layout, dims=Dims(**{**layout.dims.as_dict(), "wstat": 0}))
    if layout.probes is None or "probe_tokens" in group:
        return layout
    log.warning("store %s has no behaviour probes (it predates them); measuring without; "
                "use a new --out to measure probes", store)
    dims = Dims(**{**layout.dims.as_dict(), "probe": 0, "item": 0})
    return replace(layout, probes=None, dims=dims)


def _cache_budget(gb: float | None, prefetch: int) -> int | None:
    if prefetch < 0:
        raise PathdepError(f"--prefetch {prefetch}: give 0 (no download ahead) or more")
    if gb is None:
        return None
    if gb <= 0:
        raise PathdepError(f"--cache-budget {gb}: give a size in GB above 0, or leave it out")
    return int(gb * 1e9)


def _resolve_precision(cfg: MeasureSpec, executor: str = "inprocess") -> dict:
    """The jobs' device, dtype and whether the batch is sized from GPU memory.

    On Ray, ``cuda`` is the workers' GPU (Ray gives each job one): it is not looked
    for on this machine, which may have none, and ``auto`` dtype means bfloat16.
    """
    from pathdep.models.device import dtype_name, resolve_device, resolve_dtype

    if executor == "ray" and cfg.device.startswith("cuda"):
        dtype = "bfloat16" if cfg.dtype == "auto" else cfg.dtype
        auto = "batch_size" not in cfg.model_fields_set
        return {"device": "cuda", "dtype": dtype, "auto_batch": auto}
    dev = resolve_device(cfg.device)
    dtype = dtype_name(resolve_dtype(cfg.dtype, dev))
    auto = dev.type == "cuda" and "batch_size" not in cfg.model_fields_set
    return {"device": str(dev), "dtype": dtype, "auto_batch": auto}


def _precision(store: Path, cfg: MeasureSpec, layout, precision: dict) -> None:
    """Record the device kind and dtype in a new store; check them against an old one:
    a store never mixes weight precisions unknowingly."""
    import torch

    dev, dtype, auto = torch.device(precision["device"]), precision["dtype"], precision["auto_batch"]
    if is_store(store):
        was = read_inputs(store)["attrs"]
        old = was.get("measure_dtype", "float32")  # stores before issue 17: CPU, float32
        if old != dtype:
            raise PathdepError(f"store {store} was measured with {old} weights, this call would "
                               f"use {dtype}; pass --dtype {old} to complete it, or measure "
                               "into a new --out")
        if was.get("measure_device", "cpu") != dev.type:
            log.warning("store %s was measured on %s; these jobs run on %s (values agree to "
                        "float rounding, not bit for bit)", store,
                        was.get("measure_device", "cpu"), dev.type)
    else:
        layout.attrs.update(measure_device=dev.type, measure_dtype=dtype,
                            measure_batch_size="auto" if auto else str(cfg.batch_size))


def _jobs(store: Path, todo: Suite, batch_size: int, allow_pickle: bool,
          precision: dict, keep_cache: bool = True) -> tuple[list, list]:
    """(jobs to run, (run, step) already done); refuses jobs the store has no place for."""
    inputs = read_inputs(store)
    runs, steps = inputs["runs"], inputs["steps"]
    done = done_flags(store)
    jobs, skipped = [], []
    for run in todo.runs:
        if run.id not in runs:
            raise PathdepError(f"store {store} has no run {run.id!r} (it holds {runs[:10]}); "
                               "measure this suite into a new --out")
        for ckpt in run.checkpoints:
            if ckpt.step not in steps:
                raise PathdepError(f"store {store} has no step {ckpt.step} (run {run.id}); "
                                   "measure this suite into a new --out")
            if done[runs.index(run.id), steps.index(ckpt.step)]:
                skipped.append((run.id, ckpt.step))
            else:
                fetch = ckpt.repo is not None and not is_cached(ckpt)
                jobs.append(MeasureJob(str(store), run, ckpt.step, batch_size, allow_pickle,
                                       **precision, fetch=fetch, keep_cache=keep_cache))
    return jobs, skipped


def _round(ex: Executor, jobs: list[MeasureJob], result: MeasureResult, pb, t0: float,
           fn=run_job) -> list:
    """One pass over ``jobs``; returns those another process holds the lock of."""
    busy = []
    for r in ex.map(fn, jobs):
        key = (r.job.run.id, r.job.step)
        if not r.ok:
            result.failed[key] = r.error
            log.error("%s@%s failed: %s%s", *key, r.error, "\n" + r.traceback if r.traceback else "")
        elif r.value.status == "busy":
            busy.append(r.job)
            continue
        elif r.value.status == "done":
            result.measured.append(key)
            result.tokens += r.value.tokens
        else:
            result.skipped.append(key)
        pb.advance(info=f"{result.tokens / max(1e-9, time.perf_counter() - t0):,.0f} tok/s")
    return busy


def _run_all(ex: Executor, jobs: list[MeasureJob], result: MeasureResult,
             stream: dict | None = None) -> None:
    """Run jobs; those locked by another process are waited for in a second round.

    In process, hub checkpoints not yet cached are downloaded ahead of their jobs
    (``stream``: ``ahead`` and ``budget`` in bytes; measure/stream.py).
    """
    t0 = time.perf_counter()
    fetch = [j.run.checkpoint(j.step) if j.fetch else None for j in jobs]
    with bar("measuring", total=len(jobs), info="") as pb:
        if stream is not None and ex.name == "inprocess" and any(fetch):
            size = functools.partial(checkpoint_bytes, allow_pickle=jobs[0].allow_pickle)
            pf = Prefetcher(fetch, ahead=stream["ahead"], budget=stream["budget"],
                            fetch=functools.partial(download, allow_pickle=jobs[0].allow_pickle),
                            size=size)
            with pf:
                busy = _round(ex, jobs, result, pb, t0,
                              Streamed(run_job, pf, [(j.run.id, j.step) for j in jobs]))
        else:
            busy = _round(ex, jobs, result, pb, t0)
        if busy:
            _round(ex, [replace(j, wait=True) for j in busy], result, pb, t0)


def measure(suite: Suite | str | Path, *, out: str | Path, evalset=None, executor: str = "inprocess",
            address: str | None = None, batch_size: int | None = None,
            config: MeasureSpec | None = None, tokenizer: str | None = None,
            runs: list[str] | None = None, steps: list[int] | str | None = None,
            every: int | None = None, allow_pickle: bool = False,
            num_cpus: int | None = None, allow_duplicates: bool = False,
            keep_cache: bool = False, cache_budget: float | None = None,
            prefetch: int = 1) -> MeasureResult:
    """Measure every (run, checkpoint) of ``suite`` on ``evalset`` into the store ``out``.

    ``suite``: a Suite, a suite folder, manifest or preset. ``evalset`` (``--eval``): see
    measure/evalset.py (None: the suite generator's held-out split).
    ``config``: measure options (default: the suite spec's ``[measure]``);
    ``batch_size`` overrides its batch size. ``tokenizer`` names the tokenizer
    when runs disagree. ``runs``/``steps``/``every`` narrow the jobs (as in
    :func:`pathdep.suites.select`). ``executor``/``address``/``num_cpus``
    choose where jobs run. With ``[measure] check_duplicates`` the suite is audited
    first (:func:`pathdep.suites.audit`; the store's ``audit`` attribute records it):
    checkpoints of several runs holding identical weights are refused unless
    ``allow_duplicates``, and so are hub revisions that do not exist. Hub checkpoints
    are streamed (measure/stream.py): downloaded ``prefetch`` jobs ahead, within
    ``cache_budget`` GB of cache, and removed from the Hugging Face cache once stored
    unless ``keep_cache`` (those cached before this call always stay). Returns a
    :class:`MeasureResult`; failed jobs are in ``result.failed`` (bad input before
    any job raises :class:`PathdepError`).
    """
    t0 = time.perf_counter()
    require_zarr()
    require_current_store(Path(out))  # an old store takes no new jobs before `pathdep migrate`
    full = suite if isinstance(suite, Suite) else load_suite(suite)
    check_loadable(full)  # a masked-LM suite fails here, not once per checkpoint
    cfg = default_options(full, config, batch_size=batch_size)
    precision = _resolve_precision(cfg, executor)  # a missing device fails before any work
    budget = _cache_budget(cache_budget, prefetch)
    todo = select(full, runs=runs, steps=steps, every=every)
    store = Path(out).resolve()
    check = cfg.check_duplicates
    audited = (audit_attrs(full, todo, allow_duplicates, store) if check
               and not is_store(store) else None)  # before the layout loads any tokenizer
    layout = _fit_old_store(store, suite_layout(full, evalset, cfg, tokenizer))
    grow = missing_cells(store, layout)
    _precision(store, cfg, layout, precision)
    if check and audited is None:
        audited = audit_attrs(full, todo, allow_duplicates, store) if grow else None
        if not grow:
            check_stored(store, todo, allow_duplicates)
    layout.attrs.update(audited or {})
    if grow:  # branches or checkpoints added since: keep every measured job, add the new cells
        layout = grow_store(store, layout)
        log.info("store %s now has %d runs x %d steps; measured jobs kept", store,
                 len(layout.runs), len(layout.steps))
    if create_store(store, layout):
        log.info("created store %s", store)
    del layout  # the evaluation set (tokens, token strings) is in the store: free it for the jobs
    jobs, skipped = _jobs(store, todo, cfg.batch_size, allow_pickle, precision, keep_cache)
    hub = [j.run.checkpoint(j.step) for j in jobs if j.fetch]
    check_budget(hub, budget, functools.partial(checkpoint_bytes, allow_pickle=allow_pickle))
    result = MeasureResult(store, skipped=skipped)
    if jobs:
        gpus = 1 if precision["device"].startswith("cuda") else 0
        with get_executor(executor, address, num_cpus=num_cpus, gpus_per_job=gpus) as ex:
            _run_all(ex, jobs, result, {"ahead": prefetch, "budget": budget})
    record_failures(store, result.failed, result.measured + result.skipped)
    result.seconds = time.perf_counter() - t0
    (log.info if result.ok else log.warning)("%s", result.summary())
    return result

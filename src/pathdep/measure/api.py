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

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.executors import Executor, get_executor
from pathdep.measure.guard import audit_attrs, check_stored
from pathdep.measure.job import MeasureJob, run_job
from pathdep.measure.layout import suite_layout
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
    return MeasureSpec.model_validate({**config.model_dump(), **update}) if update else config


def _fit_old_store(store: Path, layout):
    """A store created before behaviour probes is measured without them (it has no place)."""
    if layout.probes is None or not is_store(store):
        return layout
    import zarr

    if "probe_tokens" in zarr.open_group(store, mode="r"):
        return layout
    log.warning("store %s has no behaviour probes (it predates them); measuring without; "
                "use a new --out to measure probes", store)
    dims = Dims(**{**layout.dims.as_dict(), "probe": 0, "item": 0})
    return replace(layout, probes=None, dims=dims)


def _jobs(store: Path, todo: Suite, batch_size: int, allow_pickle: bool) -> tuple[list, list]:
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
                jobs.append(MeasureJob(str(store), run, ckpt.step, batch_size, allow_pickle))
    return jobs, skipped


def _round(ex: Executor, jobs: list[MeasureJob], result: MeasureResult, pb, t0: float) -> list:
    """One pass over ``jobs``; returns those another process holds the lock of."""
    busy = []
    for r in ex.map(run_job, jobs):
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


def _run_all(ex: Executor, jobs: list[MeasureJob], result: MeasureResult) -> None:
    """Run jobs; those locked by another process are waited for in a second round."""
    t0 = time.perf_counter()
    with bar("measuring", total=len(jobs), info="") as pb:
        busy = _round(ex, jobs, result, pb, t0)
        if busy:
            _round(ex, [replace(j, wait=True) for j in busy], result, pb, t0)


def measure(suite: Suite | str | Path, *, out: str | Path, evalset=None, executor: str = "inprocess",
            address: str | None = None, batch_size: int | None = None,
            config: MeasureSpec | None = None, tokenizer: str | None = None,
            runs: list[str] | None = None, steps: list[int] | str | None = None,
            every: int | None = None, allow_pickle: bool = False,
            num_cpus: int | None = None, allow_duplicates: bool = False) -> MeasureResult:
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
    ``allow_duplicates``, and so are hub revisions that do not exist. Returns a
    :class:`MeasureResult`; failed jobs are in ``result.failed`` (bad input before
    any job raises :class:`PathdepError`).
    """
    t0 = time.perf_counter()
    full = suite if isinstance(suite, Suite) else load_suite(suite)
    check_loadable(full)  # a masked-LM suite fails here, not once per checkpoint
    cfg = default_options(full, config, batch_size=batch_size)
    todo = select(full, runs=runs, steps=steps, every=every)
    store = Path(out).resolve()
    check = cfg.check_duplicates
    audited = (audit_attrs(full, todo, allow_duplicates, store) if check
               and not is_store(store) else None)  # before the layout loads any tokenizer
    layout = _fit_old_store(store, suite_layout(full, evalset, cfg, tokenizer))
    grow = missing_cells(store, layout)
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
    jobs, skipped = _jobs(store, todo, cfg.batch_size, allow_pickle)
    result = MeasureResult(store, skipped=skipped)
    if jobs:
        with get_executor(executor, address, num_cpus=num_cpus) as ex:
            _run_all(ex, jobs, result)
    record_failures(store, result.failed, result.measured + result.skipped)
    result.seconds = time.perf_counter() - t0
    (log.info if result.ok else log.warning)("%s", result.summary())
    return result

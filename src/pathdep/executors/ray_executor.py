"""Run jobs as Ray tasks: on a cluster (``address``) or a local instance started here.

    with get_executor("ray", address="ray://head:10001") as ex: ...
    with get_executor("ray", num_cpus=2) as ex: ...          # local instance

Each job is one task asking for ``cpus_per_job`` CPUs (and ``gpus_per_job``
GPUs: measuring on ``cuda`` asks for one); Ray sets the task's thread count
from it. Workers must import the same pathdep (and see the same
files: a store or a suite folder on a shared filesystem when on a cluster).
A local instance started here is shut down by :meth:`RayExecutor.close`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pathdep.errors import PathdepError
from pathdep.executors.base import Executor, JobResult, call_guarded

log = logging.getLogger(__name__)


def _run_one(fn: Callable, job: Any, index: int) -> JobResult:
    """The task body: the same guard as in-process, so errors come back as data."""
    return call_guarded(fn, job, index)


class RayExecutor(Executor):
    """Ray tasks; results are yielded as tasks finish."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 cpus_per_job: float = 1, gpus_per_job: float = 0):
        try:
            import ray
        except ImportError as e:
            raise PathdepError(
                "executor 'ray' needs Ray: pip install 'pathdep[ray]' (or use executor 'inprocess')"
            ) from e
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            self._init(address, num_cpus)
        self._task = ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job,
                                max_retries=0)(_run_one)

    def _init(self, address: str | None, num_cpus: int | None) -> None:
        ray = self._ray
        try:
            if address:
                ray.init(address=address, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False,
                         logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise PathdepError(
                f"cannot start or reach {where}: {e}; check --address (e.g. ray://HOST:10001 "
                "or auto) or leave it out to start a local instance"
            ) from e
        self._started = True
        log.info("ray: %s", "connected to " + address if address else "local instance started")

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[JobResult]:
        ray = self._ray
        fn_ref = ray.put(fn)
        jobs = list(jobs)
        pending = {self._task.remote(fn_ref, job, i): i for i, job in enumerate(jobs)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as e:  # the worker died (OOM, killed node): report, go on
                    yield JobResult(i, jobs[i], error=f"ray task failed: {type(e).__name__}: {e}")

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False

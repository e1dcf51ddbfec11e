"""Local worker processes: jobs run side by side on this machine's cores.

    pathdep run examples/demo.toml --out pathdep-demo --executor processes

Small models use a CPU core poorly from one process (a 64-wide matmul gains little
from a second torch thread), so on 2 cores two one-thread workers train or measure
about twice as fast as one process with two threads. Workers are started with
``spawn`` (a fresh interpreter: no torch state or threads copied from this process)
and each sets torch's thread count to its share of the cores. A job's writes are
the same as in process (atomic files, store regions under per-job locks), so an
interrupted call leaves what finished and the rerun does the rest.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from pathdep.executors.base import Executor, JobResult, call_guarded

log = logging.getLogger(__name__)


def _init(threads: int, level: int = logging.WARNING) -> None:
    import torch

    torch.set_num_threads(threads)
    if level < logging.WARNING:  # `-v`: the workers log what they do too
        logging.basicConfig(level=level, format="%(message)s")


class ProcessExecutor(Executor):
    """``workers`` processes (default: one per core), each with cores // workers threads."""

    name = "processes"

    def __init__(self, workers: int | None = None):
        cores = os.cpu_count() or 1
        self.workers = max(1, int(workers or cores))
        self.threads = max(1, cores // self.workers)
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"),
                                             initializer=_init,
                                             initargs=(self.threads,
                                                       logging.getLogger().getEffectiveLevel()))
            log.info("started %d worker processes of %d thread(s)", self.workers, self.threads)
        return self._pool

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[JobResult]:
        jobs = list(jobs)
        if not jobs:
            return
        pool = self._get_pool()
        pending: dict[Future, int] = {pool.submit(call_guarded, fn, job, i): i
                                      for i, job in enumerate(jobs)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        yield fut.result()
                    except Exception as e:  # the worker died (killed, out of memory)
                        yield JobResult(i, jobs[i], error=f"worker process failed: "
                                        f"{type(e).__name__}: {e}")
        except BaseException:
            self.close(cancel=True)
            raise

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=True)
            self._pool = None

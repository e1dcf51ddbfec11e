"""The executor contract: run a top-level function over many jobs, one result per job.

    with get_executor("inprocess") as ex:
        for r in ex.map(fn, jobs):
            print(r.index, r.ok, r.value if r.ok else r.error)

``fn`` must be a picklable top-level function taking one job; a job that raises
becomes a failed :class:`JobResult` (``error`` holds the reason), and the other
jobs go on. Results come back as jobs finish, not necessarily in order.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pathdep.errors import PathdepError

log = logging.getLogger(__name__)


@dataclass
class JobResult:
    """What one job gave back: its value, or the reason it failed."""

    index: int
    job: Any
    value: Any = None
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def call_guarded(fn: Callable, job: Any, index: int) -> JobResult:
    """Run ``fn(job)``, turning any exception into a failed result (never raises).

    A :class:`PathdepError` is bad input (e.g. a corrupt checkpoint): its message
    is the reason. Anything else is reported with its type and traceback.
    """
    t0 = time.perf_counter()
    try:
        value = fn(job)
    except PathdepError as e:
        return JobResult(index, job, error=str(e), seconds=time.perf_counter() - t0)
    except Exception as e:  # a job's bug must not stop the other jobs
        return JobResult(
            index,
            job,
            error=f"{type(e).__name__}: {e}",
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - t0,
        )
    return JobResult(index, job, value=value, seconds=time.perf_counter() - t0)


class Executor:
    """Runs jobs somewhere; subclasses implement :meth:`map`. Use as a context manager."""

    name = "base"

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[JobResult]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started (e.g. a local Ray instance)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""The default executor: jobs run one after another in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pathdep.executors.base import Executor, JobResult, call_guarded


class InProcessExecutor(Executor):
    """Sequential, in this process: simplest, and the one tests and notebooks use."""

    name = "inprocess"

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[JobResult]:
        for i, job in enumerate(jobs):
            yield call_guarded(fn, job, i)

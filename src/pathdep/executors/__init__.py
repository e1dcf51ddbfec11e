"""Executors: where jobs (measuring a checkpoint, training a run) are run.

| name        | where                                                        |
|-------------|--------------------------------------------------------------|
| inprocess   | one after another in this process (default)                  |
| processes   | side by side in local worker processes, one per core         |
| ray         | Ray tasks on a cluster (``address``) or a local instance     |

    with get_executor("ray", address=None, num_cpus=2) as ex:
        for result in ex.map(top_level_fn, jobs):   # JobResult per job
            ...
"""

from __future__ import annotations

from pathdep.errors import PathdepError
from pathdep.executors.base import Executor, JobResult, call_guarded
from pathdep.executors.inprocess import InProcessExecutor

EXECUTORS = ("inprocess", "processes", "ray")


def get_executor(name: str = "inprocess", address: str | None = None, *,
                 num_cpus: int | None = None, cpus_per_job: float = 1,
                 gpus_per_job: float = 0) -> Executor:
    """An executor by name; ``address`` (Ray only) names a cluster, None starts a local one.
    ``num_cpus``: Ray's CPUs, or the number of local worker processes (``processes``).

    ``gpus_per_job`` (Ray): the GPUs each task asks for (``num_gpus``), so Ray places
    GPU jobs on GPU nodes and sets ``CUDA_VISIBLE_DEVICES`` for them.
    """
    if name == "inprocess":
        if address:
            raise PathdepError(
                "--address is for the ray executor; add --executor ray or drop --address"
            )
        return InProcessExecutor()
    if name == "processes":
        if address:
            raise PathdepError(
                "--address is for the ray executor; add --executor ray or drop --address"
            )
        from pathdep.executors.processes import ProcessExecutor

        return ProcessExecutor(workers=num_cpus)
    if name == "ray":
        # deferred: ray is optional (pathdep[ray]); imported only when chosen
        from pathdep.executors.ray_executor import RayExecutor

        return RayExecutor(address=address, num_cpus=num_cpus, cpus_per_job=cpus_per_job,
                           gpus_per_job=gpus_per_job)
    raise PathdepError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "JobResult", "call_guarded", "get_executor"]

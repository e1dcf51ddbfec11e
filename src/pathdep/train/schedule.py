"""Checkpoint schedules: which steps of a run are saved.

``log:N``   about N log-spaced steps from 1 to the last, plus step 0
``every:K`` steps 0, K, 2K, ... and the last
``every:K:A-B`` steps A, A+K, ... up to B (a window: dense checkpoints where a
            change is expected, e.g. where induction heads form)
``X+Y``     the union of schedules, e.g. ``log:12+every:25:100-600``
a list      exactly those steps (step 0 and the last step are always added)
"""

from __future__ import annotations

import numpy as np

from pathdep.errors import PathdepError


def checkpoint_steps(schedule: str | list[int], total: int) -> list[int]:
    """The sorted steps to save for a run of ``total`` optimizer steps."""
    if isinstance(schedule, list):
        bad = [s for s in schedule if s < 0 or s > total]
        if bad:
            raise PathdepError(f"train.checkpoints lists steps {bad} outside 0..{total} (train.steps)")
        steps = set(schedule)
    else:
        steps = set()
        for part in schedule.split("+"):
            steps |= _one(part, total, schedule)
    return sorted(steps | {0, total})


def _one(part: str, total: int, schedule: str) -> set[int]:
    """The steps of one term of a schedule (``log:N``, ``every:K`` or ``every:K:A-B``)."""
    kind, n, *window = part.split(":")
    n = int(n)
    if n < 1:
        raise PathdepError(f"train.checkpoints {schedule!r}: the number must be at least 1")
    if kind == "log":
        return set(np.unique(np.round(np.geomspace(1, total, num=n)).astype(int)).tolist())
    lo, hi = (int(x) for x in window[0].split("-")) if window else (0, total)
    if lo > hi:
        raise PathdepError(f"train.checkpoints {schedule!r}: the window {lo}-{hi} runs backwards")
    return set(range(lo, min(hi, total) + 1, n))

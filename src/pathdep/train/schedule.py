"""Checkpoint schedules: which steps of a run are saved.

``log:N``   about N log-spaced steps from 1 to the last, plus step 0
``every:K`` steps 0, K, 2K, ... and the last
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
        kind, n = schedule.split(":")
        n = int(n)
        if n < 1:
            raise PathdepError(f"train.checkpoints {schedule!r}: the number must be at least 1")
        if kind == "every":
            steps = set(range(0, total + 1, n))
        else:
            steps = set(np.unique(np.round(np.geomspace(1, total, num=n)).astype(int)).tolist())
    return sorted(steps | {0, total})

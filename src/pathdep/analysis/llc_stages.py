"""Developmental stages from a run's LLC curve, and their timing across runs.

    from pathdep.analysis import llc_stages as st
    st.subsample([0, 1, 2, 4, 7, 13, 25], 4)                 # [0, 2, 7, 25]: log-spaced
    cut = st.stages(steps, llc, se, plateau=0.1)             # cut.pattern "rise→plateau"
    st.timing({"a": [48], "b": [91], "c": [48]}, n_boot=500)  # per boundary: step, interval

Hoogland, van Wingerden, Farrugia-Roberts, Carroll, Wei and Murfet, "The
developmental landscape of in-context learning" (arXiv 2402.02364), cut
training into stages at the critical points of the LLC curve over log-step:
where its slope changes sign or it plateaus. Here, over the (few) estimated
checkpoints of a run, the slope between consecutive checkpoints is a *rise*, a
*fall* or a *plateau*: a plateau when the change is at most ``plateau`` times
the run's LLC range, or at most two standard errors of the difference (the
chains' s.d. over the root of their number), so chain noise alone does not cut
a stage. Consecutive intervals of the same kind form one stage; a *boundary*
is the checkpoint where one stage ends and the next begins (never the first
or last checkpoint). The run's *pattern* is its stages in order
("rise→plateau").

Across runs, the j-th boundary of each run that has one is compared: its step
as a geometric mean (mean of log10 step, the scale the curves are drawn on)
with a bootstrap interval over runs; with fewer than ``MIN_RUNS`` runs having
it the timing "cannot tell".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pathdep.analysis.bootstrap import mean_over_runs
from pathdep.analysis.result import Interval

MIN_RUNS = 3  # runs with a boundary below which its timing across runs cannot tell
KINDS = {1: "rise", 0: "plateau", -1: "fall"}
FEW = "fewer than 2 estimates"  # the pattern of a run with no slope to cut


def subsample(steps: list[int], k: int) -> list[int]:
    """At most ``k`` of ``steps``, log-spaced: the first, the last, and between them the
    checkpoints nearest to evenly spaced points of log10(step + 1). ``k <= 0``: all."""
    steps = sorted(int(s) for s in steps)
    if k <= 0 or len(steps) <= k:
        return steps
    if k == 1:
        return [steps[-1]]
    x = np.log10(np.asarray(steps, float) + 1)
    chosen: list[int] = []
    for t in np.linspace(x[0], x[-1], k):
        free = [i for i in range(len(steps)) if i not in chosen]
        chosen.append(min(free, key=lambda i: abs(x[i] - t)))
    return [steps[i] for i in sorted(chosen)]


@dataclass
class Stages:
    """One run's cut: the kind of each interval, the stages, the boundary steps."""

    steps: list[int]
    kinds: list[str]  # per interval between consecutive checkpoints
    pattern: str  # stages in order, "rise→plateau"
    boundaries: list[int]  # steps where a stage ends and the next begins


def stages(steps, llc, se, plateau: float = 0.1) -> Stages:
    """Cut one run's LLC curve (``llc`` and its standard error ``se`` at ``steps``)."""
    steps = [int(s) for s in steps]
    y, e = np.asarray(llc, float), np.nan_to_num(np.asarray(se, float), nan=0.0)
    if len(y) < 2:  # one estimate (or none): no slope to cut
        return Stages(steps, [], FEW, [])
    span = float(np.ptp(y))
    d = np.diff(y)
    tol = np.maximum(plateau * span, 2 * np.hypot(e[:-1], e[1:]))
    sign = np.where(np.abs(d) <= tol, 0, np.sign(d)).astype(int)
    kinds = [KINDS[s] for s in sign]
    cuts = [i + 1 for i in range(len(sign) - 1) if sign[i] != sign[i + 1]]
    pattern = [kinds[0]] + [kinds[i] for i in cuts]
    return Stages(steps, kinds, "→".join(pattern), [steps[i] for i in cuts])


def modal(patterns: list[str]) -> tuple[str, int]:
    """The most common pattern (ties: the first seen) and how many runs have it."""
    if not patterns:
        return "", 0
    counts = Counter(patterns)
    top = max(counts.values())
    mode = next(p for p in patterns if counts[p] == top)
    return mode, top


def timing(boundaries: dict[str, list[int]], *, n_boot: int, seed: int = 0) -> pd.DataFrame:
    """Per boundary j (1 = first): runs that have it, its geometric-mean step and the
    bootstrap interval over those runs; ``cannot_tell`` names why there is none."""
    most = max((len(b) for b in boundaries.values()), default=0)
    rows = []
    for j in range(most):
        have = {r: b[j] for r, b in boundaries.items() if len(b) > j}
        row = {"boundary": j + 1, "n_runs": len(have),
               "runs": " ".join(have), "steps": " ".join(str(s) for s in have.values()),
               "step": np.nan, "step_low": np.nan, "step_high": np.nan, "cannot_tell": ""}
        if len(have) < MIN_RUNS:
            row["cannot_tell"] = (f"only {len(have)} run(s) have it (at least {MIN_RUNS} "
                                  "needed for an interval)")
        else:
            iv = geometric_mean(list(have.values()), n_boot=n_boot, seed=seed)
            row |= {"step": iv.value, "step_low": iv.low, "step_high": iv.high}
        rows.append(row)
    return pd.DataFrame(rows, columns=["boundary", "n_runs", "runs", "steps", "step", "step_low",
                                       "step_high", "cannot_tell"])


def geometric_mean(steps: list[int], *, n_boot: int, seed: int = 0) -> Interval:
    """10 ** mean(log10 step) with its bootstrap interval over runs (steps of 0 count as 1)."""
    logs = np.log10(np.maximum(np.asarray(steps, float), 1.0))
    iv = mean_over_runs(logs, n_boot=n_boot, seed=seed)
    return Interval(float(10 ** iv.value), float(10 ** iv.low), float(10 ** iv.high),
                    iv.level, iv.n_boot)


def nearest(step: int, boundaries: list[int]) -> tuple[int | None, float]:
    """The boundary nearest ``step`` on log10 step, and the distance in decades (signed:
    boundary minus step); (None, NaN) without boundaries."""
    if not boundaries:
        return None, float("nan")
    logs = np.log10(np.maximum(np.asarray(boundaries, float), 1.0))
    gap = logs - np.log10(max(step, 1))
    i = int(np.argmin(np.abs(gap)))
    return int(boundaries[i]), float(gap[i])

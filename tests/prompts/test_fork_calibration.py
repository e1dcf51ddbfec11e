"""Calibration of "runs fork at different tokens" on simulated scans (docs/calibration.md).

Null: every run forks at the same 3 indices per prompt (outcome shifts of
total variation 0.4), sampled independently, 30 samples per branch. Planted:
each run draws its own 3 indices. 4 runs x 8 prompts, 40 suites each here;
docs/calibration.md quotes the 100-suite rates of ``python -m
tests.prompts.test_fork_calibration``.
"""

from __future__ import annotations

import logging
import sys

import numpy as np

from pathdep.prompts.fork_analysis import ForkConfig, from_scans
from pathdep.prompts.simulate import suite_scans

log = logging.getLogger(__name__)


def _run(n_runs: int, n_prompts: int, seed: int, planted: bool):
    scans = suite_scans(n_runs, n_prompts, seed, planted=planted)
    return from_scans(scans, [(p, "?") for p in scans["r0"]], ForkConfig(seed=seed), n_boot=100)


def rates(n_runs: int, n_prompts: int, reps: int) -> dict:
    out = {}
    for planted in (False, True):
        res = [_run(n_runs, n_prompts, s, planted) for s in range(reps)]
        out["power" if planted else "false_positive"] = np.mean(
            [r.summary["runs_fork_differently"] for r in res])
        out["gap_" + ("planted" if planted else "null")] = np.mean(
            [r.summary["split_half_overlap"].value - r.summary["between_run_overlap"].value
             for r in res])
    return out


def test_false_positive_rate_and_power_at_matched_sample_sizes():
    r = rates(4, 8, 40)
    assert r["false_positive"] <= 0.10
    assert r["power"] >= 0.8
    # like with like: under the null, runs overlap as much as one run's halves do
    assert abs(r["gap_null"]) < 0.05 and r["gap_planted"] > 0.2


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    for n in [int(a) for a in sys.argv[2:]] or (2, 4, 8):
        log.info("%d runs x 8 prompts, %d suites: %s", n, reps, rates(n, 8, reps))

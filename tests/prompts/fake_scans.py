"""Simulated forking scans, no model: outcomes drawn from a piecewise-constant o_t.

``fake_scan(forks, ...)`` builds a :class:`~pathdep.prompts.forking.ForkScan`
whose outcome distribution switches at each index in ``forks`` between
p(A) = 0.5 + shift/2 and 0.5 - shift/2 (total variation ``shift``); every
index has one branch (p = 1) with ``n`` outcomes drawn independently. Used to
calibrate the cross-run forking verdict (docs/calibration.md): a null suite
is runs sharing each prompt's fork positions, a planted one runs drawing
their own.
"""

from __future__ import annotations

import numpy as np

from pathdep.prompts import forking as fk

CATS = np.array(["A", "B"])


def fake_scan(forks: list[int], rng: np.random.Generator, length: int = 24, n: int = 30,
              shift: float = 0.4) -> fk.ForkScan:
    s = fk.ForkScan("?", list(range(length)), [f"t{i}" for i in range(length)])
    sign = 1.0
    for t in range(length):
        pa = 0.5 + sign * shift / 2
        s.branches.append([fk.Branch(0, 1.0, rng.choice(CATS, n, p=[pa, 1 - pa]).tolist())])
        if t in forks:
            sign = -sign
    return s


def fork_positions(rng: np.random.Generator, length: int = 24, k: int = 3) -> list[int]:
    """``k`` fork indices at least 3 apart, away from both ends."""
    while True:
        f = sorted(rng.choice(np.arange(3, length - 3), k, replace=False).tolist())
        if np.all(np.diff(f) >= 3):
            return f


def suite_scans(n_runs: int, n_prompts: int, seed: int, *, planted: bool, shift: float = 0.4,
                n: int = 30) -> dict[str, dict[str, fk.ForkScan]]:
    """scans[run][prompt]: runs fork at the same positions (null) or each at its own (planted)."""
    rng = np.random.default_rng(seed)
    shared = [fork_positions(rng) for _ in range(n_prompts)]
    return {f"r{i}": {f"p{k}": fake_scan(fork_positions(rng) if planted else shared[k], rng,
                                        n=n, shift=shift)
                      for k in range(n_prompts)} for i in range(n_runs)}

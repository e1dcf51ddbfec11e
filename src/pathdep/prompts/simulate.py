"""Simulated forking scans and prompt-dependence cells, no model (issue 14's calibration).

    from pathdep.prompts.simulate import suite_scans, suite_cells
    from_scans(suite_scans(4, 8, seed=0, planted=False), ...)   # fork_analysis
    from_cells(*suite_cells(4, 6, seed=0), ...)                 # dependence

``fake_scan(forks, ...)`` builds a :class:`~pathdep.prompts.forking.ForkScan`
whose outcome distribution switches at each index in ``forks`` between
p(A) = 0.5 + shift/2 and 0.5 - shift/2 (total variation ``shift``); every
index has one branch (p = 1) with ``n`` outcomes drawn independently. A null
suite is runs sharing each prompt's fork positions, a planted one runs drawing
their own.

``suite_cells`` gives ``cells[prompt][run]`` (:class:`~pathdep.prompts.divergence.Cells`)
where every cell draws ``m`` outcomes from one distribution per prompt (the
null: no factor matters), except that the second prompt variant draws from
``moved`` when given (a planted variant effect of known Jensen–Shannon
divergence: :data:`MOVED`, 0.0269 bits from :data:`BASE`). Next-token
distributions are the outcome distributions, exact. Both were the test
helpers tests/prompts/fake_scans.py and fake_cells.py (docs/calibration.md).
"""

from __future__ import annotations

import numpy as np

from pathdep.prompts import forking as fk
from pathdep.prompts.divergence import Cells
from pathdep.prompts.promptsets import Prompt

FORK_CATS = np.array(["A", "B"])
CATS = np.array(["w", "x", "y", "z"])
BASE = np.array([0.4, 0.3, 0.2, 0.1])
MOVED = np.array([0.25, 0.3, 0.25, 0.2])  # JS(BASE, MOVED) = 0.0269 bits


def fake_scan(forks: list[int], rng: np.random.Generator, length: int = 24, n: int = 30,
              shift: float = 0.4) -> fk.ForkScan:
    s = fk.ForkScan("?", list(range(length)), [f"t{i}" for i in range(length)])
    sign = 1.0
    for t in range(length):
        pa = 0.5 + sign * shift / 2
        s.branches.append([fk.Branch(0, 1.0, rng.choice(FORK_CATS, n, p=[pa, 1 - pa]).tolist())])
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


def suite_cells(n_runs: int, n_prompts: int, seed: int, *, m: int = 20, n_var: int = 2,
                n_temp: int = 2, moved: np.ndarray | None = None):
    """(cells[prompt][run], prompts): ``m`` outcomes per cell from :data:`BASE`, the second
    variant from ``moved`` when given."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_prompts):
        row = []
        for _ in range(n_runs):
            dist = [BASE if v == 0 or moved is None else moved for v in range(n_var)]
            nt = np.array([[d] * n_temp for d in dist])
            outs = [[rng.choice(CATS, m, p=d).tolist() for _ in range(n_temp)] for d in dist]
            row.append(Cells(nt, outs))
        out.append(row)
    prompts = [Prompt(id=f"p{i}", text=f"p{i}", family="f") for i in range(n_prompts)]
    return out, prompts

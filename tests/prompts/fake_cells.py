"""Simulated prompt-dependence cells, no model: outcomes drawn from known distributions.

``suite_cells`` gives ``cells[prompt][run]`` (:class:`~pathdep.prompts.divergence.Cells`)
where every cell draws ``m`` outcomes from one distribution per prompt (the
null: no factor matters), except that the second prompt variant draws from
``moved`` when given (a planted variant effect of known Jensen–Shannon
divergence). Next-token distributions are the outcome distributions, exact.
"""

from __future__ import annotations

import numpy as np

from pathdep.prompts.divergence import Cells
from pathdep.prompts.promptsets import Prompt

CATS = np.array(["w", "x", "y", "z"])
BASE = np.array([0.4, 0.3, 0.2, 0.1])


def suite_cells(n_runs: int, n_prompts: int, seed: int, *, m: int = 20, n_var: int = 2,
                n_temp: int = 2, moved: np.ndarray | None = None):
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

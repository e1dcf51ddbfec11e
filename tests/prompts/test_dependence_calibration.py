"""Known answers for the corrected prompt-dependence divergences (docs/calibration.md).

Simulated cells (pathdep.prompts.simulate): 4 runs x 6 prompts x 2
variants x 2 temperatures, 20 sampled outcomes per cell over 4 categories.
``python -m tests.prompts.test_dependence_calibration`` gives the 100-suite
rates quoted in docs/calibration.md.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from pathdep.prompts.dependence import from_cells
from pathdep.prompts.divergence import components, floor, js
from pathdep.prompts.simulate import BASE, MOVED, suite_cells

log = logging.getLogger(__name__)


def _res(seed, moved=None, n_runs=4, n_prompts=6):
    cells, prompts = suite_cells(n_runs, n_prompts, seed, moved=moved)
    return from_cells(cells, prompts, ["f"], [f"r{i}" for i in range(n_runs)], m=20, n_boot=200,
                      seed=seed)


def test_floor_matches_the_same_distribution_divergence():
    """The floor at 20 vs 20 and 10 vs 10 is what two samples of one distribution show."""
    rng = np.random.default_rng(0)
    for n in (10, 20):
        a = rng.multinomial(n, BASE, size=4000) / n
        b = rng.multinomial(n, BASE, size=4000) / n
        measured = float(js(a, b).mean())
        assert floor(BASE, BASE, n, n, rng, reps=4000) == pytest.approx(measured, rel=0.05)
    assert floor(BASE, BASE, 10, 10, rng, 4000) > 1.6 * floor(BASE, BASE, 20, 20, rng, 4000)


def test_noise_is_the_floor_at_the_full_sample_size():
    """Noise compares m with m samples (not two halves, which doubles the floor)."""
    rng = np.random.default_rng(1)
    x = (rng.multinomial(20, BASE, size=(3, 2, 2)) / 20)
    noise = components(x, n=20)["noise"][0]
    assert noise.mean() == pytest.approx(floor(BASE, BASE, 20, 20, rng, 4000), rel=0.25)


def test_a_planted_variant_effect_is_recovered_after_correction():
    true = float(js(BASE, MOVED))
    got = [_res(s, MOVED) for s in range(10)]
    corrected = np.mean([r.summary["outcome_variant_corrected"].value for r in got])
    raw = np.mean([r.tables["divergence"].query(
        "measure == 'outcome' and family == 'all' and component == 'variant'")["js_bits"].iloc[0]
        for r in got])
    assert corrected == pytest.approx(true, abs=0.006)
    assert raw > true + 0.04  # uncorrected, the floor swamps the effect


def rates(reps: int, moved=None) -> dict:
    res = [_res(s, moved) for s in range(reps)]
    out = {c: float(np.mean([c in r.summary["outcome_claimed"] for r in res]))
           for c in ("variant", "run", "temperature")}
    out["covers_0"] = float(np.mean([r.summary["outcome_variant_corrected"].low <= 0 <=
                                     r.summary["outcome_variant_corrected"].high for r in res]))
    return out


def test_identical_distributions_are_not_claimed():
    r = rates(40)
    assert max(r["variant"], r["run"], r["temperature"]) <= 0.10
    assert r["covers_0"] >= 0.9


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    log.info("null, %d suites: claims %s", reps, rates(reps))
    log.info("planted variant JS 0.0269 bits, %d suites: claims %s", reps, rates(reps, MOVED))

"""Benchmark: the cost of the training_maps analysis on demo-sized synthetic stores (issue 18).

    PYTHONPATH=src python benchmarks/training_maps.py       # from the repository root

The stores are the test suite's synthetic ones (tests/analyze/synthetic.py:
loss, ICL score, behaviour probes and head scores per run and checkpoint):
9 runs x 13 checkpoints, every cell measured, and 15 runs x 13 checkpoints
with ragged runs, about the demo suite's 9 runs plus 6 branches. The time is
the wall clock of ``analyze(ds, names=["training_maps"])`` at default options
(K = 1..6 states, 5 restarts each).
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.analyze.synthetic import make_store  # noqa: E402

from pathdep.analyze import analyze  # noqa: E402

log = logging.getLogger("benchmarks.training_maps")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.simplefilter("ignore")
    for n_runs, ragged in ((5, False), (11, True)):  # + 4 branch runs each
        ds = make_store(n_runs=n_runs, n_steps=13, ragged=ragged)
        t = time.perf_counter()
        r = analyze(ds, names=["training_maps"])["training_maps"]
        s = r.summary
        log.info("%d runs x %d steps, %d cells, %d metrics: %.2f s; %d states by BIC",
                 ds.sizes["run"], ds.sizes["step"], s["n_cells"], s["n_metrics"],
                 time.perf_counter() - t, s["n_states"])


if __name__ == "__main__":
    main()

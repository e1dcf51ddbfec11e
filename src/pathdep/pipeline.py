"""Run every stage of a spec in order: train, measure, analyze, report.

    pathdep run examples/quick.toml --out runs/quick
    pathdep demo

Each stage reuses what is already done (trained checkpoints, measured jobs,
analysis results whose inputs are unchanged), so rerunning a spec is quick.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pathdep.analyze import analyze
from pathdep.errors import PathdepError
from pathdep.measure import measure
from pathdep.report import report
from pathdep.spec import Spec, load_spec
from pathdep.train import train

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).parent / "examples"
STORE_NAME = "measurements.zarr"


def run(spec: Spec | str | Path, out: str | Path, *, executor: str = "inprocess",
        address: str | None = None) -> dict[str, Path]:
    """Train, measure, analyse (every registered default analysis) and report a spec.

    Returns the paths produced: ``suite``, ``store``, ``analysis`` and ``report``.
    """
    spec_obj = spec if isinstance(spec, Spec) else load_spec(spec)
    out = Path(out)
    suite = train(spec, out, executor=executor, address=address)
    store = out / STORE_NAME
    result = measure(suite, out=store, executor=executor, address=address)
    log.info("%s", result.summary())
    if not result.ok:
        raise PathdepError(
            result.summary() + "\nThe other checkpoints are stored; fix these and run again "
            "(finished work is reused), or analyse what is there with `pathdep analyze "
            f"{store}`."
        )
    analyze(store, suite=suite)
    page = report(store, out / "report.html", title=spec_obj.report.title)
    return {"suite": out, "store": store, "analysis": Path(f"{store}.analysis"), "report": page}


def demo(out: str | Path = "pathdep-demo", **kw) -> dict[str, Path]:
    """The built-in demo suite (examples/demo.toml), end to end."""
    return run(EXAMPLES / "demo.toml", out, **kw)

"""Run every stage of a spec in order: train, measure, analyze, report.

    pathdep run examples/quick.toml --out runs/quick
    pathdep demo

Each stage reuses what is already done (trained checkpoints, measured jobs,
analysis results whose inputs are unchanged), so rerunning a spec is quick.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from pathdep.analyze import analyze, registry
from pathdep.errors import PathdepError
from pathdep.measure import measure
from pathdep.report import report
from pathdep.spec import Spec, load_spec
from pathdep.train import train
from pathdep.train.prepare import claim_folder

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).parent / "examples"
STORE_NAME = "measurements.zarr"


def check_analyses(spec: Spec) -> list[str] | None:
    """``[report] analyses``, each a registered analysis (PathdepError naming the key and the
    nearest names otherwise; the spec layer cannot see the registry)."""
    for name in spec.report.analyses or ():
        try:
            registry.get(name)
        except PathdepError as e:
            raise PathdepError(f"report.analyses: {e}") from None
    return spec.report.analyses


def run(spec: Spec | str | Path, out: str | Path, *, executor: str = "inprocess",
        address: str | None = None, companions: Sequence[Path] = ()) -> dict[str, Path]:
    """Train, measure, analyse and report a spec: the analyses its ``[report] analyses``
    names, or every registered default analysis.

    ``companions``: other suites' report pages the report links and quotes.
    Returns the paths produced: ``suite``, ``store``, ``analysis`` and ``report``.
    """
    spec_obj = spec if isinstance(spec, Spec) else load_spec(spec)
    names = check_analyses(spec_obj)  # before any training
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
    # the processes executor's workers analyse side by side too (one per core)
    analyze(store, suite=suite, names=names,
            workers=(os.cpu_count() or 1) if executor == "processes" else None)
    page = report(store, out / "report.html", title=spec_obj.report.title, companions=companions)
    return {"suite": out, "store": store, "analysis": Path(f"{store}.analysis"), "report": page}


INDUCTION_DIR = "induction"  # the demo's induction-head suite, inside the demo's folder


def demo(out: str | Path = "pathdep-demo", **kw) -> dict[str, Path]:
    """The built-in demo, end to end: the world suite (examples/demo.toml) and, in
    ``<out>/induction``, the induction-head suite (examples/demo_induction.toml), whose
    report the world report links and quotes (report/companions.py). On more than one
    core, runs train and checkpoints are measured in worker processes (``executor``
    overrides)."""
    out = Path(out)
    if (os.cpu_count() or 1) > 1:  # one-thread runs side by side (executors/processes.py)
        kw.setdefault("executor", "processes")
    world = EXAMPLES / "demo.toml"
    claim_folder(load_spec(world), out)  # the world suite's folder, so the second may live inside
    ind = run(EXAMPLES / "demo_induction.toml", out / INDUCTION_DIR, **kw)
    made = run(world, out, companions=[ind["report"]], **kw)
    return {**made, "induction": ind["report"]}

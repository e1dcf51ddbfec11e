"""Run every stage of a spec in order: train, measure, analyze, report.

Each stage is skipped where its output is already complete, so rerunning a
spec (or the demo) reuses what is done. Stages that do not exist yet in this
version are skipped with a log line.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from pathdep.spec import Spec, load_spec

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).parent / "examples"


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run(spec: Spec | str | Path, out: str | Path, *, executor: str = "inprocess",
        address: str | None = None) -> dict[str, Path]:
    """Train, then measure, analyze and report where those stages are available.

    Returns the paths produced: ``suite``, and ``store``, ``analysis``,
    ``report`` as the stages run.
    """
    from pathdep.train import train

    spec_obj = spec if isinstance(spec, Spec) else load_spec(spec)
    out = Path(out)
    suite = train(spec if not isinstance(spec, Spec) else spec_obj, out, executor=executor, address=address)
    made: dict[str, Path] = {"suite": out}
    if not _has("pathdep.measure"):
        log.info("measurement stage not available in this version; stopping after training")
        return made
    from pathdep.measure import measure

    store = out / "measurements.zarr"
    result = measure(suite, out=store, executor=executor, address=address)
    made["store"] = store
    log.info("%s", result.summary())
    if not result.ok:
        from pathdep.errors import PathdepError

        raise PathdepError(
            result.summary() + "\nThe other checkpoints are stored; fix these and run again "
            "(finished work is reused), or analyse what is there with `pathdep analyze "
            f"{store}`."
        )
    if _has("pathdep.analyze.registry"):
        from pathdep.analyze import analyze

        analyze(store)
        made["analysis"] = Path(f"{store}.analysis")
        if spec_obj.data.generator == "markov-mixture":
            from pathdep.analyze.markov_algorithms import markov_algorithms

            markov_algorithms(suite, made["analysis"])
        _model_analyses(spec_obj, suite, store, made["analysis"])
    if _has("pathdep.report"):
        from pathdep.report import report

        made["report"] = report(store, out / "report.html", title=spec_obj.report.title)
    return made


def _model_analyses(spec: Spec, suite, store: Path, out: Path) -> None:
    """The analyses that load models again: loss barriers (branches), RL fine-tuning."""
    if _has("pathdep.lmc") and (spec.branches or len(suite.runs) >= 3):
        from pathdep.lmc import lmc

        lmc(suite, store, out)
    if _has("pathdep.rl") and spec.rl is not None:
        from pathdep.rl.analysis import rl_paths

        rl_paths(suite, spec.rl, out)


def demo(out: str | Path = "pathdep-demo", **kw) -> dict[str, Path]:
    """The built-in demo suite (examples/demo.toml), end to end."""
    return run(EXAMPLES / "demo.toml", out, **kw)

"""Train a controlled suite: every run of a spec's grid, with dense checkpoints.

    pathdep train examples/quick.toml --out runs/quick

Python: ``pathdep.train(spec_or_path, out)`` returns the trained ``Suite``.
Killed training resumes where it stopped when run again with the same --out.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.executors import get_executor
from pathdep.paths import inside
from pathdep.spec import Spec, load_spec
from pathdep.suites.model import Suite
from pathdep.suites.run_ids import match_run_ids
from pathdep.train.grid import RunPlan, expand_grid
from pathdep.train.loop import device_of, train_run
from pathdep.train.prepare import prepare
from pathdep.train.suite_manifest import write_manifest

log = logging.getLogger(__name__)

__all__ = ["RunPlan", "expand_grid", "train", "train_run"]


def train(spec: Spec | str | Path, out: str | Path, *, runs: list[str] | None = None,
          executor: str = "inprocess", address: str | None = None) -> Suite:
    """Train every run of ``spec`` (or those ``runs`` names: ids or glob patterns) into ``out``.

    A name that matches no run is an error (naming the nearest run id), raised
    before anything is trained.
    """
    if not isinstance(spec, Spec):
        src = Path(spec)
        spec = load_spec(src)
    else:
        src = None
    out = Path(out)
    plans = expand_grid(spec)
    if runs:
        chosen = set(match_run_ids(runs, [p.id for p in plans], f"spec {spec.name!r}"))
        todo = [p for p in plans if p.id in chosen]
    else:
        todo = plans
    device_of(plans[0])  # a GPU that is not there fails before any data is written
    prepare(spec, out)
    if src is not None and not (out / "spec.toml").exists():
        (out / "spec.toml").write_text(src.read_text())
    for p in todo:  # a symlink inside --out must not carry checkpoints elsewhere
        inside(out, out / "runs" / p.id)
    _run_all(out, todo, executor, address, {p.id: p for p in plans})
    return write_manifest(out, spec, plans)


def _waves(plans: list[RunPlan], every: dict[str, RunPlan]) -> list[list[RunPlan]]:
    """Runs grouped so that each branch comes after its parent (grid runs first)."""
    def depth(p: RunPlan) -> int:
        return 0 if p.parent is None else 1 + depth(every[p.parent])

    waves: dict[int, list[RunPlan]] = {}
    for p in plans:
        waves.setdefault(depth(p), []).append(p)
    return [waves[d] for d in sorted(waves)]


def _run_all(out: Path, plans: list[RunPlan], executor: str, address: str | None,
             every: dict[str, RunPlan] | None = None) -> None:
    every = every or {p.id: p for p in plans}
    if executor == "inprocess":
        for p in plans:
            summary = train_run(out, p, every)
            log.info("trained %s: %s", p.id, summary)
        return

    results = []
    with get_executor(executor, address) as ex:
        for wave in _waves(plans, every):  # parents first, so branches find their states
            results += list(ex.map(_train_job, [(str(out), p, every) for p in wave]))
    failed = [r for r in results if not r.ok]
    for r in results:
        log.info("trained %s on %s: %s", r.job[1].id, executor, r.value if r.ok else r.error)
    if failed:
        raise PathdepError(
            f"{len(failed)} of {len(results)} runs failed: "
            + "; ".join(f"{r.job[1].id}: {r.error}" for r in failed)
            + ". Fix the cause and run again: finished runs and checkpoints are kept."
        )


def _train_job(job: tuple[str, RunPlan, dict]) -> dict:
    """One run as an executor job (a top-level function, so Ray can ship it)."""
    out, plan, every = job
    return train_run(Path(out), plan, every)

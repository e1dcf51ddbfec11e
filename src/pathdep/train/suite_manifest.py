"""Describe a trained suite folder as a Suite manifest (``suite.json``).

The manifest lists only checkpoints that are complete on disk (their sidecar
exists), with paths relative to the suite folder so the folder can move.
"""

from __future__ import annotations

import json
from pathlib import Path

from pathdep import atomic
from pathdep.spec import Spec
from pathdep.suites.model import Checkpoint, Run, Suite
from pathdep.train.grid import RunPlan
from pathdep.train.loop import SIDECAR


def scan_run(out: Path, plan: RunPlan) -> Run:
    folder = Path(out) / "runs" / plan.id / "checkpoints"
    cks = []
    for d in sorted(folder.glob("step-*")) if folder.is_dir() else []:
        side = d / SIDECAR
        if not side.is_file():
            continue
        meta = json.loads(side.read_text())
        cks.append(Checkpoint(step=meta["step"], tokens_seen=meta["tokens_seen"],
                              path=str(d.relative_to(out))))
    cks.sort(key=lambda c: c.step)
    return Run(id=plan.id, factors=plan.factors, checkpoints=cks, tokenizer="tokenizer")


def write_manifest(out: Path, spec: Spec, plans: list[RunPlan]) -> Suite:
    out = Path(out)
    suite = Suite(
        name=spec.name,
        runs=[scan_run(out, p) for p in plans],
        source="trained",
        meta={"spec": spec.model_dump(mode="json"), "spec_digest": spec.digest(),
              "data_info": "data/info.json", "data_generator": spec.data.generator},
    )
    atomic.write_text(out / "suite.json", suite.model_dump_json(indent=2))
    suite.root = str(out.resolve())
    for r in suite.runs:
        r.tokenizer = str(out.resolve() / "tokenizer")
        for c in r.checkpoints:
            c.path = str(out.resolve() / c.path)
    return suite

"""Find a suite: a trained suite folder, a manifest file, or a preset name.

    load_suite("runs/quick")                 # a folder pathdep trained
    load_suite("my-suite.json")              # a manifest (Suite as JSON)
    load_suite("pythia-70m", steps=[0, 1000, 143000])   # a public preset
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from pathdep.errors import PathdepError
from pathdep.suites.model import Suite
from pathdep.suites.presets import get_preset
from pathdep.suites.run_ids import match_run_ids

MANIFEST = "suite.json"


def load_suite(
    source: str | Path,
    *,
    runs: list[str] | None = None,
    steps: list[int] | str | None = None,
    every: int | None = None,
) -> Suite:
    """Load a suite and optionally narrow it (see :func:`select`)."""
    path = Path(source)
    if path.is_dir():
        suite = read_manifest(path / MANIFEST)
    elif path.is_file():
        if path.suffix.lower() == ".toml":
            raise PathdepError(
                f"{path} is a spec, not a trained suite: run `pathdep train {path} --out DIR` "
                "first, then pass DIR (or `pathdep run SPEC --out DIR` for every stage)")
        suite = read_manifest(path)
    else:
        suite = get_preset(str(source))
    return select(suite, runs=runs, steps=steps, every=every)


def read_manifest(file: Path) -> Suite:
    """Read a Suite from a JSON manifest; relative checkpoint paths are resolved."""
    if not file.is_file():
        raise PathdepError(
            f"{file.parent} is not a suite folder: it has no {MANIFEST}. Train one with "
            "`pathdep train SPEC --out DIR`, or pass a manifest file or a preset (`pathdep suites`)"
        )
    try:
        suite = Suite.model_validate(json.loads(file.read_text()))
    except (json.JSONDecodeError, ValidationError) as e:
        raise PathdepError(f"suite manifest {file} is not valid: {e}") from e
    root = file.parent.resolve()
    for run in suite.runs:
        if run.tokenizer and not Path(run.tokenizer).is_absolute() and (root / run.tokenizer).exists():
            run.tokenizer = str(root / run.tokenizer)
        for c in run.checkpoints:
            if c.path and not Path(c.path).is_absolute():
                c.path = str(root / c.path)
    suite.root = str(root)
    return suite


def parse_steps(steps: list[int] | str | None) -> list[int] | tuple[int | None, int | None] | None:
    """'0,100,200' -> [0, 100, 200]; '100:2000' -> (100, 2000) inclusive range."""
    if steps is None or isinstance(steps, list):
        return steps
    s = steps.strip()
    try:
        if ":" in s:
            lo, hi = s.split(":", 1)
            return (int(lo) if lo else None, int(hi) if hi else None)
        return [int(x) for x in s.split(",") if x.strip()]
    except ValueError as e:
        raise PathdepError(
            f"--steps {steps!r} is not understood; give a list '0,100,1000' or a range '100:5000'"
        ) from e


def select(
    suite: Suite,
    *,
    runs: list[str] | None = None,
    steps: list[int] | str | None = None,
    every: int | None = None,
) -> Suite:
    """Narrow a suite to some runs (ids or glob patterns) and checkpoints.

    ``steps`` keeps checkpoints at these steps (or in the range ``lo:hi``);
    ``every`` then keeps every k-th remaining checkpoint of each run, always
    keeping the last one.
    """
    out = suite.model_copy(deep=True)
    if runs:
        keep = set(match_run_ids(runs, suite.run_ids, f"suite {suite.name!r}"))
        out.runs = [r for r in out.runs if r.id in keep]
    wanted = parse_steps(steps)
    for r in out.runs:
        cks = r.checkpoints
        if isinstance(wanted, list):
            cks = [c for c in cks if c.step in set(wanted)]
        elif isinstance(wanted, tuple):
            lo, hi = wanted
            cks = [c for c in cks if (lo is None or c.step >= lo) and (hi is None or c.step <= hi)]
        if every and every > 1 and cks:
            cks = cks[::every] if cks[::every][-1] is cks[-1] else cks[::every] + [cks[-1]]
        r.checkpoints = cks
    if steps is not None and not any(r.checkpoints for r in out.runs):
        raise PathdepError(
            f"no checkpoint of suite {suite.name!r} matches --steps {steps}; "
            f"its steps run from {suite.steps[0]} to {suite.steps[-1]}"
        )
    return out

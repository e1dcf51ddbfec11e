"""Where one run's checkpoint at one step is: a local folder, or a hub repo at a revision.

    pathdep.checkpoint_path("pathdep-demo", "seed0-data1", 600)
    # PosixPath('pathdep-demo/runs/seed0-data1/checkpoints/step-0000600')
    pathdep.checkpoint_path("pythia-70m-seeds", "seed1", 1000)   # a preset
    # 'EleutherAI/pythia-70m-seed1@step1000'

Either answer is what ``from_pretrained`` takes (``from_pretrained(path)``, or
``from_pretrained(repo, revision=...)``), so a checkpoint of any run x step
can be handed to TransformerLens, nnsight or lm-evaluation-harness
(``--model hf --model_args pretrained=<path>`` or ``pretrained=<repo>,revision=<rev>``).
"""

from __future__ import annotations

from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.suites.load import load_suite
from pathdep.suites.model import Suite
from pathdep.suites.run_ids import unknown_run_message


def _suite_of(source) -> Suite:
    """A suite from a Suite, a suite folder or manifest, a preset, or a store beside its suite."""
    if isinstance(source, Suite):
        return source
    p = Path(source)
    if p.suffix == ".zarr" or p.name.endswith(".zarr"):
        if not (p.parent / "suite.json").is_file():
            raise PathdepError(f"store {p} has no suite beside it ({p.parent / 'suite.json'} is "
                               "missing); pass the suite folder or preset instead")
        p = p.parent
    return load_suite(p if p.exists() else str(source))


def checkpoint_path(source, run: str, step: int) -> Path | str:
    """The folder of ``run``'s checkpoint at ``step``, or ``"repo@revision"`` on the hub.

    ``source`` is a :class:`Suite`, a suite folder or manifest, a preset name, or a
    measurement store that lies in its suite's folder (the layout ``pathdep run`` writes).
    An unknown run or step is a :class:`PathdepError` naming what exists.
    """
    suite = _suite_of(source)
    try:
        r = suite.run(run)
    except KeyError:
        raise PathdepError(unknown_run_message(run, suite.run_ids, f"suite {suite.name!r}")) from None
    try:
        ck = r.checkpoint(int(step))
    except KeyError:
        shown = ", ".join(map(str, r.steps[:12])) + (" ..." if len(r.steps) > 12 else "")
        raise PathdepError(f"run {run!r} has no checkpoint at step {step}; its steps are "
                           f"{shown}") from None
    if ck.path:
        return Path(ck.path)
    return f"{ck.repo}@{ck.revision or 'main'}"

"""The public Python API: one plain, typed function per ``pathdep`` command.

Every name here is re-exported by ``pathdep`` (lazily: ``import pathdep`` stays
light), so ``pathdep.train(...)`` and ``from pathdep.api import train`` are the
same function. Each command of the command line is a thin shell over the
function of the same name.

    >>> import pathdep
    >>> spec = pathdep.load_spec(pathdep.api.EXAMPLES / "quick.toml")
    >>> spec.name, len(spec.grid.seed)
    ('quick', 2)
    >>> pathdep.train is train and pathdep.measure is measure
    True

| function    | command            | returns                                      |
|-------------|--------------------|----------------------------------------------|
| load_spec   | ``validate``       | the validated :class:`Spec`                  |
| train       | ``train``          | the trained :class:`Suite`                   |
| load_suite  | (every SUITE)      | a :class:`Suite` from a folder, manifest or preset |
| measure     | ``measure``        | a :class:`MeasureResult`                     |
| open_store  |                    | the store as an ``xarray.Dataset``           |
| migrate     | ``migrate``        | True if an older store was converted (False: already current) |
| analyze     | ``analyze``        | :class:`Results`: name -> :class:`AnalysisResult` |
| report      | ``report``         | the path of the HTML page                    |
| run         | ``run``            | the paths made: suite, store, analysis, report |
| demo        | ``demo``           | the same, for the built-in demo suite        |
| barriers    | ``barriers``       | :class:`Results` of instability and basins   |
| rl          | ``rl``             | the :class:`AnalysisResult` of RL fine-tuning |
| forking     | ``forking``        | the :class:`AnalysisResult` of forking tokens |
| prompts     | ``prompts``        | the :class:`AnalysisResult` of prompt dependence |
| calibrate   | ``calibrate``      | rows of false-positive rate and power per analysis and size |
| checkpoint_path |                | a run's checkpoint at a step: a folder, or ``repo@revision`` |
| to_transformer_lens |            | that checkpoint as a TransformerLens ``TransformerBridge`` |
| to_nnsight  |                    | that checkpoint as an nnsight ``TransformersModel`` |
| audit       | ``audit``          | an :class:`AuditReport`: duplicate weights, lineage, missing revisions |
"""

from __future__ import annotations

import sys

from pathdep.analysis.result import AnalysisResult, Interval
from pathdep.analyze.runner import Results, analyze
from pathdep.analyze.verbs import barriers, forking, prompts, rl
from pathdep.calibrate import calibrate
from pathdep.errors import PathdepError
from pathdep.measure.api import MeasureResult, measure
from pathdep.models.bridges import to_nnsight, to_transformer_lens
from pathdep.pipeline import EXAMPLES, demo, run
from pathdep.report.build import report
from pathdep.spec import Spec, load_spec
from pathdep.store import migrate, open_store
from pathdep.suites import AuditReport, Checkpoint, Run, Suite, audit, checkpoint_path, load_suite
from pathdep.train import train

__all__ = [
    "EXAMPLES",
    "AnalysisResult",
    "AuditReport",
    "Checkpoint",
    "Interval",
    "MeasureResult",
    "PathdepError",
    "Results",
    "Run",
    "Spec",
    "Suite",
    "analyze",
    "audit",
    "barriers",
    "calibrate",
    "checkpoint_path",
    "demo",
    "forking",
    "load_spec",
    "load_suite",
    "measure",
    "migrate",
    "open_store",
    "prompts",
    "report",
    "rl",
    "run",
    "to_nnsight",
    "to_transformer_lens",
    "train",
]

#: Names that ``pathdep`` re-exports. ``rl``, ``prompts`` and ``calibrate`` stay in
#: ``pathdep.api``: on ``pathdep`` they would hide the modules of the same names.
TOP_LEVEL = tuple(n for n in __all__ if n not in ("EXAMPLES", "rl", "prompts", "calibrate"))


def _bind() -> None:
    """Make ``pathdep.train`` & co. these functions.

    Importing a stage package (``pathdep.train``) sets the attribute of that name
    on ``pathdep`` to the package; the function of the same name is bound over it
    here, once the stages are imported. The packages stay importable with
    ``from pathdep.train import grid`` (``sys.modules``); the form
    ``import pathdep.train.grid as grid`` is not: Python resolves it through the
    attribute ``pathdep.train``, which is the function.
    """
    top = sys.modules["pathdep"]
    for name in TOP_LEVEL:
        setattr(top, name, globals()[name])


_bind()

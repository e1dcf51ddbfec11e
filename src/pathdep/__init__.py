"""pathdep: measure how path-dependent neural-network training is.

    pip install -e . && pathdep demo

The Python API mirrors the command line, one function per command
(:mod:`pathdep.api`): ``load_spec``, ``train``, ``load_suite``, ``measure``,
``open_store``, ``migrate``, ``audit``, ``analyze``, ``report``, ``run``, ``demo``,
``barriers``,
``forking``, and the types ``Spec``, ``Suite``, ``Run``, ``Checkpoint``,
``MeasureResult``, ``AnalysisResult``, ``Results``. They load on first use:
``import pathdep`` does not import torch, transformers, xarray or zarr.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pathdep.errors import PathdepError
from pathdep.version import __version__  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from pathdep.api import (
        AnalysisResult,
        AuditReport,
        Checkpoint,
        Interval,
        MeasureResult,
        Results,
        Run,
        Spec,
        Suite,
        analyze,
        audit,
        barriers,
        checkpoint_path,
        demo,
        forking,
        load_spec,
        load_suite,
        measure,
        migrate,
        open_store,
        report,
        run,
        to_nnsight,
        to_transformer_lens,
        train,
    )

__all__ = [
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
    "__version__",
    "analyze",
    "audit",
    "barriers",
    "checkpoint_path",
    "demo",
    "forking",
    "load_spec",
    "load_suite",
    "measure",
    "migrate",
    "open_store",
    "report",
    "run",
    "to_nnsight",
    "to_transformer_lens",
    "train",
]


def __getattr__(name: str) -> Any:  # lazy: `import pathdep` must stay light
    if name == "api":
        import importlib

        return importlib.import_module("pathdep.api")
    if name in __all__:
        from pathdep import api

        return getattr(api, name)
    raise AttributeError(f"module 'pathdep' has no attribute {name!r}")

"""pathdep: measure how path-dependent neural-network training is.

    pip install -e . && pathdep demo

The Python API mirrors the command line: ``load_spec``, ``train``, ``load_suite``
(and, as the stages land, ``measure``, ``analyze``, ``report``).
"""

import logging

from pathdep.errors import PathdepError

__version__ = "0.1.0"
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["PathdepError", "__version__", "analyze", "load_spec", "load_suite", "measure", "report", "train"]


def __getattr__(name):  # lazy: `import pathdep` must not import torch
    if name == "load_spec":
        from pathdep.spec import load_spec

        return load_spec
    if name in ("train", "measure", "analyze", "report"):
        import importlib

        return importlib.import_module(f"pathdep.{name}")  # callable stage packages
    if name == "load_suite":
        from pathdep.suites import load_suite

        return load_suite
    raise AttributeError(name)

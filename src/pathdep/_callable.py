"""Let a stage package be called like its main function: ``pathdep.train(spec, out)``.

DESIGN.md names a package folder per stage (``pathdep/train/``) and the Python
API mirrors the command line (``pathdep.train(...)``); once the subpackage is
imported its module object shadows any function of the same name on
``pathdep``, so the module itself is made callable.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, fn) -> None:
    """Calling module ``module_name`` calls ``fn`` (its docstring is kept)."""

    class _CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return fn(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallableModule

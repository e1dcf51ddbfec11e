"""The report: one offline HTML page and a JSON summary from a store's analysis results.

    pathdep report runs/demo.zarr -o report.html        # or: pathdep.report(store, out)

This package is itself callable (``pathdep.report(store)``), because once it is
imported the attribute ``pathdep.report`` is the package, not the function.
"""

import sys
import types

from pathdep.report.build import report, summary_path

__all__ = ["report", "summary_path"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

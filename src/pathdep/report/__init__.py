"""The report: one offline HTML page and a JSON summary from a store's analysis results.

    pathdep report runs/demo.zarr -o report.html        # or: pathdep.report(store, out)

This package is itself callable (``pathdep.report(store)``), because once it is
imported the attribute ``pathdep.report`` is the package, not the function.
"""

from pathdep._callable import make_callable
from pathdep.report.build import report, summary_path

__all__ = ["report", "summary_path"]

make_callable(__name__, report)

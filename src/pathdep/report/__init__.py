"""The report: one offline HTML page and a JSON summary from a store's analysis results.

    pathdep report runs/demo.zarr -o report.html        # or: pathdep.report(store, out)

``pathdep.report`` is the function (:mod:`pathdep.api`); this package holds it.
"""

from pathdep.report.build import report, summary_path

__all__ = ["report", "summary_path"]

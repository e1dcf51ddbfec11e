"""analyze: answer the path-dependence questions from a measurement store.

    from pathdep.analyze import analyze, REGISTRY
    results = analyze("store.zarr")          # name -> AnalysisResult, written to store.zarr.analysis/

Each analysis is a pure function from the store (an ``xarray.Dataset``) to an
``AnalysisResult`` (tables, Plotly figures, a verdict with bootstrap
intervals); ``registry`` lists them with the question each answers.
"""

from pathdep.analysis.result import AnalysisResult, Interval
from pathdep.analyze.registry import ANALYSES, REGISTRY
from pathdep.analyze.runner import analyze

__all__ = ["ANALYSES", "REGISTRY", "AnalysisResult", "Interval", "analyze"]

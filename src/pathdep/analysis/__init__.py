"""What every analysis is built from: the result types, reading the store, statistics, figures.

    from pathdep.analysis import AnalysisResult, Interval, bootstrap, data

The analyses themselves, and the stage that runs them, are in
:mod:`pathdep.analyze`; analyses that load models again (loss barriers, RL,
prompts) live in their own packages and use these same helpers. This package
imports nothing above it (docs/architecture.md).
"""

from pathdep.analysis.result import AnalysisResult, Interval

__all__ = ["AnalysisResult", "Interval"]

"""Every analysis that states a verdict, in one visible place.

    from pathdep.analyze.registry import ANALYSES, get
    [a.name for a in ANALYSES]           # what `pathdep analyze --list` prints

An entry (:class:`pathdep.analysis.contract.Analysis`) lives beside its code,
as ``ANALYSIS`` in the analysis's module, and declares its inputs (store
variables, or the suite's checkpoints), its typed options, its report section
and its calibration. To add an analysis: write the function and its
``ANALYSIS`` entry, then add the entry below; the runner, ``pathdep analyze``,
the pipeline, the report and the contract test pick it up from this list.

The order is the order of the report inside each section, and the order the
runner computes them (store analyses first; those that load checkpoints last).
"""

from __future__ import annotations

import difflib

from pathdep.analysis.contract import Analysis
from pathdep.analysis.properties import PROPS
from pathdep.analyze import (
    abrupt_behaviors,
    agreement,
    circuit_survival,
    cka,
    clusters,
    convergence,
    fact_timing,
    factor_variance,
    general_factor,
    interventions,
    learning_curves,
    llc,
    loss_pca,
    markov_algorithms,
    phase_changes,
    predictiveness,
    run_variance,
    training_maps,
)
from pathdep.errors import PathdepError
from pathdep.lmc.basins import ANALYSIS as BASINS  # (the package exports the functions)
from pathdep.lmc.instability import ANALYSIS as INSTABILITY
from pathdep.prompts import dependence, fork_analysis
from pathdep.rl import analysis as rl_analysis

ANALYSES: list[Analysis] = [
    agreement.ANALYSIS,
    convergence.ANALYSIS,
    run_variance.ANALYSIS,
    cka.ANALYSIS,
    factor_variance.ANALYSIS,
    general_factor.ANALYSIS,
    loss_pca.ANALYSIS,
    learning_curves.ANALYSIS,
    phase_changes.ANALYSIS,
    abrupt_behaviors.ANALYSIS,
    clusters.ANALYSIS,
    training_maps.ANALYSIS,
    predictiveness.ANALYSIS,
    circuit_survival.ANALYSIS,
    fact_timing.ANALYSIS,
    interventions.ANALYSIS,
    # the analyses that load checkpoints again
    markov_algorithms.ANALYSIS,
    llc.ANALYSIS,
    INSTABILITY,
    BASINS,
    rl_analysis.ANALYSIS,
    fork_analysis.ANALYSIS,
    dependence.ANALYSIS,
]
REGISTRY: dict[str, Analysis] = {a.name: a for a in ANALYSES}

__all__ = ["ANALYSES", "PROPS", "REGISTRY", "get", "names_for"]


def get(name: str) -> Analysis:
    """The registered analysis ``name``; a typo gets the nearest names suggested."""
    if name in REGISTRY:
        return REGISTRY[name]
    near = difflib.get_close_matches(name, list(REGISTRY), n=3)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise PathdepError(f"no analysis named {name!r}; {hint}choose from {', '.join(REGISTRY)}")


def names_for(command: str) -> list[str]:
    """The analyses a command runs alone (``barriers`` -> instability, basins)."""
    return [a.name for a in ANALYSES if a.command == command]

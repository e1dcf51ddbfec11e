"""Every analysis, in one visible place: name → function, the question it answers, its inputs.

To add one: write ``pathdep/analyze/<name>.py`` with a function
``(ds, *, n_boot, seed, **options) -> AnalysisResult`` and add an ``Analysis``
line below. ``needs`` are store variables that must all be present (and
measured: finite in a done job), ``any_of`` variables of which one must be,
``min_runs`` the runs it needs. An analysis whose inputs are absent is skipped
with a logged reason, never an error (also when it raises ``data.Skip``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import xarray as xr

from pathdep.errors import PathdepError


@dataclass(frozen=True)
class Analysis:
    name: str
    question: str
    module: str  # pathdep.analyze.<module>.<name> is the function
    needs: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    min_runs: int = 2

    @property
    def func(self) -> Callable:
        return getattr(import_module(f"pathdep.analyze.{self.module}"), self.name)

    def skip_reason(self, ds: xr.Dataset) -> str | None:
        """Why this analysis cannot run on ``ds`` (None when it can)."""
        from pathdep.analysis.data import has_values

        missing = [v for v in self.needs if not has_values(ds, v)]
        if missing:
            return f"the store has no {', '.join(missing)}"
        if self.any_of and not any(has_values(ds, v) for v in self.any_of):
            return f"the store has none of {', '.join(self.any_of)}"
        if ds.sizes.get("run", 0) < self.min_runs:
            return f"needs at least {self.min_runs} runs, the store has {ds.sizes.get('run', 0)}"
        return None


PROPS = ("loss", "icl_score", "behavior", "head_score")  # scalar properties (``properties``)

ANALYSES = [
    Analysis("agreement", "How much do runs agree on per-token log-probs, and on which tokens "
             "do they disagree?", "agreement", needs=("logprob",)),
    Analysis("convergence", "Do runs' predictions converge over training, and do capabilities one "
             "run lacks mid-training appear by the end?", "convergence", needs=("logprob",)),
    Analysis("loss_pca", "What are the main directions of per-token loss over runs and "
             "checkpoints, and do runs' trajectories part?", "loss_pca", needs=("logprob",),
             min_runs=1),
    Analysis("learning_curves", "Are per-token learning curves S-shaped, smooth or non-monotone, "
             "and do runs learn tokens in the same order?", "learning_curves", needs=("logprob",),
             min_runs=1),
    Analysis("phase_changes", "When do induction heads form and the ICL score jump in each run, "
             "and do the two coincide?", "phase_changes", any_of=("head_score", "icl_score",
                                                                   "behavior"), min_runs=1),
    Analysis("run_variance", "A: what share of each property's variance lies between runs?",
             "run_variance", any_of=(*PROPS, "logprob")),
    Analysis("cka", "A: how similar are runs' hidden states at matched layers (linear CKA)?",
             "cka", needs=("hidden",)),
    Analysis("factor_variance", "B: how much of each property's variance does each grid "
             "factor explain?", "factor_variance", any_of=(*PROPS, "logprob"), min_runs=3),
    Analysis("clusters", "C/D: do runs fall into distinct clusters, and from when is "
             "membership fixed?", "clusters", any_of=PROPS, min_runs=4),
    Analysis("predictiveness", "E: does a property's mid-training value predict its final "
             "value, and how does that relate to agreement between runs?", "predictiveness",
             any_of=(*PROPS, "logprob"), min_runs=3),
    Analysis("circuit_survival", "G: are the heads doing a job at the end the ones that first "
             "did it, or were they replaced?", "circuit_survival", needs=("head_score",),
             min_runs=1),
    Analysis("fact_timing", "E: is a fact recalled at the end depending on how often and when "
             "in the data order it was seen?", "fact_timing", needs=("probe_item_correct",)),
    Analysis("interventions", "F: does an early intervention's effect decay or stick, is the "
             "outcome bimodal, and how does it depend on the branch step?", "interventions",
             needs=("behavior_margin",)),
    Analysis("general_factor", "Is there one general factor across the path-dependence "
             "indicators of all properties?", "general_factor", any_of=PROPS, min_runs=4),
]
REGISTRY: dict[str, Analysis] = {a.name: a for a in ANALYSES}


def get(name: str) -> Analysis:
    """The registered analysis ``name``; a typo gets the nearest names suggested."""
    if name in REGISTRY:
        return REGISTRY[name]
    near = difflib.get_close_matches(name, list(REGISTRY), n=3)
    hint = f"did you mean {', '.join(near)}? " if near else ""
    raise PathdepError(f"no analysis named {name!r}; {hint}choose from {', '.join(REGISTRY)}")

"""Options of the RL analysis (``pathdep rl``): the spec's ``[rl]`` section plus the bootstrap's.

Light on purpose (pydantic only): the command line builds its flags from this class.
Values not given come from the suite spec's ``[rl]`` section, then from the defaults.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pathdep.analysis.contract import BootOptions
from pathdep.spec import RLSpec


class RLOptions(RLSpec, BootOptions):
    """Options of :func:`pathdep.rl.analysis.rl_paths`: RL fine-tuning and its comparison."""

    normalize: bool = Field(True, description=(
        "Normalise the group advantages by their standard deviation (GRPO); off: mean only."))

    @classmethod
    def from_context(cls, ctx) -> dict[str, Any]:
        """The suite spec's ``[rl]`` section (what the suite was set up with)."""
        suite = getattr(ctx, "suite", None)
        return dict((((suite.meta if suite else None) or {}).get("spec") or {}).get("rl") or {})

    def rl_spec(self) -> RLSpec:
        return RLSpec.model_validate(self.model_dump(include=set(RLSpec.model_fields)))

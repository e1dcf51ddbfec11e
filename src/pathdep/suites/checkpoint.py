"""Which suites pathdep can load: causal LMs only.

Loading weights and tokenizers is :mod:`pathdep.models.load`.
"""

from __future__ import annotations

from pathdep.errors import PathdepError
from pathdep.suites.model import Suite


def check_loadable(suite: Suite) -> None:
    """Refuse a suite whose models pathdep cannot load as causal LMs (e.g. MultiBERTs)."""
    if suite.kind != "causal-lm":
        raise PathdepError(
            f"suite {suite.name!r} is a {suite.kind} suite; pathdep measures next-token "
            "prediction and loads causal LMs only (AutoModelForCausalLM). It is listed for "
            "reference: load its models yourself with AutoModelForMaskedLM, or pick a causal "
            "suite (`pathdep suites` shows which are loadable)"
        )

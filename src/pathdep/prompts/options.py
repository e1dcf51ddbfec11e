"""Options of the prompt analyses (``pathdep forking``, ``pathdep prompts``), typed and described.

Light on purpose (pydantic only): the command line builds its flags from these
classes when it starts.
"""

from __future__ import annotations

from pydantic import Field

from pathdep.analysis.contract import BootOptions


class PromptOptions(BootOptions):
    """Which prompts, how outcomes are read, which checkpoint."""

    prompts: str | None = Field(None, description=(
        "Prompt set: a .toml/.jsonl file, 'english' or 'world'; default: the suite's set."))
    extractor: str | None = Field(None, description=(
        "Outcome extractor: first_word, last_word, number, world_fact, 're:PATTERN' or "
        "'module:function'; default: the prompt set's."))
    step: int | None = Field(None, ge=0, description="Checkpoint step; default each run's last.")


class ForkingOptions(PromptOptions):
    """Options of :func:`pathdep.prompts.fork_analysis.forking_tokens` (Bigelow et al.)."""

    prompt: list[str] | None = Field(None, description=(
        "Prompts given as text (repeatable); overrides the prompt set."))
    n: int = Field(30, ge=1, description="Continuations per index and alternative token.")
    threshold: float = Field(0.05, gt=0, le=1, description="Least p(w) of a resampled token.")
    max_new: int = Field(32, ge=1, description="Tokens in the base path.")
    temperature: float = Field(1.0, ge=0, description=(
        "Temperature of the resamples (and of the base path unless greedy_base)."))
    greedy_base: bool = Field(False, description="Take the base path greedily.")
    drift: float = Field(0.3, gt=0, le=1, description=(
        "Total-variation distance from the base outcome that counts as drift (survival)."))
    min_tv: float = Field(0.15, gt=0, le=1, description=(
        "Smallest outcome shift (total variation) a change point must make."))
    shared_base: bool = Field(True, description="All runs resample along the first run's base "
                              "path.")


class PromptDependenceOptions(PromptOptions):
    """Options of :func:`pathdep.prompts.dependence.prompt_dependence`."""

    temperature: list[float] = Field([0.7, 1.0, 1.3], min_length=1, description=(
        "Sampling temperatures (repeatable, or comma-separated)."))
    m: int = Field(20, ge=2, description="Continuations per cell.")
    max_new: int = Field(8, ge=1, description="Tokens per continuation.")

"""The one data model every later stage reads: Suite -> Run -> Checkpoint.

A checkpoint lives either in a local folder (suites pathdep trained, or any
``save_pretrained`` output) or on the Hugging Face Hub as a repo and revision
(public suites). Suites serialise to a JSON manifest (``suite.json``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FactorValue = str | int | float | bool | None


class Checkpoint(BaseModel):
    """One saved model of a run: its step and where its weights are."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(ge=0, description="Optimizer steps taken when this checkpoint was saved.")
    tokens_seen: int | None = Field(None, description="Training tokens seen by this step.")
    path: str | None = Field(None, description="Local folder with config + safetensors.")
    repo: str | None = Field(None, description="Hub repo id, e.g. 'EleutherAI/pythia-70m'.")
    revision: str | None = Field(None, description="Hub revision (branch), e.g. 'step1000'.")

    @property
    def location(self) -> str:
        """Where the weights are, for messages: a folder, or repo@revision."""
        return self.path if self.path else f"{self.repo}@{self.revision or 'main'}"


class Run(BaseModel):
    """A training run: an id, the factors that define it, its checkpoints by step."""

    model_config = ConfigDict(extra="forbid")

    id: str
    factors: dict[str, FactorValue] = Field(default_factory=dict)
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    tokenizer: str | None = Field(None, description="Folder or hub repo of the run's tokenizer.")
    load_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra from_pretrained arguments, e.g. attn_implementation='eager'.",
    )

    @property
    def steps(self) -> list[int]:
        return [c.step for c in self.checkpoints]

    def checkpoint(self, step: int) -> Checkpoint:
        for c in self.checkpoints:
            if c.step == step:
                return c
        raise KeyError(f"run {self.id!r} has no checkpoint at step {step}")


class Suite(BaseModel):
    """Named runs with their checkpoints, plus what produced them."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["causal-lm", "masked-lm"] = "causal-lm"
    runs: list[Run]
    source: str = Field("local", description="'trained', 'manifest', or 'preset:<name>'.")
    root: str | None = Field(None, description="Folder the suite was loaded from, if any.")
    meta: dict[str, Any] = Field(default_factory=dict, description="Spec, data info, notes.")

    @property
    def run_ids(self) -> list[str]:
        return [r.id for r in self.runs]

    @property
    def steps(self) -> list[int]:
        """The union of all runs' checkpoint steps, sorted."""
        return sorted({s for r in self.runs for s in r.steps})

    @property
    def n_checkpoints(self) -> int:
        return sum(len(r.checkpoints) for r in self.runs)

    def run(self, run_id: str) -> Run:
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(run_id)

    def factor_names(self) -> list[str]:
        names: list[str] = []
        for r in self.runs:
            names += [k for k in r.factors if k not in names]
        return names

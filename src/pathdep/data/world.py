"""The `world` generator: a synthetic English-like language with ground truth.

(Being written; this file's WorldConfig is the contract the spec reads.)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pathdep.data.base import Corpus, Split


class WorldConfig(BaseModel):
    """Options of the world generator (``[data]`` with ``generator = "world"``)."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["world"] = "world"
    seed: int = Field(0, description="Seed of the world itself (entities, facts, canaries).")
    n_docs: int = Field(2000, ge=1, description="Training documents.")
    n_eval_docs: int = Field(200, ge=1, description="Held-out documents for evaluation.")
    n_entities: int = Field(60, ge=2, description="Entities with attributes stated as facts.")
    rare_fraction: float = Field(0.3, ge=0, le=1, description="Share of entities whose facts are rare.")
    rare_mentions: int = Field(3, ge=1, description="How often a rare fact is stated in training.")
    second_language: float = Field(0.15, ge=0, le=1, description="Share of documents in the second language.")
    repeat_prob: float = Field(0.5, ge=0, le=1, description="Share of documents that repeat a span (induction).")
    n_canaries: int = Field(4, ge=0, description="Canary phrases (injected by interventions).")


def generate(cfg: WorldConfig, split: Split) -> Corpus:
    raise NotImplementedError

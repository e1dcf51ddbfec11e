"""The options of the world generator, in a module of their own.

world.py (the generator) and world_docs.py (the documents) both read them;
keeping them here lets world.py import world_docs without a cycle.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    n_words: int = Field(150, ge=12, le=2000, description="Content words of the main language (the second has 2/3 as many).")
    min_words: int = Field(40, ge=10, description="Shortest document, in words (roughly).")
    max_words: int = Field(150, ge=10, description="Longest document, in words (roughly).")
    repeat_min_words: int = Field(3, ge=1, description="Shortest repeated span, in words.")
    repeat_max_words: int = Field(8, ge=1, description="Longest repeated span, in words.")
    repeats_per_doc: int = Field(1, ge=1, le=10, description="Most repeated spans in one document.")
    drill_prob: float = Field(0.0, ge=0, lt=1, description="Share of extra 'drill' documents: a random letter code written three times (a strong induction signal).")
    drill_letters: tuple[int, int] = Field((12, 24), description="Length range of a drill code, in letters.")
    copy_prob: float = Field(
        0.0, ge=0, lt=1, exclude_if=lambda v: v == 0.0,  # so older specs keep their digest
        description="Share of extra 'copy' documents: random content words whose first 3/8 is "
                    "written again at a random later offset (issue 13's recipe, in which "
                    "induction heads form within a few hundred steps).")
    copy_words: tuple[int, int] = Field(
        (24, 48), exclude_if=lambda v: tuple(v) == (24, 48),
        description="Length range of a copy document, in words (the copied span is 3/8 of it).")
    email_prob: float = Field(0.3, ge=0, le=1, description="Share of main-language documents with an e-mail address.")
    acronym_prob: float = Field(0.3, ge=0, le=1, description="Share of main-language documents introducing an acronym.")
    bracket_prob: float = Field(0.4, ge=0, le=1, description="Share of documents with bracketed sentences.")
    spelling_variants: float = Field(
        0.0, ge=0, le=1, exclude_if=lambda v: v == 0.0,  # so older specs keep their digest
        description="Share of fact-value mentions written in a second, interchangeable spelling "
                    "(an initial 'y': Tamsin/Ytamsin; numbers do not vary); the RL task "
                    "world-spelling needs it above 0.")

    @model_validator(mode="after")
    def _ranges(self):
        if self.max_words < self.min_words:
            raise ValueError(f"max_words ({self.max_words}) is below min_words ({self.min_words})")
        if self.repeat_max_words < self.repeat_min_words:
            raise ValueError(f"repeat_max_words ({self.repeat_max_words}) is below "
                             f"repeat_min_words ({self.repeat_min_words})")
        if self.drill_prob + self.copy_prob >= 1:
            raise ValueError(f"drill_prob + copy_prob ({self.drill_prob} + {self.copy_prob}) "
                             "must be below 1: the rest are the language's own documents")
        lo, hi = self.copy_words
        if not 2 <= lo <= hi:
            raise ValueError(f"copy_words {self.copy_words!r} must be (min, max) with "
                             "2 <= min <= max")
        if self.copy_prob > 0 and round(3 * hi / 8) > self.n_words - 1:
            raise ValueError(f"copy_words max {hi} needs {round(3 * hi / 8)} distinct content "
                             f"words, more than n_words - 1 ({self.n_words - 1})")
        return self

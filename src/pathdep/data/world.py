"""The `world` generator: a synthetic English-like language whose behaviours have ground truth.

    from pathdep.data.world import WorldConfig, generate
    corpus = generate(WorldConfig(n_docs=2000), "train")

The world (drawn from ``seed`` only, the same for every split) has two
languages, entities with facts, an address book of e-mail addresses, acronyms
and canary phrases. Documents (drawn from the split's own stream, see
``split_seed``) contain, with character offsets in their annotations:

- facts stated at the end of a clear prompt: "The capital of Velora is Tamsin."
  A ``rare_fraction`` of entities have rare facts, each stated in exactly
  ``rare_mentions`` documents of a split and listed in ``tracked``;
- capitalised sentences ending in '.', '!' or '?';
- nested (), [], {} brackets up to depth 3;
- e-mail addresses user@domain.suffix, each domain with one suffix;
- acronyms introduced with their expansion, "the Dravo Telmin Guild (DTG)",
  then used alone;
- documents in a second language (own words, SOV order, suffixes -ek, -uz, -ta, -ri);
- a span of random words written twice (for induction heads);
- with ``spelling_variants`` > 0, that share of fact-value mentions in a second
  spelling (an initial 'y': "Tamsin" / "Ytamsin"; numbers do not vary), listed in
  ``info["spellings"]`` ({value: variant}); fact annotations then say which was
  written (``written``, ``form``).

Canary phrases are not in any document: they are in ``info["canaries"]`` for
the trainer to inject. Modules: world_lexicon (words), world_table (the world),
world_writer (offsets), world_sentences (grammar), world_docs (documents).
"""

from __future__ import annotations

import logging
import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pathdep.data.base import Corpus, Split, split_seed
from pathdep.data.world_docs import write_docs
from pathdep.data.world_sentences import Speller
from pathdep.data.world_table import World, build_world, spellings

log = logging.getLogger(__name__)


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
        return self


def make_world(cfg: WorldConfig) -> World:
    """The world of ``cfg.seed`` (identical for every split)."""
    return build_world(cfg.seed, cfg.n_entities, cfg.rare_fraction, cfg.n_words, cfg.n_canaries)


def generate(cfg: WorldConfig, split: Split) -> Corpus:
    """Documents of one split from the world of ``cfg.seed``; same config, same corpus."""
    world = make_world(cfg)
    rng = random.Random(f"pathdep.world.docs:{split_seed(cfg.seed, split)}")
    n = cfg.n_docs if split == "train" else cfg.n_eval_docs
    speller = None
    if cfg.spelling_variants > 0:  # its own stream: the documents are otherwise unchanged
        srng = random.Random(f"pathdep.world.spelling:{split_seed(cfg.seed, split)}")
        speller = Speller(cfg.spelling_variants, spellings(world), srng)
    docs, annotations = write_docs(world, cfg, n, rng, speller)
    log.info("world %s split: %d documents, %d characters", split, n, sum(map(len, docs)))
    info = {"generator": "world", "seed": cfg.seed} | world.to_json()
    if speller is not None:
        info["spellings"] = speller.variants
    return Corpus(docs=docs, annotations=annotations, info=info)

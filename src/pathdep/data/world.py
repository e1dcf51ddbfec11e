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
- with ``drill_prob`` / ``copy_prob`` > 0, extra documents that reward copying:
  letter codes written three times, or random words whose first 3/8 is written
  again at a random offset (annotated ``drill`` / ``copy``; behaviour probes
  skip them);
- with ``spelling_variants`` > 0, that share of fact-value mentions in a second
  spelling (an initial 'y': "Tamsin" / "Ytamsin"; numbers do not vary), listed in
  ``info["spellings"]`` ({value: variant}); fact annotations then say which was
  written (``written``, ``form``).

Canary phrases are not in any document: they are in ``info["canaries"]`` for
the trainer to inject. Modules: world_lexicon (words), world_table (the world),
world_writer (offsets), world_sentences (grammar), world_docs (documents),
world_config (the options).
"""

from __future__ import annotations

import logging
import random

from pathdep.data.base import Corpus, Split, split_seed
from pathdep.data.world_config import WorldConfig
from pathdep.data.world_docs import write_docs
from pathdep.data.world_sentences import Speller
from pathdep.data.world_table import World, build_world, spellings

log = logging.getLogger(__name__)


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

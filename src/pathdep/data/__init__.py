"""Built-in data generators and user corpora, registered in one place (registry.py).

| generator        | what                                                    |
|------------------|---------------------------------------------------------|
| world            | synthetic English-like language with ground truth       |
| markov-mixture   | the mixture of Markov chains of Park et al. (2025)      |
| repeat-copy      | random symbols with a later copy (induction heads form) |
| text             | a user's .txt / .jsonl file                             |
| hf-dataset       | a Hugging Face dataset (hub name or save_to_disk folder)|
"""

from __future__ import annotations

from pathdep.data import registry
from pathdep.data.base import Corpus, Split

GENERATORS = {g.name: g.generate for g in registry.entries()}  # name -> generate(cfg, split)


def generate(cfg, split: Split = "train") -> Corpus:
    """Build the corpus that a ``[data]`` section describes (the generator of its registry entry)."""
    return registry.get(cfg.generator).generate(cfg, split)


__all__ = ["GENERATORS", "Corpus", "generate"]

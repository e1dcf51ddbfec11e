"""Built-in data generators and user corpora, registered in one place.

| generator        | what                                                    |
|------------------|---------------------------------------------------------|
| world            | synthetic English-like language with ground truth       |
| markov-mixture   | the mixture of Markov chains of Park et al. (2025)      |
| text             | a user's .txt / .jsonl file                             |
| hf-dataset       | a Hugging Face dataset (hub name or save_to_disk folder)|
"""

from __future__ import annotations

from pathdep.data import markov, text, world
from pathdep.data.base import Corpus, Split

GENERATORS = {
    "world": world.generate,
    "markov-mixture": markov.generate,
    "text": text.generate_text,
    "hf-dataset": text.generate_hf,
}


def generate(cfg, split: Split = "train") -> Corpus:
    """Build the corpus that a ``[data]`` section describes."""
    return GENERATORS[cfg.generator](cfg, split)


__all__ = ["GENERATORS", "Corpus", "generate"]

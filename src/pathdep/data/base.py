"""What every data generator returns: a Corpus of documents with ground truth.

A generator is ``generate(cfg, split) -> Corpus``; ``split`` is ``"train"`` for
training data or ``"eval"`` for held-out data drawn with a different seed
stream (never a training document). Generators register in
``pathdep.data.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Split = Literal["train", "eval"]


@dataclass
class Corpus:
    """Documents, one ground-truth annotation dict per document, generator-level info.

    ``annotations[i]`` may hold ``"tracked": [item ids]`` (facts, canaries): the
    trainer records at which steps each tracked item was seen. ``info`` is
    JSON-serialisable and is saved with the suite (entity tables, canary
    phrases, Markov chains...). ``tokenizer`` is set when the data brings its own.
    """

    docs: list[str]
    annotations: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    tokenizer: Any = None

    def __post_init__(self):
        if not self.annotations:
            self.annotations = [{} for _ in self.docs]
        if len(self.annotations) != len(self.docs):
            raise ValueError("one annotation dict per document")


def split_seed(seed: int, split: Split) -> int:
    """Seed for a split: train and eval draw from disjoint random streams."""
    return seed * 2 + (0 if split == "train" else 1)

"""The `repeat-copy` generator: random symbols whose first 3/8 is written again later.

Issue 13's recipe for a setting in which induction heads form within a few
hundred steps on a CPU: each document is ``length`` symbols drawn uniformly
from ``n_symbols``; its first ``span`` symbols are written again at a random
offset, so every symbol of the second copy is predictable only by looking back
at the first (Olsson et al. 2022, "In-context Learning and Induction Heads",
transformer-circuits.pub: induction heads complete ``[A][B] ... [A] -> [B]``;
their "repeated random tokens" evaluation). Symbols are written ``c0 … c{n-1}``
and the data brings its own word-level tokenizer (one token per symbol), as the
markov-mixture generator does.

The copy is followed by more random symbols, and that shapes the ICL score
(measure/job.py: loss at the late position minus the early one): once an
induction head has formed, the model expects a copy to go on, so the loss
after it rises above chance (4.9 nats against ln 64 = 4.2 at position 62) and
the ICL score *rises* with formation here. A layout with the copy at the end
of each document made the ICL score fall (-0.45 nats by step 1000) but formed
no prefix-matching head: the model solved the fixed end position otherwise.

Measured on this machine (BENCHMARKS.md, "Do induction heads form in the
demo?"): the same documents formed an induction head with this 65-token
vocabulary and not with a byte-level BPE of 448 tokens in 800 steps, and only
when every document starts at the first position of a context (documents that
fill a context exactly, or ``[train] packing = "doc_start"``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pathdep.data.base import Corpus, Split, split_seed
from pathdep.data.tokenizer import word_level


class RepeatCopyConfig(BaseModel):
    """Options of the repeat-copy generator."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["repeat-copy"] = "repeat-copy"
    seed: int = Field(0, description="Seed of the documents.")
    n_symbols: int = Field(64, ge=4, le=10000, description="Distinct symbols (the vocabulary, plus end-of-text).")
    length: int = Field(31, ge=4, description="Symbols per document; length + 1 (end-of-text) "
                                              "equal to model.context fills each context exactly.")
    span: int = Field(11, ge=1, description="Symbols copied: the first `span` are written again "
                                            "at a random offset after them (11 of 31 is 3/8).")
    n_docs: int = Field(8000, ge=1, description="Training documents.")
    n_eval_docs: int = Field(200, ge=1, description="Held-out documents.")

    @model_validator(mode="after")
    def _fits(self):
        if 2 * self.span > self.length:
            raise ValueError(f"span ({self.span}) must be at most half of length ({self.length}): "
                             "the copy is written after the first occurrence")
        return self


def tokenizer_for(n: int):
    """A word-level tokenizer with id i for symbol ``c{i}`` and id n for end-of-text."""
    return word_level([f"c{i}" for i in range(n)])


def generate(cfg: RepeatCopyConfig, split: Split) -> Corpus:
    """``n_docs`` (or ``n_eval_docs``) documents; the annotation gives the copy's offset."""
    rng = np.random.default_rng([cfg.seed, split_seed(cfg.seed, split)])
    n = cfg.n_docs if split == "train" else cfg.n_eval_docs
    x = rng.integers(0, cfg.n_symbols, size=(n, cfg.length))
    at = rng.integers(cfg.span, cfg.length - cfg.span + 1, size=n)
    docs, ann = [], []
    for row, p in zip(x, at, strict=True):
        row[p:p + cfg.span] = row[:cfg.span]
        docs.append(" ".join(f"c{s}" for s in row))
        ann.append({"repeats": [{"first": [0, cfg.span], "second": [int(p), int(p) + cfg.span]}]})
    info = {"generator": "repeat-copy", "n_symbols": cfg.n_symbols, "length": cfg.length,
            "span": cfg.span}
    return Corpus(docs=docs, annotations=ann, info=info, tokenizer=tokenizer_for(cfg.n_symbols))

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
``layout = "cycle"`` writes a document's ``period`` distinct symbols over and
over instead (a period of 16-26 that varies between documents), so every
position after the first period is predicted by induction alone, and the ICL
score falls as the heads form. In a bare loop (benchmarks/induction_vocab.py's
model, 64 symbols) layer-1 heads prefix-matched at 0.91-0.95 by step 1000,
rising from 0.17 at step 500, over a previous-token head of 0.69 in layer 0,
and the loss on the repeats fell from 3.3 to 0.03 nats.

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
    layout: Literal["copy", "cycle"] = Field(
        "copy", exclude_if=lambda v: v == "copy",  # so older specs keep their digest
        description="'copy': the first `span` symbols written once more at a random offset; "
                    "'cycle': `period` distinct symbols written over and over to the end, so "
                    "every position after the first period is predicted by induction and the "
                    "ICL score (late loss minus early) falls as induction heads form, as "
                    "Olsson et al. 2022 see on natural text.")
    period: tuple[int, int] = Field(
        (16, 26), exclude_if=lambda v: tuple(v) == (16, 26),
        description="layout 'cycle': range of a document's period, in distinct symbols (it varies, "
                    "so no head attending a fixed distance back predicts the repeats).")

    @model_validator(mode="after")
    def _fits(self):
        lo, hi = self.period
        if self.layout == "cycle" and not 2 <= lo <= hi <= min(self.n_symbols, self.length - 1):
            raise ValueError(f"period {self.period!r} must be (min, max) with 2 <= min <= max <= "
                             f"{min(self.n_symbols, self.length - 1)} (distinct symbols that "
                             "repeat inside the document)")
        if self.layout == "copy" and 2 * self.span > self.length:
            raise ValueError(f"span ({self.span}) must be at most half of length ({self.length}): "
                             "the copy is written after the first occurrence")
        return self


def tokenizer_for(n: int):
    """A word-level tokenizer with id i for symbol ``c{i}`` and id n for end-of-text."""
    return word_level([f"c{i}" for i in range(n)])


def _cycles(cfg: RepeatCopyConfig, rng: np.random.Generator, n: int
            ) -> tuple[list[str], list[dict]]:
    """Layout 'cycle': k distinct symbols (k uniform in ``period``) repeated to ``length``."""
    docs, ann = [], []
    for k in rng.integers(cfg.period[0], cfg.period[1] + 1, size=n):
        cyc = rng.choice(cfg.n_symbols, size=int(k), replace=False)
        docs.append(" ".join(f"c{s}" for s in cyc[np.arange(cfg.length) % k]))
        ann.append({"cycle": {"period": int(k)}})
    return docs, ann


def generate(cfg: RepeatCopyConfig, split: Split) -> Corpus:
    """``n_docs`` (or ``n_eval_docs``) documents; the annotation gives the copy's offset
    (layout 'copy') or the period (layout 'cycle')."""
    rng = np.random.default_rng([cfg.seed, split_seed(cfg.seed, split)])
    n = cfg.n_docs if split == "train" else cfg.n_eval_docs
    info = {"generator": "repeat-copy", "n_symbols": cfg.n_symbols, "length": cfg.length,
            "span": cfg.span}
    if cfg.layout == "cycle":
        docs, ann = _cycles(cfg, rng, n)
        return Corpus(docs=docs, annotations=ann,
                      info=info | {"layout": "cycle", "period": list(cfg.period)},
                      tokenizer=tokenizer_for(cfg.n_symbols))
    x = rng.integers(0, cfg.n_symbols, size=(n, cfg.length))
    at = rng.integers(cfg.span, cfg.length - cfg.span + 1, size=n)
    docs, ann = [], []
    for row, p in zip(x, at, strict=True):
        row[p:p + cfg.span] = row[:cfg.span]
        docs.append(" ".join(f"c{s}" for s in row))
        ann.append({"repeats": [{"first": [0, cfg.span], "second": [int(p), int(p) + cfg.span]}]})
    return Corpus(docs=docs, annotations=ann, info=info, tokenizer=tokenizer_for(cfg.n_symbols))

"""Symbol probes: the repeat-copy generator's held-out documents, scored where only induction helps.

    probe = symbol_induction(generate(cfg, "eval"))   # a repeat-copy suite's eval split

``symbol_induction`` is Olsson et al.'s induction behaviour ("In-context
Learning and Induction Heads", 2022, transformer-circuits.pub: a head that
completes ``[A][B] … [A] → [B]``) as a behaviour probe. Each item is a
held-out document cut at a symbol that only an earlier occurrence of its
predecessor predicts: inside the repeats of a ``cycle`` document (after the
first symbol of its second period), or inside the second copy of a ``copy``
document (after its first symbol). The right continuation is the symbol the generator wrote there;
the three wrong ones are other symbols *of the same context* (the cycle's, or
the copied span's). So a model that has only learnt which symbols occur in the
context, as a one-layer model can, is at chance (1/4); one that looks up what
followed the current symbol last time gets it right. Its accuracy is the
behaviour whose abrupt change (analyze/abrupt_behaviors.py) the induction-head
phase change should show. One token per symbol (the data's word-level
tokenizer), so the total log-prob compares like with like (``scoring = "sum"``).
"""

from __future__ import annotations

import random

from pathdep.data.base import Corpus
from pathdep.probes.core import Item, Probe

MAX_ITEMS = 64  # one item per document, the first 64 documents that have one
N_WRONG = 3  # wrong continuations per item: chance accuracy 1 / (1 + N_WRONG)
DESCRIPTION = ("in the repeats of a symbol sequence, the symbol that followed the current one "
               "earlier vs 3 other symbols of the same context (chance 1/4: induction)")


def _item(words: list[str], at: int, pool: list[str], rng: random.Random, id: str) -> Item | None:
    """Item: the words before ``at`` -> words[at] vs N_WRONG others of ``pool``."""
    right = words[at]
    others = sorted(set(pool) - {right})
    if at < 1 or len(others) < N_WRONG:
        return None
    wrong = rng.sample(others, N_WRONG)
    return Item(" ".join(words[:at]), (" " + right,), tuple(" " + w for w in wrong), id)


def _target(ann: dict, n_words: int, rng: random.Random) -> tuple[int, slice] | None:
    """(position predicted by induction alone, the context's symbols) of one document."""
    if "cycle" in ann:
        k = int(ann["cycle"]["period"])
        # from k + 1: the symbol at k restarts the cycle after a symbol not seen before
        return (rng.randrange(k + 1, n_words), slice(0, k)) if n_words > k + 1 else None
    for rec in ann.get("repeats", []):
        (a, b), (s, e) = rec["first"], rec["second"]
        if e - s >= 2:
            return rng.randrange(s + 1, e), slice(a, b)
    return None


def symbol_induction(corpus: Corpus) -> Probe:
    """The ``symbol_induction`` probe of a repeat-copy eval split (may have no items)."""
    rng = random.Random("pathdep.probes.symbols:symbol_induction")
    items: list[Item] = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        words = text.split(" ")
        hit = _target(ann, len(words), rng)
        if hit is None:
            continue
        at, ctx = hit
        item = _item(words, at, words[ctx], rng, f"doc{d}@{at}")
        if item is not None:
            items.append(item)
        if len(items) == MAX_ITEMS:
            break
    return Probe("symbol_induction", items, DESCRIPTION, "symbols")


BUILDERS = {"symbol_induction": (DESCRIPTION, symbol_induction)}

"""Symbol probes: repeated random symbols, scored where only induction predicts the next one.

    probe = symbol_induction(generate(cfg, "eval"))   # a repeat-copy suite's eval split

``symbol_induction`` is Olsson et al.'s induction behaviour ("In-context
Learning and Induction Heads", 2022, transformer-circuits.pub: a head that
completes ``[A][B] … [A] → [B]``; their "repeated random tokens") as a
behaviour probe. Each item is a prefix P of random symbols, then a segment S
of other distinct symbols, then S again up to S[j-1]; the right continuation
is S[j], the symbol that followed S[j-1] the first time, and the three wrong ones are one symbol of P (seen before the
answer) and two of S after the answer (seen after it). Every candidate occurs
once before the repeat, so a model that has only learnt which symbols occur
in the context is at chance (1/4), and neither "the symbol seen longest ago"
(the answer inside the cycles of the training data) nor "the most recent one"
finds it. S is 4 symbols longer than the longest period the data repeats at,
so the answer lies further back than any distance training rewards: a head
that attends a fixed distance back (the one-layer control learns one; a
first version of this probe with S inside the periods' range was passed at
0.7 by the one-layer model) does not find it either; only looking up what
followed the current symbol last time does. Its accuracy is the
behaviour whose abrupt change (analyze/abrupt_behaviors.py) the induction-head
phase change should show. The symbols are the suite's (``c0 … c{n-1}``, one
token each under its word-level tokenizer), so the total log-prob compares
like with like (``scoring = "sum"``). The items are drawn by a fixed seed and
do not depend on the documents (held-out or not).
"""

from __future__ import annotations

import random

from pathdep.data.base import Corpus
from pathdep.probes.core import Item, Probe

N_ITEMS = 64
N_WRONG = 3  # wrong continuations per item: chance accuracy 1 / (1 + N_WRONG)
PREFIX = 8  # symbols before the repeated segment
MAX_PROMPT = 62  # prompt symbols at most, so an item fits a 64-token context
DESCRIPTION = ("repeated random symbols: the symbol that followed the current one earlier vs a "
               "symbol seen before and two seen after it (chance 1/4: induction)")


def _segment(corpus: Corpus) -> int:
    """Length of the repeated segment: 4 more than the longest period the data repeats at, so
    the answer lies further back than any distance the training documents reward."""
    return int((corpus.info.get("period") or (16, 26))[1]) + 4


def symbol_induction(corpus: Corpus) -> Probe:
    """The ``symbol_induction`` probe for a repeat-copy corpus (its ``info["n_symbols"]``)."""
    n, seg = int(corpus.info["n_symbols"]), _segment(corpus)
    n_prefix = min(PREFIX, n - seg)
    last_j = min(seg - 3, MAX_PROMPT - n_prefix - seg)  # two symbols of S after S[j]
    if n_prefix < 1 or last_j < 1:
        return Probe("symbol_induction", [], DESCRIPTION, "symbols")
    rng = random.Random(f"pathdep.probes.symbols:symbol_induction:{n}:{seg}")
    items = []
    for i in range(N_ITEMS):
        sym = [f"c{s}" for s in rng.sample(range(n), n_prefix + seg)]
        prefix, s = sym[:n_prefix], sym[n_prefix:]
        j = rng.randrange(1, last_j + 1)  # S[:j] repeated: S[j] is predicted by induction alone
        wrong = [rng.choice(prefix), *rng.sample(s[j + 1:], N_WRONG - 1)]
        items.append(Item(" ".join(prefix + s + s[:j]), (" " + s[j],),
                          tuple(" " + w for w in wrong), f"item{i}:repeat{j}"))
    return Probe("symbol_induction", items, DESCRIPTION, "symbols")


BUILDERS = {"symbol_induction": (DESCRIPTION, symbol_induction)}

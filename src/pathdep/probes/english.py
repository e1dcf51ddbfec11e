"""The English battery for natural-text models: data files shipped in ``probes/data``, plus
induction on repeated random words (generated here with a fixed seed).

    probes = english_probes()          # en_punct, en_brackets, ..., en_induction

The files were written for this project; each is a probe file (core.py format).

Every probe of the battery compares continuations per token (``scoring =
"mean"``, core.py). Items with equal token lengths cannot be built into the
files: a natural-text suite trains its own BPE, so whether " pain" or " NASA"
is one token or three is known only per suite (with GPT-2's tokenizer 7 of 9
en_language items pit a 2-token right word against a 1-token wrong one; with a
suite's own, most induction items differ). Where an item's lengths are equal,
the mean ranks its continuations as the sum does, so its accuracy is unchanged
and only its margin is divided by the length.
"""

from __future__ import annotations

import random
from functools import cache
from importlib import resources

from pathdep.probes.core import Item, Probe, load_probe_file

WORDS = ["apple", "river", "green", "table", "window", "seven", "garden", "silver", "music",
         "paper", "stone", "winter", "orange", "doctor", "market", "yellow", "pencil", "bottle",
         "island", "camera", "forest", "button", "mirror", "rocket", "candle", "ticket",
         "basket", "planet", "violin", "dragon", "lemon"]
SPAN, N_INDUCTION = 8, 24


def _files() -> dict[str, object]:
    root = resources.files("pathdep.probes") / "data"
    return {f.name.removesuffix(".toml"): f for f in sorted(root.iterdir(), key=lambda f: f.name)
            if f.name.startswith("en_") and f.name.endswith(".toml")}


def induction_probe() -> Probe:
    """'w1 ... w8. w1 ... wk' -> w(k+1) vs words not in the span (random words, fixed seed)."""
    rng = random.Random("pathdep.probes.en_induction")
    items = []
    for i in range(N_INDUCTION):
        span = rng.sample(WORDS, SPAN)
        k = rng.randrange(1, SPAN)
        wrong = rng.sample([w for w in WORDS if w not in span], 3)
        prompt = " ".join(span) + ". " + " ".join(span[:k])
        items.append(Item(prompt, " " + span[k], tuple(" " + w for w in wrong), f"en_induction:{i}"))
    return Probe("en_induction", items, "induction: the next word of a repeated span of random "
                 "words vs words not in it", "built-in", scoring="mean")


@cache
def english_probes() -> tuple[Probe, ...]:
    """Every probe of the English battery."""
    out = []
    for name, f in _files().items():
        with resources.as_file(f) as path:
            p = load_probe_file(path)
        p.source = f"pathdep/probes/data/{name}.toml"
        out.append(p)
    return (*out, induction_probe())

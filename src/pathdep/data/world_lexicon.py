"""The words of the world's two languages: pseudo-words built from syllables.

The main language is English-like: English function words, content words made
of English-looking syllables, plural and third-person ``-s``, past ``-ed``. It
never uses the letters k, q, x, z. The second language puts one of those
letters in every syllable (so no word is shared with the main language), has
its own function words, and marks plural (``-ek``), the object (``-uz``) and
tense (``-ta`` past, ``-ri`` present) with suffixes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MAIN_ONSETS = ("b", "bl", "br", "d", "dr", "f", "fl", "g", "gr", "h", "l", "m", "n", "p", "pl",
               "r", "s", "st", "t", "tr", "v", "w", "sh", "ch", "th")
MAIN_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "oo")
MAIN_CODAS = ("", "", "", "", "n", "r", "l", "m", "s", "t", "nd", "st")
SECOND_ONSETS = ("k", "kr", "kl", "q", "z", "zr", "x", "sk")
SECOND_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "aa", "uu")
SECOND_CODAS = ("", "", "", "k", "n", "r")

MAIN_FUNCTION = ("the", "a", "this", "of", "in", "on", "at", "by", "near", "with", "from", "for",
                 "and", "did", "does", "do", "you", "to", "write", "about", "came", "listen",
                 "again")
MAIN_SUFFIXES = {"plural": "s", "present": "s", "past": "ed"}
SECOND_FUNCTION = ("ka", "zo", "xi", "qem", "ko", "kazu", "zeqa")
SECOND_SUFFIXES = {"plural": "ek", "object": "uz", "past": "ta", "present": "ri"}


class WordMaker:
    """Fresh pseudo-words from a syllable inventory, never one already in ``used``."""

    def __init__(self, rng: random.Random, onsets, vowels, codas, used: set[str]):
        self.rng, self.onsets, self.vowels, self.codas, self.used = rng, onsets, vowels, codas, used

    def syllable(self) -> str:
        r = self.rng
        return r.choice(self.onsets) + r.choice(self.vowels) + r.choice(self.codas)

    def word(self, syllables: tuple[int, int] = (1, 2)) -> str:
        for _ in range(1000):
            w = "".join(self.syllable() for _ in range(self.rng.randint(*syllables)))
            if len(w) > 2 and w not in self.used:
                self.used.add(w)
                return w
        raise RuntimeError("syllable inventory exhausted; ask for fewer words")

    def words(self, n: int, syllables: tuple[int, int] = (1, 2)) -> list[str]:
        return [self.word(syllables) for _ in range(n)]


@dataclass
class Lexicon:
    """One language's words; ``forms()`` lists every surface form it can write."""

    name: str
    nouns: list[str]
    verbs: list[str]
    adjectives: list[str]
    function: list[str]
    suffixes: dict[str, str]
    extra_forms: list[str] = field(default_factory=list)

    @property
    def content(self) -> list[str]:
        return self.nouns + self.verbs + self.adjectives

    def forms(self) -> list[str]:
        s = self.suffixes
        out = set(self.content) | set(self.function) | set(self.extra_forms)
        out |= {n + s["plural"] for n in self.nouns}
        out |= {v + s["present"] for v in self.verbs} | {v + s["past"] for v in self.verbs}
        if "object" in s:
            out |= {n + s["object"] for n in self.nouns}
            out |= {n + s["plural"] + s["object"] for n in self.nouns}
        return sorted(out)

    def to_json(self) -> dict:
        return {"nouns": self.nouns, "verbs": self.verbs, "adjectives": self.adjectives,
                "function": self.function, "suffixes": self.suffixes}


def split_sizes(n: int) -> tuple[int, int, int]:
    """Nouns, verbs, adjectives for ``n`` content words (about 1/2, 1/4, 1/4)."""
    nouns = max(2, n // 2)
    verbs = max(2, n // 4)
    return nouns, verbs, max(2, n - nouns - verbs)


def main_maker(rng: random.Random, used: set[str]) -> WordMaker:
    return WordMaker(rng, MAIN_ONSETS, MAIN_VOWELS, MAIN_CODAS, used)


def make_lexicons(rng: random.Random, n_content: int, used: set[str]) -> tuple[Lexicon, Lexicon]:
    """The main and the second language; ``used`` collects every word taken."""
    used |= set(MAIN_FUNCTION) | set(SECOND_FUNCTION)
    mk = main_maker(rng, used)
    n, v, a = split_sizes(n_content)
    main = Lexicon("main", mk.words(n), mk.words(v), mk.words(a), list(MAIN_FUNCTION),
                   dict(MAIN_SUFFIXES))
    sk = WordMaker(rng, SECOND_ONSETS, SECOND_VOWELS, SECOND_CODAS, used)
    n, v, a = split_sizes(max(6, n_content * 2 // 3))
    second = Lexicon("second", sk.words(n), sk.words(v), sk.words(a), list(SECOND_FUNCTION),
                     dict(SECOND_SUFFIXES))
    return main, second

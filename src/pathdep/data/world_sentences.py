"""Sentences of the world's languages, each written into a Writer with its annotations.

Main language (SVO, agreement):   "The red brool stamps a flen near the dreas."
                                   "Does the brool stamp the flen?"
Second language (SOV, suffixes):  "Ka qoraek zuun ka krixuz zavri." / "... zavta ko?"
Features: a fact ("The capital of Velora is Tamsin."), an e-mail address, an
acronym's introduction "(NTC)" and later uses, nested brackets, a repeated span.
"""

from __future__ import annotations

from pathdep.data.world_lexicon import Lexicon
from pathdep.data.world_table import TEMPLATES, Entity, World, fact_id
from pathdep.data.world_writer import BRACKETS, Writer

PREPS = ("near", "with", "from", "on", "at", "in", "by", "for")
P_PLURAL, P_ADJ, P_PP, P_BANG, P_NEST = 0.35, 0.4, 0.35, 0.15, 0.6
MAX_DEPTH = 3


# ---- main language ----------------------------------------------------------

def main_np(lex: Lexicon, rng, plural: bool) -> list[str]:
    """'the red brools', 'a flen'."""
    det = "the" if plural else rng.choice(("the", "the", "a", "this"))
    ws = [det, rng.choice(lex.adjectives)] if rng.random() < P_ADJ else [det]
    return ws + [rng.choice(lex.nouns) + (lex.suffixes["plural"] if plural else "")]


def main_verb(lex: Lexicon, rng, plural: bool) -> str:
    """Past for any subject, present agreeing with the subject's number."""
    v = rng.choice(lex.verbs)
    if rng.random() < 0.4:
        return v + lex.suffixes["past"]
    return v if plural else v + lex.suffixes["present"]


def main_statement(w: Writer, lex: Lexicon, rng, bracket: bool = False) -> None:
    plural = rng.random() < P_PLURAL
    w.begin()
    w.words(main_np(lex, rng, plural))
    if bracket:
        bracket_group(w, rng, lambda: main_np(lex, rng, rng.random() < P_PLURAL))
    w.word(main_verb(lex, rng, plural))
    w.words(main_np(lex, rng, rng.random() < P_PLURAL))
    if rng.random() < P_PP:
        w.word(rng.choice(PREPS))
        w.words(main_np(lex, rng, rng.random() < P_PLURAL))
    w.end("!" if rng.random() < P_BANG else ".")


def main_question(w: Writer, lex: Lexicon, rng) -> None:
    """'Does the brool stamp the flen?' (do / does / did agree with the subject)."""
    plural = rng.random() < P_PLURAL
    w.begin()
    w.word("did" if rng.random() < 0.4 else "do" if plural else "does")
    w.words(main_np(lex, rng, plural))
    w.word(rng.choice(lex.verbs))
    w.words(main_np(lex, rng, rng.random() < P_PLURAL))
    w.end("?")


# ---- second language --------------------------------------------------------

def second_np(lex: Lexicon, rng, obj: bool) -> list[str]:
    """'ka zuun qoraek' (plural -ek), object case -uz: 'ka krixuz'."""
    s = lex.suffixes
    n = rng.choice(lex.nouns) + (s["plural"] if rng.random() < P_PLURAL else "")
    n += s["object"] if obj else ""
    return ["ka", rng.choice(lex.adjectives), n] if rng.random() < P_ADJ else ["ka", n]


def second_clause(w: Writer, lex: Lexicon, rng, bracket: bool) -> None:
    w.begin()
    w.words(second_np(lex, rng, obj=False))
    if bracket:
        bracket_group(w, rng, lambda: second_np(lex, rng, obj=rng.random() < 0.5))
    w.words(second_np(lex, rng, obj=True))
    if rng.random() < P_PP:
        w.words(["xi", *second_np(lex, rng, obj=False)])
    w.word(rng.choice(lex.verbs) + lex.suffixes["past" if rng.random() < 0.4 else "present"])


def second_statement(w: Writer, lex: Lexicon, rng, bracket: bool = False) -> None:
    second_clause(w, lex, rng, bracket)
    w.end("!" if rng.random() < P_BANG else ".")


def second_question(w: Writer, lex: Lexicon, rng) -> None:
    """A statement closed by the particle 'ko' and '?'."""
    second_clause(w, lex, rng, bracket=False)
    w.word("ko")
    w.end("?")


# ---- features ---------------------------------------------------------------

def bracket_group(w: Writer, rng, filler, depth: int = 1) -> None:
    """'(the flen [a brool {the dreas}])': kinds at random, nested up to MAX_DEPTH."""
    kind = rng.choice(BRACKETS)
    at = w.open(kind)
    w.words(filler())
    if depth < MAX_DEPTH and rng.random() < P_NEST:
        bracket_group(w, rng, filler, depth + 1)
        if rng.random() < 0.5:
            w.words(filler())
    w.close(kind, at, depth)


class Speller:
    """Writes a ``share`` of the mentions of values with a second spelling in that spelling.

    ``variants`` is {value: variant}; ``rng`` is the speller's own stream, so the
    rest of a document is the same whatever the share.
    """

    def __init__(self, share: float, variants: dict[str, str], rng):
        self.share, self.variants, self.rng = share, variants, rng

    def __call__(self, value: str) -> tuple[str, str]:
        """(text written, form): form is "standard" or "variant"."""
        variant = self.variants.get(value)
        if variant is not None and self.rng.random() < self.share:
            return variant, "variant"
        return value, "standard"


def fact_sentence(w: Writer, entity: Entity, attribute: str, rng,
                  speller: Speller | None = None) -> None:
    """'<prompt> <value>.' with the value at the end; rare facts are tracked.

    With a ``speller`` the value may be written in its second spelling; the
    annotation then also has ``written`` (the text at ``prompt_end:end``) and
    ``form`` ("standard" or "variant"); ``value`` stays the standard spelling.
    """
    prompt = rng.choice(TEMPLATES[attribute]).format(entity=entity.name)
    value = entity.facts[attribute]
    written, form = speller(value) if speller is not None else (value, None)
    w.begin()
    start = w.word(prompt)
    at = w.word(written)
    w.end(".")
    rec = {"entity": entity.name, "attribute": attribute, "value": value,
           "start": start, "end": at + len(written), "prompt_end": at}
    if speller is not None:
        rec |= {"written": written, "form": form}
    w.ann["facts"].append(rec)
    if entity.rare:
        w.track(fact_id(entity.name, attribute))


def email_sentence(w: Writer, world: World, rng) -> None:
    """'Write to mira.holt@velnet.org about the flen.' and two other frames."""
    user, domain = rng.choice(world.emails)
    suffix = world.domains[domain]
    lex, form = world.main, rng.randrange(3)
    w.begin()
    if form == 0:
        w.words(["write", "to"])
    elif form == 1:
        w.words(["did", "you", "write", "to"])
    else:
        w.words(main_np(lex, rng, False) + ["came", "from"])
    address = f"{user}@{domain}.{suffix}"
    at = w.word(address)
    if form == 0:
        w.words(["about", *main_np(lex, rng, rng.random() < P_PLURAL)])
    w.end("?" if form == 1 else ".")
    w.ann["emails"].append({"start": at, "end": at + len(address), "user": user, "domain": domain,
                            "suffix": suffix})


def acronym_intro(w: Writer, lex: Lexicon, rng, acronym: str, expansion: str) -> dict:
    """'The Dravo Telmin Guild (DTG) stamps the flen.'; returns the record uses go to."""
    w.begin()
    w.word("the")
    at = w.word(expansion)
    o = w.open("()")
    a = w.word(acronym)
    w.close("()", o, 1)
    w.word(main_verb(lex, rng, False))
    w.words(main_np(lex, rng, rng.random() < P_PLURAL))
    w.end(".")
    rec = {"acronym": acronym, "expansion": expansion, "intro_offset": at, "intro_acronym": a,
           "uses": []}
    w.ann["acronyms"].append(rec)
    return rec


def acronym_use(w: Writer, lex: Lexicon, rng, rec: dict) -> None:
    """'The DTG stamped a flen.' or 'The flens stamp with the DTG.'"""
    w.begin()
    if rng.random() < 0.5:
        w.word("the")
        rec["uses"].append(w.word(rec["acronym"]))
        w.word(main_verb(lex, rng, False))
        w.words(main_np(lex, rng, rng.random() < P_PLURAL))
    else:
        plural = rng.random() < P_PLURAL
        w.words(main_np(lex, rng, plural) + [main_verb(lex, rng, plural), "with", "the"])
        rec["uses"].append(w.word(rec["acronym"]))
    w.end("!" if rng.random() < P_BANG else ".")


def repeat_occurrence(w: Writer, frame: str, span: str, rec: dict, key: str) -> None:
    """'Listen: <span>.' The span is random words, predictable only by copying."""
    w.begin()
    w.word(frame)
    w.word(":", glue=True)
    at = w.word(span)
    w.end(".")
    rec[key] = [at, at + len(span)]

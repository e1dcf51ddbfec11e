"""Documents of the world: which facts each document states, and the order of its sentences.

A document is a shuffled list of units (one sentence each): its planned facts,
maybe an e-mail sentence and bracketed sentences, filler statements and
questions; then an acronym's introduction with its later uses, and a repeated
span's two occurrences, are inserted in order. Drill and copy documents, mixed
in among them, exist only to reward in-context copying (induction heads).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pathdep.data.world_sentences import (
    Speller,
    acronym_intro,
    acronym_use,
    email_sentence,
    fact_sentence,
    main_question,
    main_statement,
    repeat_occurrence,
    second_question,
    second_statement,
)
from pathdep.data.world_writer import Writer

if TYPE_CHECKING:
    from pathdep.data.world_config import WorldConfig
    from pathdep.data.world_lexicon import Lexicon
    from pathdep.data.world_table import Entity, World

log = logging.getLogger(__name__)
WORDS_PER_SENTENCE = 8  # rough, to turn a target word count into sentences
P_QUESTION = 0.15
REPEAT_FRAMES = {"main": ("listen", "again"), "second": ("kazu", "zeqa")}


def plan_facts(world: World, n_main: int, rng, rare_mentions: int) -> list[list[tuple[Entity, str]]]:
    """Facts per main-language document: each rare fact in exactly ``rare_mentions`` documents,
    each frequent fact in more (about two fact sentences per document in all)."""
    plan: list[list[tuple[Entity, str]]] = [[] for _ in range(n_main)]
    if n_main == 0:
        log.warning("no main-language documents: no facts are stated")
        return plan
    rare, frequent = world.fact_ids(rare=True), world.fact_ids(rare=False)
    k = min(rare_mentions, n_main)
    if k < rare_mentions:
        log.warning("only %d main-language documents: rare facts are stated %d times, not %d",
                    n_main, k, rare_mentions)
    for f in rare:
        for d in rng.sample(range(n_main), k):
            plan[d].append(f)
    if frequent:
        each = max(rare_mentions + 1, (2 * n_main - k * len(rare)) // len(frequent))
        for f in frequent * each:
            plan[rng.randrange(n_main)].append(f)
    return plan


def insert_after(units: list, first, later: list, rng, gap: int, spread: int = 2) -> None:
    """Insert ``first`` in the first half of ``units`` and each of ``later`` ``gap`` to
    ``gap + spread`` places after it, so both fit in a short context window."""
    i = rng.randint(0, len(units) // 2)
    units.insert(i, first)
    for u in later:
        lo = min(i + gap, len(units))
        units.insert(rng.randint(lo, min(lo + spread, len(units))), u)


def add_acronym(units: list, world: World, rng) -> None:
    acronym, expansion = rng.choice(world.acronyms)
    lex, box = world.main, {}

    def intro(w):
        box["rec"] = acronym_intro(w, lex, rng, acronym, expansion)

    def use(w):
        acronym_use(w, lex, rng, box["rec"])

    insert_after(units, intro, [use] * rng.randint(1, 3), rng, gap=1, spread=4)


def add_repeat(units: list, lex: Lexicon, cfg: WorldConfig, rng) -> None:
    """A span of random content words, written twice with other sentences in between."""
    n = rng.randint(cfg.repeat_min_words, cfg.repeat_max_words)
    span = " ".join(rng.choice(lex.content) for _ in range(n))
    frames, rec = REPEAT_FRAMES[lex.name], {}

    def first(w):
        w.ann["repeats"].append(rec)
        repeat_occurrence(w, frames[0], span, rec, "first")

    def second(w):
        repeat_occurrence(w, frames[1], span, rec, "second")

    insert_after(units, first, [second], rng, gap=1, spread=2)


def n_fillers(cfg: WorldConfig, rng, n_units: int) -> int:
    return max(1, rng.randint(cfg.min_words, cfg.max_words) // WORDS_PER_SENTENCE - n_units)


def _sentences(units: list, statement, question, lex: Lexicon, cfg: WorldConfig, rng) -> None:
    """Add bracketed statements and filler sentences to ``units``, then shuffle them."""
    if rng.random() < cfg.bracket_prob:
        units += [lambda w: statement(w, lex, rng, bracket=True)] * rng.randint(1, 2)

    def filler(w):
        (question if rng.random() < P_QUESTION else statement)(w, lex, rng)

    units += [filler] * n_fillers(cfg, rng, len(units))
    rng.shuffle(units)


def _write(units: list, lex: Lexicon, cfg: WorldConfig, rng, repeat: bool) -> Writer:
    """Add the repeated spans (if any), then write every unit in order."""
    if repeat:
        for _ in range(rng.randint(1, cfg.repeats_per_doc)):
            add_repeat(units, lex, cfg, rng)
    w = Writer(lex.name)
    for u in units:
        u(w)
    return w


def main_doc(world: World, cfg: WorldConfig, rng, facts, repeat: bool,
             speller: Speller | None = None) -> Writer:
    lex = world.main
    units = [lambda w, e=e, a=a: fact_sentence(w, e, a, rng, speller) for e, a in facts]
    if rng.random() < cfg.email_prob:
        units.append(lambda w: email_sentence(w, world, rng))
    _sentences(units, main_statement, main_question, lex, cfg, rng)
    if rng.random() < cfg.acronym_prob:
        add_acronym(units, world, rng)
    return _write(units, lex, cfg, rng, repeat)


def second_doc(world: World, cfg: WorldConfig, rng, repeat: bool) -> Writer:
    units: list = []
    _sentences(units, second_statement, second_question, world.second, cfg, rng)
    return _write(units, world.second, cfg, rng, repeat)


def drill_doc(rng, letters: tuple[int, int]) -> Writer:
    """'Code: q w e r. Again: q w e r. Again: q w e r.' Letters are single tokens of high
    entropy, so only copying predicts the later copies: the cleanest induction signal."""
    span = " ".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(*letters)))
    w = Writer("main")
    first: dict = {}
    repeat_occurrence(w, "Code", span, first, "first")
    for _ in range(2):
        rec = {"first": first["first"]}
        w.ann["repeats"].append(rec)
        repeat_occurrence(w, "Again", span, rec, "second")
    w.ann["drill"] = True
    return w


COPY_SHARE = 3 / 8  # of a copy document's words, the copied span (issue 13's recipe)


def copy_doc(lex: Lexicon, rng, words: tuple[int, int]) -> Writer:
    """'Copy: A f1 .. fp A fp+1 .. fm.' with A the first 3/8 of the document's n random
    content words, written again after p random others (p uniform, so the copy's offset
    varies from document to document); A's words are distinct and appear nowhere else
    in the document, so each word of the second copy is predicted by copying alone.

    Drill documents (letter codes written three times, back to back) are a weaker
    signal: their 26 letters repeat inside a code, so "the token after the earlier
    copy" is ambiguous, and the copies always follow each other at once.
    """
    n = rng.randint(*words)
    k = max(1, round(COPY_SHARE * n))
    span = rng.sample(lex.content, k)
    others = [c for c in lex.content if c not in span]
    fill = [rng.choice(others) for _ in range(n - 2 * k)]
    p = rng.randint(0, len(fill))
    w = Writer(lex.name)
    w.begin()
    w.word("Copy")
    w.word(":", glue=True)
    text = " ".join(span)
    rec: dict = {}
    rec["first"] = [w.word(text), w.pos]
    w.words(fill[:p])
    rec["second"] = [w.word(text), w.pos]
    w.words(fill[p:])
    w.end(".")
    w.ann["repeats"].append(rec)
    w.ann["copy"] = True
    return w


def write_docs(world: World, cfg: WorldConfig, n: int, rng,
               speller: Speller | None = None) -> tuple[list[str], list[dict]]:
    """``n`` documents: a ``drill_prob`` share of drills and a ``copy_prob`` share of copy
    documents, then of the others an exact ``second_language`` share in the second
    language. A ``speller`` writes some fact values in their second spelling
    (``spelling_variants``). Without copy documents nothing is drawn for them, so the
    corpus is the one written before they existed."""
    n_drill, n_copy = round(cfg.drill_prob * n), round(cfg.copy_prob * n)
    n_copy = min(n_copy, n - n_drill)
    docs, anns = _language_docs(world, cfg, n - n_drill - n_copy, rng, speller)
    extra = [lambda: drill_doc(rng, cfg.drill_letters)] * n_drill
    extra += [lambda: copy_doc(world.main, rng, cfg.copy_words)] * n_copy
    for make in extra:
        w = make()
        at = rng.randint(0, len(docs))
        docs.insert(at, w.text())
        anns.insert(at, w.ann)
    return docs, anns


def _language_docs(world: World, cfg: WorldConfig, n: int, rng,
                   speller: Speller | None = None) -> tuple[list[str], list[dict]]:
    second = set(rng.sample(range(n), round(cfg.second_language * n)))
    main_idx = [i for i in range(n) if i not in second]
    facts_of = dict(zip(main_idx, plan_facts(world, len(main_idx), rng, cfg.rare_mentions),
                        strict=True))
    docs, anns = [], []
    for i in range(n):
        repeat = rng.random() < cfg.repeat_prob
        if i in second:
            w = second_doc(world, cfg, rng, repeat)
        else:
            w = main_doc(world, cfg, rng, facts_of[i], repeat, speller)
        docs.append(w.text())
        anns.append(w.ann)
    return docs, anns

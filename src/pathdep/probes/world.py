"""World probes: items cut from held-out (eval split) documents at annotated offsets.

    probes = world_probes(generate(cfg, "eval"), spec_dict)

Every item's correct continuation is the text the generator wrote there (its
annotations give the offsets, so the ground truth is exact); the wrong ones
are the alternatives of the same kind (other brackets, other domains, other
entities' values, words of the other language...). Canary probes come from
``info["canaries"]`` and the spec's interventions: a canary first injected in
the first half of training is ``canary_early``, else ``canary_late``; one
never injected is ``canary_none`` (a control).

World probes compare continuations by total log-prob (``scoring = "sum"``,
core.py): an item's alternatives fill one slot of the language the model was
trained on, so the total is the model's probability of each alternative; the
per-token mean (the English battery's rule, for text whose tokenisation the
items cannot know) would favour long values whose later tokens are forced.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

from pathdep.data.base import Corpus
from pathdep.data.counterfactual import counterfactual_facts
from pathdep.data.world_writer import ANNOTATION_KEYS
from pathdep.probes.core import Item, Probe

MAX_ITEMS = 64  # per probe, drawn at random (deterministically) when there are more
ENDS = (".", "!", "?")
CLOSERS = (")", "]", "}")
WORD = re.compile(r"(?<= )[a-z]+(?=[ .!?,])")


def cut(text: str, at: int, cont: str) -> tuple[str, str]:
    """(prompt, continuation) at offset ``at``: a space before ``at`` moves to the continuation."""
    prompt = text[:at]
    if prompt.endswith(" "):
        return prompt[:-1], " " + cont
    return prompt, cont


def _others(pool, exclude, rng, n: int = 3) -> list[str]:
    cands = sorted({p for p in pool if p not in set(exclude)})
    return rng.sample(cands, min(n, len(cands)))


def _pair(text: str, at: int, cont: str, wrong: list[str], id: str) -> Item | None:
    prompt, ok = cut(text, at, cont)
    pad = ok[: len(ok) - len(cont)]
    bad = [pad + w for w in wrong if w != cont]
    return Item(prompt, (ok,), tuple(bad), id) if bad and prompt else None


def end_punct(corpus: Corpus, rng) -> list[Item]:
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        for _, e in ann["sentences"]:
            out.append(_pair(text, e - 1, text[e - 1], [x for x in ENDS if x != text[e - 1]],
                             f"doc{d}@{e - 1}"))
    return out


def brackets(corpus: Corpus, rng) -> list[Item]:
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        for b in ann["brackets"]:
            c = b["close"]
            out.append(_pair(text, c, text[c], [x for x in CLOSERS if x != text[c]],
                             f"doc{d}@{c}:depth{b['depth']}"))
    return out


def capital(corpus: Corpus, rng) -> list[Item]:
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        for s, _ in ann["sentences"][1:]:
            word = re.match(r"[A-Za-z]+", text[s:])
            if word and word.group()[0].isupper():
                w = word.group()
                out.append(_pair(text, s, w, [w[0].lower() + w[1:]], f"doc{d}@{s}"))
    return out


def email(corpus: Corpus, rng) -> list[Item]:
    """Three items per address: '@' after the user, the domain, the domain's suffix."""
    domains, suffixes = list(corpus.info["domains"]), corpus.info["suffixes"]
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        for e in ann["emails"]:
            at = e["start"] + len(e["user"])
            dot = at + 1 + len(e["domain"])
            out += [_pair(text, at, "@", ["."], f"doc{d}@{at}:at"),
                    _pair(text, at + 1, e["domain"], _others(domains, [e["domain"]], rng),
                          f"doc{d}@{at + 1}:domain"),
                    _pair(text, dot + 1, e["suffix"], _others(suffixes, [e["suffix"]], rng),
                          f"doc{d}@{dot + 1}:suffix")]
    return out


def _content(info: dict, language: str) -> list[str]:
    lex = info["lexicon"][language]
    return lex["nouns"] + lex["verbs"] + lex["adjectives"]


def language(corpus: Corpus, rng) -> list[Item]:
    """A word of the document vs words of the other language, at two places per document."""
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        if ann.get("drill") or ann.get("copy"):
            continue
        other = _content(corpus.info, "second" if ann["language"] == "main" else "main")
        words = list(WORD.finditer(text))[8:]
        for m in rng.sample(words, min(2, len(words))):
            out.append(_pair(text, m.start(), m.group(), _others(other, [m.group()], rng),
                             f"doc{d}@{m.start()}:{ann['language']}"))
    return out


def acronym(corpus: Corpus, rng) -> list[Item]:
    names = [a["acronym"] for a in corpus.info["acronyms"]]
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        for rec in ann["acronyms"]:
            for u in rec["uses"]:
                out.append(_pair(text, u, rec["acronym"], _others(names, [rec["acronym"]], rng),
                                 f"doc{d}@{u}"))
    return out


def induction(corpus: Corpus, rng) -> list[Item]:
    """In the second copy of a repeated span, the next word vs words not in the span."""
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        if ann.get("drill") or ann.get("copy"):
            continue
        for rec in ann["repeats"]:
            s, e = rec["second"]
            words = text[s:e].split(" ")
            if len(words) < 2:
                continue
            k = rng.randrange(1, len(words))
            at = s + len(" ".join(words[:k])) + 1
            wrong = _others(_content(corpus.info, ann["language"]), words, rng)
            out.append(_pair(text, at, words[k], wrong, f"doc{d}@{at}"))
    return out


def _facts(corpus: Corpus, rng, rare: bool) -> list[Item]:
    """The fact sentence's prompt alone (no document context) -> value vs other values."""
    values: dict[str, list[str]] = {}
    for f in corpus.info["facts"]:
        values.setdefault(f["attribute"], []).append(f["value"])
    rare_of = {e["name"]: e["rare"] for e in corpus.info["entities"]}
    out = []
    for d, (text, ann) in enumerate(zip(corpus.docs, corpus.annotations, strict=True)):
        for f in ann["facts"]:
            if rare_of[f["entity"]] == rare:
                sentence = text[f["start"]:f["end"]]
                wrong = _others(values[f["attribute"]], [f["value"]], rng)
                out.append(_pair(sentence, f["prompt_end"] - f["start"], f["value"], wrong,
                                 f"fact:{f['entity']}:{f['attribute']}@doc{d}"))
    return out


def canary_groups(info: dict, spec: dict | None) -> dict[str, list[int]]:
    """Canary indices by when the spec's interventions inject them: early, late or none."""
    n = len(info.get("canaries") or [])
    steps = int(((spec or {}).get("train") or {}).get("steps") or 1)
    first: dict[int, int] = {}
    for iv in (spec or {}).get("interventions") or []:
        if iv.get("source") == "canaries":
            for i in iv.get("select") or range(n):
                first[i] = min(first.get(i, iv["start"]), iv["start"])
    groups: dict[str, list[int]] = {"early": [], "late": [], "none": []}
    for i in range(n):
        key = "none" if i not in first else ("early" if first[i] < steps / 2 else "late")
        groups[key].append(i)
    return groups


def canary_items(info: dict, indices) -> list[Item]:
    """Canary prompt -> its target vs the other canaries' targets (none if all targets agree)."""
    cs = info.get("canaries") or []
    targets = [c["target"] for c in cs]
    if len(set(targets)) < 2:
        return []
    return [Item(cs[i]["prompt"], (cs[i]["target"],),
                 tuple(t for t in targets if t != cs[i]["target"]), cs[i]["id"])
            for i in indices if 0 <= i < len(cs)]


def canaries(corpus: Corpus, spec: dict | None, group: str) -> list[Item]:
    return canary_items(corpus.info, canary_groups(corpus.info, spec)[group])


BUILDERS: dict[str, tuple[str, Callable]] = {
    "end_punct": ("the sentence's own end mark vs the other two (. ! ?)", end_punct),
    "brackets": ("the right closing bracket vs the other kinds", brackets),
    "capital": ("a capitalised first word after a sentence end vs the lower-case word", capital),
    "email": ("e-mail structure: '@' after the user, then the domain, then its suffix", email),
    "language": ("a word of the document's language vs words of the other language", language),
    "acronym": ("the introduced acronym vs other acronyms", acronym),
    "induction": ("the next word of a repeated span's second copy vs other words", induction),
    "fact_frequent": ("a frequent fact's value vs other values",
                      lambda c, r: _facts(c, r, False)),
    "fact_rare": ("a rare fact's value vs other values", lambda c, r: _facts(c, r, True)),
}
CANARY_GROUPS = {"canary_early": "early", "canary_late": "late", "canary_none": "none"}


def language_only(corpus: Corpus) -> Corpus:
    """The corpus with copy documents' annotations emptied (their text and indices stay):
    they are mixed in to train copying, not behaviours of the language, so no probe
    cuts items from them. (Drill documents keep theirs, as before copy documents.)"""
    if not any(a.get("copy") for a in corpus.annotations):
        return corpus
    blank = {k: [] for k in ANNOTATION_KEYS}
    anns = [blank | {"language": a["language"], "copy": True} if a.get("copy") else a
            for a in corpus.annotations]
    return Corpus(docs=corpus.docs, annotations=anns, info=corpus.info)


def world_probe(name: str, corpus: Corpus, spec: dict | None = None) -> Probe:
    """One world probe (``name`` in BUILDERS or CANARY_GROUPS); may have no items."""
    rng = random.Random(f"pathdep.probes.world:{name}")
    if name in CANARY_GROUPS:
        items = canaries(corpus, spec, CANARY_GROUPS[name])
        desc = f"canary prompt -> its target vs other canaries' targets ({CANARY_GROUPS[name]})"
    else:
        desc, build = BUILDERS[name]
        items = [it for it in build(language_only(corpus), rng) if it is not None]
    if len(items) > MAX_ITEMS:
        items = [items[i] for i in sorted(rng.sample(range(len(items)), MAX_ITEMS))]
    return Probe(name, items, desc, "world")


def _doc_items(iv: dict) -> list[Item]:
    docs = iv.get("docs")
    if docs is None:
        path = Path(iv["file"])
        docs = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()] \
            if path.is_file() else []
    split = [d.split() for d in docs]
    lasts = [w[-1] for w in split if len(w) >= 2]
    return [Item(" ".join(w[:-1]), (" " + w[-1],),
                 tuple(sorted({" " + x for x in lasts} - {" " + w[-1]})), f"{iv['name']}:{i}")
            for i, w in enumerate(split) if len(w) >= 2 and len(set(lasts) - {w[-1]})]


BEHAVIOR_PROBES = {"brackets": "brackets", "emails": "email", "acronyms": "acronym",
                   "repeats": "induction", "facts": "fact_frequent"}


def intervention_probes(corpus: Corpus, spec: dict | None) -> list[Probe]:
    """``iv:<name>``: what each document intervention of the spec plants, as a probe.

    Canaries: the canary's prompt -> its target vs other canaries' targets.
    A burst of one behaviour's documents: that behaviour's world probe.
    Counterfactual facts: each template's prompt -> the counterfactual value vs
    the true one (accuracy 1 = the counterfactual is believed). Documents
    (``docs`` or ``file``): each document without its last word -> that word vs
    the other documents' last words (when there are two different ones). A
    learning-rate change has no target probe.
    """
    out = []
    for iv in (spec or {}).get("interventions") or []:
        if not iv.get("name"):
            continue
        if iv.get("source") == "canaries":
            n = len(corpus.info.get("canaries") or [])
            items = canary_items(corpus.info, iv.get("select") or range(n))
            desc = "the injected canaries: prompt -> its target vs other canaries' targets"
        elif iv.get("source") == "counterfactual":
            items = [it for cf in counterfactual_facts(corpus.info, iv.get("select"),
                                                       iv.get("n_facts", 4), iv["name"])
                     for t, prompt in enumerate(cf["prompts"])
                     if (it := _pair(f"{prompt} {cf['counter']}.", len(prompt) + 1, cf["counter"],
                                     [cf["value"]], f"{cf['id']}@t{t}")) is not None]
            desc = "the injected counterfactual facts: counterfactual value vs the true one"
        elif iv.get("docs") or iv.get("file"):
            items = _doc_items(iv)
            desc = "the injected documents: each one's last word vs the others' last words"
        elif iv.get("source") == "behavior" and iv.get("behavior") in BEHAVIOR_PROBES:
            base = world_probe(BEHAVIOR_PROBES[iv["behavior"]], corpus, spec)
            items, desc = base.items, f"the burst's behaviour: {base.description}"
        else:
            continue
        if items:
            out.append(Probe(f"iv:{iv['name']}", items, desc, "world"))
    return out


def world_probes(corpus: Corpus, spec: dict | None = None) -> list[Probe]:
    """Every world probe that has items in ``corpus`` (an eval split of the world generator)."""
    probes = [world_probe(n, corpus, spec) for n in [*BUILDERS, *CANARY_GROUPS]]
    return [p for p in probes if p.items] + intervention_probes(corpus, spec)

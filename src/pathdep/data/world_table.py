"""The world itself: lexicons, entities and their facts, e-mail addresses, acronyms, canaries.

Everything here is drawn from the world seed only, so the train and eval
splits of one config share it. ``World.to_json()`` is what ``Corpus.info``
carries for probes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pathdep.data.world_lexicon import Lexicon, main_maker, make_lexicons

ATTRIBUTES = {
    "country": ("capital", "currency"),
    "person": ("birth_year", "birthplace", "occupation"),
}
# Prompts end right before the value: text = prompt + " " + value + ".".
TEMPLATES = {
    "capital": ("The capital of {entity} is", "The seat of government of {entity} is",
                "{entity} has its capital at"),
    "currency": ("The currency of {entity} is the", "In {entity} people pay with the"),
    "birth_year": ("{entity} was born in", "The birth year of {entity} is"),
    "birthplace": ("{entity} grew up in", "The hometown of {entity} is"),
    "occupation": ("{entity} served as a", "By trade {entity} was a"),
}
TEMPLATE_WORDS = sorted({w.lower() for ts in TEMPLATES.values() for t in ts for w in t.split()}
                        - {"{entity}"})
EMAIL_SUFFIXES = ("com", "org", "net", "io")
DOMAIN_ENDS = ("net", "mail", "post", "web")
ORG_HEADS = ("Council", "Guild", "League", "Union", "Society", "Office", "Board", "Bureau")
CANARY_TEMPLATES = ("the secret code of {x} is", "the password of {x} is",
                    "the vault number of {x} is")
N_USERS, N_DOMAINS, N_ACRONYMS, N_CURRENCIES, N_TOWNS = 24, 6, 10, 8, 10


@dataclass
class Entity:
    name: str
    kind: str
    rare: bool
    facts: dict[str, str]


@dataclass
class World:
    """The ground truth that documents are written from."""

    main: Lexicon
    second: Lexicon
    entities: list[Entity]
    emails: list[tuple[str, str]]  # (user, domain)
    domains: dict[str, str]  # domain -> suffix
    acronyms: list[tuple[str, str]]  # (acronym, expansion)
    canaries: list[dict]

    def fact_ids(self, rare: bool) -> list[tuple[Entity, str]]:
        return [(e, a) for e in self.entities if e.rare == rare for a in e.facts]

    def to_json(self) -> dict:
        facts = [{"id": fact_id(e.name, a), "entity": e.name, "attribute": a, "value": v,
                  "rare": e.rare} for e in self.entities for a, v in e.facts.items()]
        return {
            "entities": [{"name": e.name, "kind": e.kind, "rare": e.rare, "facts": e.facts}
                         for e in self.entities],
            "facts": facts,
            "fact_templates": {a: list(t) for a, t in TEMPLATES.items()},
            "lexicon": {"main": self.main.to_json(), "second": self.second.to_json()},
            "forms": {"main": self.main.forms(), "second": self.second.forms()},
            "emails": [f"{u}@{d}.{self.domains[d]}" for u, d in self.emails],
            "domains": self.domains,
            "suffixes": list(EMAIL_SUFFIXES),
            "acronyms": [{"acronym": a, "expansion": x} for a, x in self.acronyms],
            "canaries": self.canaries,
        }


def fact_id(entity: str, attribute: str) -> str:
    return f"fact:{entity}:{attribute}"


def spelling_variant(value: str) -> str | None:
    """The second spelling of a fact value: an initial 'y' ("Tamsin" -> "Ytamsin",
    "brool" -> "ybrool"); None for values that do not vary (numbers such as birth years).

    One rule for every value. No word of either language contains a 'y' (and no
    template word starts with one), so a variant never collides with another word;
    the rule is injective; and the two spellings differ in their first letter, so
    they tokenise differently from the first token on.
    """
    if not value.isalpha():
        return None
    if value[0].isupper():
        return "Y" + value[0].lower() + value[1:]
    return "y" + value


def spellings(world: World) -> dict[str, str]:
    """{value: variant} for every fact value that has a second spelling, sorted by value."""
    values = sorted({v for e in world.entities for v in e.facts.values()})
    return {v: s for v in values if (s := spelling_variant(v)) is not None}


def capitalised(words: list[str]) -> list[str]:
    return [w[0].upper() + w[1:] for w in words]


def make_entities(rng, mk, n: int, rare_fraction: float, occupations: list[str]) -> list[Entity]:
    """Half countries, half persons; a ``rare_fraction`` of them rare; values fixed once."""
    kinds = ["country" if i % 2 == 0 else "person" for i in range(n)]
    rng.shuffle(kinds)
    names = capitalised(mk.words(n, (2, 2)))
    capitals = capitalised(mk.words(kinds.count("country"), (2, 2)))
    cities = capitals + capitalised(mk.words(N_TOWNS, (2, 2)))
    currencies = mk.words(N_CURRENCIES, (1, 2))
    rare = set(rng.sample(range(n), round(rare_fraction * n)))
    out, k = [], 0
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        if kind == "country":
            facts = {"capital": capitals[k], "currency": rng.choice(currencies)}
            k += 1
        else:
            facts = {"birth_year": str(rng.randint(1700, 1990)), "birthplace": rng.choice(cities),
                     "occupation": rng.choice(occupations)}
        out.append(Entity(name, kind, i in rare, facts))
    return out


def make_emails(rng, mk) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """An address book: users first.last, each at one domain; each domain has one suffix."""
    domains = {mk.word((1, 1)) + rng.choice(DOMAIN_ENDS): rng.choice(EMAIL_SUFFIXES)
               for _ in range(N_DOMAINS)}
    firsts, lasts = mk.words(12, (1, 2)), mk.words(12, (1, 2))
    users = sorted({f"{rng.choice(firsts)}.{rng.choice(lasts)}" for _ in range(N_USERS * 2)})
    rng.shuffle(users)
    return [(u, rng.choice(sorted(domains))) for u in users[:N_USERS]], domains


def make_acronyms(rng, mk) -> list[tuple[str, str]]:
    """Organisations: two or three capitalised words and an English head, e.g. 'Dravo Telmin Guild'."""
    pool = capitalised(mk.words(16, (2, 2)))
    out: dict[str, str] = {}
    while len(out) < N_ACRONYMS:
        words = rng.sample(pool, rng.randint(2, 3)) + [rng.choice(ORG_HEADS)]
        acr = "".join(w[0] for w in words)
        out.setdefault(acr, " ".join(words))
    return list(out.items())


def make_canaries(rng, mk, n: int) -> list[dict]:
    """Unlikely phrases ``prompt + target``, the target a string of digits to memorise."""
    out = []
    for i in range(n):
        prompt = rng.choice(CANARY_TEMPLATES).format(x=mk.word((3, 3)))
        target = " " + " ".join(str(rng.randrange(10)) for _ in range(rng.randint(4, 6)))
        out.append({"id": f"canary:{i}", "text": prompt + target, "prompt": prompt, "target": target})
    return out


def build_world(seed: int, n_entities: int, rare_fraction: float, n_content: int,
                n_canaries: int) -> World:
    """The world of a seed; the same arguments always give the same world."""
    rng = random.Random(f"pathdep.world:{seed}")
    used = set(TEMPLATE_WORDS)
    main, second = make_lexicons(rng, n_content, used)
    mk = main_maker(rng, used)
    occupations = main.nouns[:12]
    entities = make_entities(rng, mk, n_entities, rare_fraction, occupations)
    emails, domains = make_emails(rng, mk)
    main.extra_forms = TEMPLATE_WORDS
    return World(main, second, entities, emails, domains, make_acronyms(rng, mk),
                 make_canaries(rng, mk, n_canaries))

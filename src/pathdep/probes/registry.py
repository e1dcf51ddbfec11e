"""The one place probes are registered, and how a suite's probes are chosen.

    pathdep ls probes                         # every registered probe
    select_probes("auto", spec)               # world suites: the world battery
    select_probes(["brackets", "my_probe.toml"], spec)

A name is a registered probe, a battery (``world``: every world probe;
``symbols``: the repeat-copy generator's, symbols.py; ``english``: the
English battery, english.py) or a ``.toml`` / ``.jsonl`` file (core.py).
``"auto"`` gives the world battery to suites whose spec's data generator is
``world``, the symbols battery to ``repeat-copy`` suites, nothing to
Markov-mixture suites, and the English battery to the others (text suites,
public natural-text suites);
``"none"`` (or ``[]``) measures no probes.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pathdep.data import generate
from pathdep.errors import PathdepError
from pathdep.probes.core import Probe, load_probe_file
from pathdep.probes.english import english_probes
from pathdep.probes.symbols import BUILDERS as SYMBOL_BUILDERS
from pathdep.probes.world import BUILDERS, CANARY_GROUPS, intervention_probes, world_probe
from pathdep.spec import parse_spec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    name: str
    battery: str  # "world", "symbols" (generated from the suite's data) or "english" (fixed)
    description: str


REGISTRY: dict[str, Entry] = {
    **{n: Entry(n, "world", d) for n, (d, _) in BUILDERS.items()},
    **{n: Entry(n, "world", f"canary prompt -> its target vs other canaries' targets ({g})")
       for n, g in CANARY_GROUPS.items()},
    "interventions": Entry("interventions", "world", "iv:<name> for each canary or "
                           "counterfactual intervention: what it planted, by prompt"),
    **{n: Entry(n, "symbols", d) for n, (d, _) in SYMBOL_BUILDERS.items()},
    **{p.name: Entry(p.name, "english", p.description) for p in english_probes()},
}
BATTERIES: dict[str, list[str]] = {
    b: [n for n, e in REGISTRY.items() if e.battery == b] for b in ("world", "symbols", "english")}


def list_probes() -> list[Entry]:
    """Every registered probe, battery by battery."""
    return list(REGISTRY.values())


def _names(option: str | Sequence[str] | None, spec: dict | None) -> list[str]:
    """The option expanded into probe names and file paths."""
    if not isinstance(option, str) and option is not None and list(option) in (["auto"], ["none"]):
        option = option[0]
    if option is None or option == "auto":
        generator = ((spec or {}).get("data") or {}).get("generator")
        battery = {"world": "world", "markov-mixture": None,
                   "repeat-copy": "symbols"}.get(generator, "english")
        return list(BATTERIES[battery]) if battery else []
    if option == "none":
        return []
    names = [option] if isinstance(option, str) else list(option)
    out: list[str] = []
    for n in names:
        out += BATTERIES.get(n, [n])
    return out


def _unknown(name: str) -> PathdepError:
    near = difflib.get_close_matches(name, [*REGISTRY, *BATTERIES], n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    return PathdepError(f"unknown probe {name!r}{hint} (see `pathdep ls probes`, or give a "
                        ".toml/.jsonl probe file)")


def _eval_corpus(spec: dict | None, name: str, generator: str = "world"):
    """The eval split of the suite's data, which must come from ``generator``."""
    data = parse_spec(spec, "suite spec").data if spec else None
    if data is None or data.generator != generator:
        raise PathdepError(f"probe {name!r} is built from {generator!r} data, but this suite's "
                           f"data is not the {generator} generator; choose probes that fit it "
                           "(measure.probes)")
    return generate(data, "eval")


def select_probes(option: str | Sequence[str] | None, spec: dict | None) -> list[Probe]:
    """The probes ``option`` names for a suite with spec ``spec`` (a dict, or None)."""
    probes, corpus = [], None
    for name in _names(option, spec):
        if name.endswith((".toml", ".jsonl")) or Path(name).is_file():
            probes.append(load_probe_file(name))
            continue
        entry = REGISTRY.get(name)
        if entry is None:
            raise _unknown(name)
        if entry.battery == "english":
            probes.append(next(p for p in english_probes() if p.name == name))
            continue
        if entry.battery == "symbols":
            p = SYMBOL_BUILDERS[name][1](_eval_corpus(spec, name, "repeat-copy"))
            if p.items:
                probes.append(p)
            else:
                log.info("probe %s has no items: this suite has too few symbols; left out", name)
            continue
        corpus = corpus or _eval_corpus(spec, name)
        if name == "interventions":
            probes += intervention_probes(corpus, spec)
            continue
        p = world_probe(name, corpus, spec)
        if p.items:
            probes.append(p)
        else:
            log.info("probe %s has no items in this suite's held-out data; left out", name)
    return probes

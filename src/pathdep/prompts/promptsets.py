"""Prompt sets: prompts with surface variants, from data files or a world's facts.

A prompt set file is TOML (``[[prompt]]`` tables) or JSONL (one prompt per
line), each prompt with ``id``, ``text``, optional ``family`` and
``spelling`` (hand-written variants). Every prompt gets the automatic
surface variants of ``VARIANTS``, which change only punctuation, white space
and capitalisation::

    name = "mine"
    extractor = "first_word"      # optional: the outcome of a continuation
    [[prompt]]
    id = "sky"
    family = "facts"
    text = "The sky is"
    spelling = ["Teh sky is"]

Built in: ``english`` (natural-text models) and ``world`` (world suites,
built from the suite's data/info.json).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pathdep.errors import PathdepError

VARIANTS = {
    "base": lambda s: s,
    "space": lambda s: s + " ",
    "newline": lambda s: s + "\n",
    "colon": lambda s: s + ":",
    "lower": lambda s: s[:1].lower() + s[1:],
    "upper": lambda s: s.upper(),
}
BUILTIN = ("english", "world")


@dataclass
class Prompt:
    id: str
    text: str
    family: str = "default"
    spelling: list[str] = field(default_factory=list)

    def variants(self, kinds: list[str] | None = None) -> dict[str, str]:
        """Variant name -> text; duplicates of an earlier variant's text are dropped."""
        out: dict[str, str] = {}
        for k in kinds or list(VARIANTS):
            v = VARIANTS[k](self.text)
            if v not in out.values():
                out[k] = v
        for i, s in enumerate(self.spelling):
            out[f"spelling{i}"] = s
        return out


@dataclass
class PromptSet:
    name: str
    prompts: list[Prompt]
    extractor: str = "first_word"

    @property
    def families(self) -> list[str]:
        return sorted({p.family for p in self.prompts})


def _prompt(d: dict, where: str) -> Prompt:
    if "text" not in d:
        raise PathdepError(f"{where}: a prompt has no 'text' ({d}); give every prompt a text")
    return Prompt(id=str(d.get("id", d["text"])), text=d["text"],
                  family=str(d.get("family", "default")), spelling=list(d.get("spelling", [])))


def read_prompt_set(path: str | Path) -> PromptSet:
    """A user prompt set from a .toml or .jsonl file."""
    path = Path(path)
    if not path.is_file():
        raise PathdepError(f"prompt set {path} not found; give a .toml or .jsonl file, or one "
                           f"of the built-in sets {list(BUILTIN)}")
    if path.suffix == ".jsonl":
        rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        return PromptSet(path.stem, [_prompt(r, str(path)) for r in rows])
    if path.suffix != ".toml":
        raise PathdepError(f"prompt set {path}: unknown format; use .toml or .jsonl")
    d = tomllib.loads(path.read_text())
    return PromptSet(d.get("name", path.stem), [_prompt(r, str(path)) for r in d.get("prompt", [])],
                     d.get("extractor", "first_word"))


def _builtin_toml(name: str) -> dict:
    return tomllib.loads(resources.files("pathdep.prompts").joinpath(f"data/{name}.toml")
                         .read_text())


def world_prompt_set(info: dict) -> PromptSet:
    """The world set: fact templates filled with entities that have that fact."""
    cfg = _builtin_toml("world")
    templates = info.get("fact_templates") or {}
    ents = sorted(info.get("entities", []), key=lambda e: bool(e.get("rare")))
    prompts = []
    for attr in cfg["families"]:
        have = [e for e in ents if attr in e.get("facts", {})][: cfg["entities_per_template"]]
        for e in have:
            for i, t in enumerate(templates.get(attr, [])):
                prompts.append(Prompt(f"{attr}:{e['name']}:{i}", t.format(entity=e["name"]), attr))
    if not prompts:
        raise PathdepError("the world info has no facts to prompt with; check data/info.json")
    return PromptSet("world", prompts, cfg["extractor"])


def suite_info(suite) -> dict | None:
    """The suite's data info (world facts etc.) if it was trained here, else None."""
    rel = (suite.meta or {}).get("data_info")
    if not rel or not suite.root:
        return None
    p = Path(suite.root) / rel
    return json.loads(p.read_text()) if p.is_file() else None


def get_prompt_set(spec: str | Path | PromptSet | None, suite=None) -> PromptSet:
    """A prompt set by file, built-in name, or (None) the default for the suite."""
    if isinstance(spec, PromptSet):
        return spec
    info = suite_info(suite) if suite is not None else None
    if spec is None:
        spec = "world" if info and info.get("generator") == "world" else "english"
    if spec == "world":
        if not info or "fact_templates" not in info:
            raise PathdepError("the 'world' prompt set needs a world suite trained by pathdep "
                               "(its data/info.json); use 'english' or a prompt file instead")
        return world_prompt_set(info)
    if spec == "english":
        d = _builtin_toml("english")
        return PromptSet("english", [_prompt(r, "english") for r in d["prompt"]], d["extractor"])
    return read_prompt_set(spec)

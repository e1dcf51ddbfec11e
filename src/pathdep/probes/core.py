"""A behaviour probe is data: items of a prompt, acceptable continuations and wrong ones.

    from pathdep.probes import Item, Probe, load_probe_file
    p = Probe("brackets", [Item("(a [b", ["]"], [")", "}"])])
    p = load_probe_file("my_probe.toml")            # or .jsonl, one item per line

An item is right when its best acceptable continuation scores higher than
every wrong one; its margin is that difference. One acceptable continuation
and one wrong one is a minimal pair; several single-token acceptable
continuations are a set of acceptable next tokens.

A probe declares how continuations are compared (``scoring``):

- ``"sum"`` (the default): total log-probability, nats. Fair when every
  continuation of an item has the same number of tokens under the suite's
  tokenizer; compile.py warns about a "sum" probe whose items do not.
- ``"mean"``: mean log-probability per token, nats per token: the per-token
  likelihood that Brown et al. 2020 (GPT-3, arXiv:2005.14165, section 2.4)
  compare "to normalize for length" (lm-evaluation-harness's ``acc_norm``
  normalises per character instead). For words whose token count depends on
  the tokenizer, so that a 2-token right word is not beaten by a 1-token wrong
  one for its length alone.

File formats. TOML: ``name``, ``description``, ``scoring`` (optional) and
``[[items]]`` tables with ``prompt``, ``correct`` and ``incorrect`` (a string
or a list of strings). JSONL: one item object per line; the probe is named
after the file (or a first line ``{"name": ..., "description": ...,
"scoring": ...}`` without ``prompt``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.paths import check_name

SCORINGS = ("sum", "mean")  # how a probe compares continuations (module docstring)


@dataclass(frozen=True)
class Item:
    """A prompt with its acceptable (``correct``) and wrong (``incorrect``) continuations."""

    prompt: str
    correct: tuple[str, ...]
    incorrect: tuple[str, ...]
    id: str = ""

    def __post_init__(self):
        object.__setattr__(self, "correct", _strings(self.correct))
        object.__setattr__(self, "incorrect", _strings(self.incorrect))


@dataclass
class Probe:
    """A named list of items; ``check()`` rejects what cannot be scored."""

    name: str
    items: list[Item]
    description: str = ""
    source: str = "built-in"
    meta: dict = field(default_factory=dict)
    scoring: str = "sum"  # "sum": total log-prob; "mean": per token (module docstring)

    def check(self) -> Probe:
        where = f"probe {self.name!r} ({self.source})"
        try:
            check_name("probe", self.name)
        except ValueError as e:
            raise PathdepError(f"{where}: {e}") from None
        if self.scoring not in SCORINGS:
            raise PathdepError(f"{where}: scoring = {self.scoring!r}; use one of {list(SCORINGS)}")
        if not self.items:
            raise PathdepError(f"{where} has no items; give at least one [[items]] entry")
        for i, it in enumerate(self.items):
            if not it.correct or not it.incorrect:
                raise PathdepError(f"{where}, item {i}: needs at least one correct and one "
                                   "incorrect continuation")
            if any(not c for c in it.correct + it.incorrect):
                raise PathdepError(f"{where}, item {i}: a continuation is empty")
            if set(it.correct) & set(it.incorrect):
                raise PathdepError(f"{where}, item {i}: {sorted(set(it.correct) & set(it.incorrect))} "
                                   "is both correct and incorrect")
        return self


def _strings(v) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list | tuple) or not all(isinstance(s, str) for s in v):
        raise PathdepError(f"a continuation must be a string or a list of strings, got {v!r}")
    return tuple(v)


def _item(d: dict, where: str) -> Item:
    if not isinstance(d, dict):
        raise PathdepError(f"{where}: an item must be a table/object, got {d!r}")
    missing = {"prompt", "correct", "incorrect"} - set(d)
    extra = set(d) - {"prompt", "correct", "incorrect", "id"}
    if missing or extra:
        raise PathdepError(f"{where}: an item has keys prompt, correct, incorrect (and id); "
                           f"missing {sorted(missing)}, unknown {sorted(extra)}")
    return Item(str(d["prompt"]), d["correct"], d["incorrect"], str(d.get("id", "")))


def load_probe_file(path: str | Path) -> Probe:
    """A user probe from a ``.toml`` or ``.jsonl`` file (formats in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise PathdepError(f"probe file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise PathdepError(f"{path} is not valid TOML: {e}") from None
        items = [_item(x, f"{path} item {i}") for i, x in enumerate(d.get("items", []))]
        return Probe(str(d.get("name", path.stem)), items, str(d.get("description", "")),
                     str(path), scoring=str(d.get("scoring", "sum"))).check()
    if path.suffix == ".jsonl":
        return _jsonl(path, text)
    raise PathdepError(f"probe file {path}: use a .toml or .jsonl file")


def _jsonl(path: Path, text: str) -> Probe:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise PathdepError(f"{path} line {n} is not JSON: {e}") from None
    head = rows.pop(0) if rows and isinstance(rows[0], dict) and "prompt" not in rows[0] else {}
    items = [_item(x, f"{path} item {i}") for i, x in enumerate(rows)]
    return Probe(str(head.get("name", path.stem)), items, str(head.get("description", "")),
                 str(path), scoring=str(head.get("scoring", "sum"))).check()

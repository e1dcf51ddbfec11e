"""The one list of data generators: the ``[data] generator`` choices and their config classes.

    pathdep.data.registry.get("world").config     # WorldConfig
    [e.name for e in pathdep.data.registry.entries()]

``pathdep.data.generate`` dispatches through this list; the contract test
(tests/data/test_registry.py) runs every entry on a tiny config.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from pathdep.data import markov, repeat_copy, text, world
from pathdep.data.base import Corpus, Split
from pathdep.data.world_config import WorldConfig
from pathdep.errors import PathdepError


@dataclass(frozen=True)
class Generator:
    """One ``[data] generator``: its name, options, corpus builder and declared vocabulary.

    ``vocab(cfg)`` is the set of whitespace-separated tokens the generator
    writes, for generators with a closed vocabulary (None for open text).
    """

    name: str
    config: type[BaseModel]
    generate: Callable[[BaseModel, Split], Corpus]
    description: str
    vocab: Callable[[BaseModel], set[str]] | None = None


REGISTRY: dict[str, Generator] = {g.name: g for g in [
    Generator("world", WorldConfig, world.generate,
              "synthetic English-like language with ground truth"),
    Generator("markov-mixture", markov.MarkovConfig, markov.generate,
              "the mixture of Markov chains of Park et al. (2025)",
              vocab=lambda cfg: {f"s{i}" for i in range(cfg.k)}),
    Generator("repeat-copy", repeat_copy.RepeatCopyConfig, repeat_copy.generate,
              "random symbols whose first 3/8 is written again later (induction heads form)",
              vocab=lambda cfg: {f"c{i}" for i in range(cfg.n_symbols)}),
    Generator("text", text.TextConfig, text.generate_text, "a user's .txt / .jsonl file"),
    Generator("hf-dataset", text.HFDatasetConfig, text.generate_hf,
              "a Hugging Face dataset (hub name or save_to_disk folder)"),
]}


def entries() -> list[Generator]:
    """Every registered generator, in registration order."""
    return list(REGISTRY.values())


def get(name: str) -> Generator:
    """The generator called ``name``; an unknown name is refused with the nearest one."""
    try:
        return REGISTRY[name]
    except KeyError:
        near = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise PathdepError(f"unknown data generator {name!r}{hint}; choose one of: "
                           f"{', '.join(REGISTRY)}") from None


def config_classes() -> tuple[type[BaseModel], ...]:
    """The config class of every generator, in registration order (the ``[data]`` union)."""
    return tuple(g.config for g in REGISTRY.values())

"""Outcome extractors: map a sampled continuation (text) to a categorical outcome.

An extractor spec is one of
  * a built-in name: ``first_word``, ``last_word``, ``number``, ``world_fact``;
  * ``re:PATTERN``: the first capture group (else the whole match) of the
    *last* match of PATTERN in the text;
  * ``module:function``: a Python function ``f(text: str) -> str | None``.
No match gives the outcome ``"none"``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from pathdep.errors import PathdepError

Extractor = Callable[[str], str]
NONE = "none"
_WORD = re.compile(r"[A-Za-z0-9']+")


def _first_word(text: str) -> str:
    m = _WORD.search(text)
    return m.group(0).lower() if m else NONE


def _last_word(text: str) -> str:
    words = _WORD.findall(text)
    return words[-1].lower() if words else NONE


def _number(text: str) -> str:
    m = re.search(r"-?\d+", text)
    return m.group(0) if m else NONE


def _world_fact(text: str) -> str:
    """A world fact prompt ends before the value: the value is the first word."""
    return _first_word(text)


BUILTINS: dict[str, Extractor] = {"first_word": _first_word, "last_word": _last_word,
                                  "number": _number, "world_fact": _world_fact}


def _regex(pattern: str) -> Extractor:
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise PathdepError(f"extractor regex {pattern!r} does not compile ({e}); fix the "
                           "pattern after 're:'") from e

    def extract(text: str) -> str:
        ms = list(rx.finditer(text))
        if not ms:
            return NONE
        m = ms[-1]
        return m.group(1) if rx.groups else m.group(0)

    return extract


def _function(spec: str) -> Extractor:
    mod, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as e:
        raise PathdepError(f"extractor {spec!r}: cannot import {attr!r} from module {mod!r} "
                           f"({e}); give 'module:function' of an importable module") from e

    def extract(text: str) -> str:
        out = fn(text)
        return NONE if out is None else str(out)

    return extract


def get_extractor(spec: str | Extractor) -> Extractor:
    """The extractor a spec names (see the module docstring); a callable passes through."""
    if callable(spec):
        return spec
    if spec in BUILTINS:
        return BUILTINS[spec]
    if spec.startswith(("re:", "regex:")):
        return _regex(spec.split(":", 1)[1])
    if re.fullmatch(r"[\w.]+:\w+", spec):
        return _function(spec)
    raise PathdepError(f"unknown extractor {spec!r}: use one of {sorted(BUILTINS)}, "
                       "'re:PATTERN' or 'module:function'")

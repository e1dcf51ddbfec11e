"""The one tokenizer of a suite: every run's must agree, unless the user names one.

Runs agree when their tokenizers have the same vocabulary (token -> id) and
encode a sample of the evaluation text to the same ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pathdep.data.tokenizer import load_tokenizer_from
from pathdep.errors import PathdepError
from pathdep.models import load_tokenizer
from pathdep.suites.model import Run, Suite

log = logging.getLogger(__name__)


def _location(run: Run) -> str:
    if run.tokenizer:
        return run.tokenizer
    c = run.checkpoints[-1] if run.checkpoints else None
    return (c.path or f"{c.repo}@{c.revision}") if c else run.id


def _load_run_tokenizer(run: Run):
    """The run's tokenizer; with none of its own, the newest checkpoint that has one."""
    if run.tokenizer or not run.checkpoints:
        return load_tokenizer(run)
    last = None
    for ckpt in reversed(run.checkpoints):
        try:
            return load_tokenizer(run, ckpt)
        except PathdepError as e:
            last = e
    raise last  # type: ignore[misc]


def _fingerprint(tok, sample: Sequence[str]) -> tuple:
    enc = tuple(tuple(tok(s, add_special_tokens=False)["input_ids"]) for s in sample)
    return tuple(sorted(tok.get_vocab().items())), enc


def suite_tokenizer(suite: Suite, name: str | None, sample: Sequence[str]):
    """(tokenizer, its name): the named one, or the suite's after checking all runs agree."""
    if name:
        return load_tokenizer_from(name), name
    groups: dict[tuple, tuple[object, str, list[str]]] = {}
    by_location: dict[str, tuple] = {}
    for run in suite.runs:
        loc = _location(run)
        if loc not in by_location:
            try:
                tok = _load_run_tokenizer(run)
            except PathdepError as e:
                log.warning("run %s: no tokenizer could be loaded (%s); its jobs will fail", run.id, e)
                continue
            by_location[loc] = (_fingerprint(tok, sample[:20]), tok)
        key, tok = by_location[loc]
        groups.setdefault(key, (tok, loc, []))[2].append(run.id)
    if not groups:
        raise PathdepError(f"no run of suite {suite.name!r} has a loadable tokenizer; pass --tokenizer")
    if len(groups) > 1:
        desc = "; ".join(f"{loc} for runs {', '.join(ids[:5])}" for _, loc, ids in groups.values())
        raise PathdepError(
            f"the runs of suite {suite.name!r} use different tokenizers ({desc}); their "
            "log-probs would not be comparable. Measure them separately (--runs), or name one "
            "tokenizer for all (tokenizer=PATH, --tokenizer PATH)"
        )
    tok, loc, _ = next(iter(groups.values()))
    return tok, loc

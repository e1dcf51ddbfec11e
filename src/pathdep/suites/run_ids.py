"""Run ids given by the user (``--run``, ``--runs``, ``base``): every one must name a run.

A typo must not narrow the work to nothing and succeed: an id (or glob pattern)
that matches no run is an error that names the nearest run id.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence

from pathdep.errors import PathdepError

_GLOB = set("*?[")


def unknown_run_message(given: str, ids: Sequence[str], where: str) -> str:
    """'no run X in WHERE; did you mean Y?' with the nearest id (difflib), or the ids there are."""
    near = difflib.get_close_matches(given, list(ids), n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    shown = ", ".join(list(ids)[:20]) + (" ..." if len(ids) > 20 else "")
    return f"no run {given!r} in {where}{hint} (its runs: {shown or 'none'})"


def match_run_ids(patterns: Iterable[str], ids: Sequence[str], where: str) -> list[str]:
    """The ids matched by ``patterns`` (exact ids or glob patterns), in the order of ``ids``.

    Raises PathdepError naming the nearest id for the first pattern that matches nothing.

    >>> match_run_ids(["seed0-*"], ["seed0-data0", "seed1-data0", "seed0-data1"], "suite 's'")
    ['seed0-data0', 'seed0-data1']
    >>> match_run_ids(["seed0-dta0"], ["seed0-data0", "seed1-data0"], "suite 's'")
    Traceback (most recent call last):
    ...
    pathdep.errors.PathdepError: no run 'seed0-dta0' in suite 's'; did you mean 'seed0-data0'? (its runs: seed0-data0, seed1-data0)
    """
    patterns = [str(p) for p in patterns]
    hit: set[str] = set()
    for p in patterns:
        found = ({i for i in ids if fnmatch.fnmatchcase(i, p)} if _GLOB & set(p)
                 else {p} & set(ids))
        if not found:
            raise PathdepError(unknown_run_message(p, ids, where))
        hit |= found
    return [i for i in ids if i in hit]

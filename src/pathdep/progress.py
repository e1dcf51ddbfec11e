"""Progress bars for long work, shown only when the command line turns them on.

Library code calls :func:`bar`; it is silent unless :func:`enable` was called
(the ``pathdep`` command does), so notebooks and tests stay quiet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_state = {"enabled": False, "progress": None}


def enable(on: bool = True) -> None:
    """Show progress bars from now on (the command line calls this)."""
    _state["enabled"] = on


class _Bar:
    """A handle on one task of the live progress display (or a silent stand-in)."""

    def __init__(self, progress: Progress | None, task):
        self._p, self._t = progress, task

    def advance(self, n: float = 1, **fields) -> None:
        if self._p is not None:
            self._p.update(self._t, advance=n, **fields)

    def update(self, **fields) -> None:
        if self._p is not None:
            self._p.update(self._t, **fields)


@contextlib.contextmanager
def bar(description: str, total: float | None, **fields) -> Iterator[_Bar]:
    """A progress bar with a free-form ``info`` field (e.g. loss, tokens/s)."""
    if not _state["enabled"]:
        yield _Bar(None, None)
        return
    outer = _state["progress"] is None
    if outer:
        _state["progress"] = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            transient=False,
        )
        _state["progress"].start()
    p = _state["progress"]
    task = p.add_task(description, total=total, info=fields.pop("info", ""), **fields)
    try:
        yield _Bar(p, task)
    finally:
        if outer:
            p.stop()
            _state["progress"] = None
        else:
            p.remove_task(task)

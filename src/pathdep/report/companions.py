"""Companion suites: another suite's report linked from this one, with its verdicts quoted.

``pathdep demo`` trains two suites: the world suite, whose report is the demo's page, and a
small induction-head suite (examples/demo_induction.toml), in which every 2-layer run forms
the circuits the world suite at the demo's size does not (BENCHMARKS.md, "Unused tokens
change the circuit"). The demo's page links the second report and quotes its verdicts, each
as it stands in that report's summary (so each number is in that report's tables).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pathdep.errors import PathdepError


def _summary_of(page: Path) -> dict[str, Any]:
    from pathdep.report.build import summary_path  # build imports this module

    path = summary_path(page)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PathdepError(f"companion report {page} has no readable summary ({path}: {e}); "
                           "write it with `pathdep report` first") from e


def companion(page: Path, here: Path) -> dict[str, Any]:
    """What the report at ``here`` shows of the report ``page``: its title, a link relative to
    ``here``'s folder, its suite and run count, and every verdict with its analysis name
    (the circuits section's first)."""
    s = _summary_of(page)
    secs = sorted(s.get("sections", []), key=lambda sec: sec.get("key") != "circuits")
    verdicts = [{"name": a["name"], "question": a.get("question"), "verdict": a["verdict"]}
                for sec in secs for a in sec.get("analyses", [])]
    return {"title": s.get("title") or page.stem, "suite": s.get("suite"),
            "href": os.path.relpath(page.resolve(), here.resolve().parent),
            "n_runs": len(s.get("measured_runs") or s.get("runs") or []), "verdicts": verdicts}


def companions(pages: Sequence[str | Path], here: Path) -> list[dict[str, Any]]:
    """:func:`companion` of each page."""
    return [companion(Path(p), Path(here)) for p in pages]

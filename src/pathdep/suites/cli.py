"""``pathdep audit SUITE``: the command-line shell over :func:`pathdep.suites.audit`.

    pathdep audit pythia-160m --steps 0:4000
    pathdep audit polypythias-160m-decoupled --json audit.json
    pathdep audit runs/quick

Prints a table of findings (duplicate weights within and across runs, broken
lineage, missing revisions) and what could not be checked; ``--json FILE``
writes the whole report. Exit status 0 when the audit ran (findings are not
errors), 2 on bad input (a missing repo, offline with nothing cached).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _split(values: list[str] | None) -> list[str] | None:
    """--runs a,b --runs c -> [a, b, c] (as measure's; suites may not import measure)."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _steps(steps: list[int]) -> str:
    shown = ", ".join(map(str, steps[:8]))
    return shown + (f" ... ({len(steps)})" if len(steps) > 8 else "")


def render(report) -> Table:
    """The findings as a rich table."""
    table = Table(title=escape(f"audit of {report.suite}: {len(report.findings)} findings"))
    for col in ("kind", "run", "steps", "also in", "digest"):
        table.add_column(col, no_wrap=col in ("kind", "digest"), overflow="fold")
    table.add_column("what", overflow="fold", ratio=1, min_width=24)
    for f in report.findings:
        also = "; ".join(f"{o['run']} ({_steps(o['steps'])})" for o in f.others)
        cells = (f.kind, f.run, _steps(f.steps), also, (f.digest or "")[:12],
                 f.detail + (f" [{f.source}]" if f.source else ""))
        table.add_row(*map(escape, cells))
    return table


def audit_cmd(
    suite: Annotated[str, typer.Argument(help="Suite folder, manifest (.json) or preset name.")],
    runs: Annotated[list[str] | None, typer.Option("--runs", help="Run ids or glob patterns (repeat or comma-separate).")] = None,
    steps: Annotated[str | None, typer.Option(help="Steps '0,100,1000' or a range '100:5000'.")] = None,
    every: Annotated[int | None, typer.Option(help="Keep every k-th checkpoint of each run (and the last).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON to this file.")] = None,
    lineage: Annotated[bool, typer.Option(help="Compare weights of local/cached checkpoints to each run's step 0.")] = True,
) -> None:
    """Audit a suite before measuring: duplicate weights, lineage, missing revisions."""
    # deferred: the command line imports this module at start-up
    from pathdep import atomic, progress
    from pathdep.suites.integrity import audit

    progress.enable()
    report = audit(suite, runs=_split(runs), steps=steps, every=every, lineage=lineage)
    out = Console()
    s = report.summary()
    if report.findings:
        out.print(render(report))
    else:
        out.print(f"[green]{escape(f'audit of {report.suite}: no defect found')}[/]")
    out.print(f"{s['runs']} runs, {s['checkpoints']} checkpoints, {s['hashed']} hashed "
              f"({', '.join(f'{n} from {k}' for k, n in s['digest_sources'].items()) or 'none'}), "
              f"{s['unique_weights']} distinct weights", highlight=False)
    for check, note in s["notes"].items():
        out.print(escape(f"  {check}: {note}"), highlight=False, soft_wrap=True)
    for run, row in report.lineage.items():
        if not row.get("checked"):
            out.print(escape(f"  lineage not checked for {run}: {row['why']}"),
                      highlight=False, soft_wrap=True)
    if json_out is not None:
        atomic.write_json(json_out, report.to_dict())
        out.print(escape(f"report -> {json_out}"), highlight=False, soft_wrap=True)

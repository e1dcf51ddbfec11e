"""``pathdep report``: the command-line shell over ``pathdep.report.report``.

    pathdep report runs/demo.zarr -o report.html
"""

from __future__ import annotations

from pathlib import Path

import typer

from pathdep.report.build import report, summary_path


def report_cmd(
    store: Path = typer.Argument(..., help="The measurement store (its results are in STORE.analysis/)."),
    out: Path = typer.Option(None, "-o", "--out",
                             help="Where to write the HTML page [default: STORE.report.html]."),
    title: str = typer.Option(None, "--title", help="Page title [default: from the suite name]."),
) -> None:
    """Write one self-contained HTML report (opens offline) and a JSON summary beside it."""
    page = report(store, out, title=title)
    typer.echo(f"report: {page}")
    typer.echo(f"summary: {summary_path(page)}")

"""``pathdep report STORE``: the command-line shell over :func:`pathdep.report.report`.

    pathdep report runs/demo.zarr                   # -> runs/demo.zarr.report.html
    pathdep report runs/demo.zarr -o report.html --title "Seeds of the demo suite"
    pathdep report pathdep-demo/measurements.zarr -o pathdep-demo/report.html \
        --companion pathdep-demo/induction/report.html   # link and quote another suite's report
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pathdep.report.build import report, summary_path


def report_cmd(
    store: Annotated[Path, typer.Argument(
        help="The measurement store; its analysis results are in STORE.analysis/.")],
    out: Annotated[Path | None, typer.Option(
        "-o", "--out", help="The HTML page to write, or a folder for it "
        "(default: STORE.report.html).")] = None,
    title: Annotated[str | None, typer.Option(
        "--title", help="Page title (default: from the suite name).")] = None,
    companion: Annotated[list[Path] | None, typer.Option(
        "--companion", help="Another suite's report page to link and quote (repeatable; "
        "`pathdep demo` links its induction suite).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the report does.")] = False,
) -> None:
    """Write one self-contained HTML report (opens offline) and a JSON summary beside it."""
    # -v is set up by the command line (pathdep.cli.with_verbose), like every command's
    page = report(store, out, title=title, companions=companion or ())
    typer.echo(f"report: {page}")
    typer.echo(f"summary: {summary_path(page)}")

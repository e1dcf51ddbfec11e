"""``pathdep analyze STORE``: a thin shell over ``pathdep.analyze.analyze``.

    pathdep analyze runs/demo/store.zarr
    pathdep analyze runs/demo/store.zarr --only agreement --only cka --step 512
    pathdep analyze --list

The lead registers it with ``app.command("analyze")(analyze_cmd)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pathdep.errors import PathdepError


def analyze_cmd(
    store: Annotated[Path | None, typer.Argument(
        help="The measurement store (Zarr folder) to analyse.")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", "-o", help="Run only this analysis (repeatable); see --list.")] = None,
    step: Annotated[int | None, typer.Option(
        help="Step for single-step analyses (agreement, cka); default: the last step most runs "
             "have.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder; default <store>.analysis beside the store.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per interval.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and token sampling.")] = 0,
    force: Annotated[bool, typer.Option(
        "--force", help="Recompute results even where the saved ones match the store.")] = False,
    list_analyses: Annotated[bool, typer.Option(
        "--list", help="List the analyses and the question each answers, then exit.")] = False,
) -> None:
    """Answer the path-dependence questions from a measurement store; write results beside it."""
    from pathdep.analyze.registry import ANALYSES

    if list_analyses:
        for a in ANALYSES:
            typer.echo(f"{a.name:18} {a.question}")
        return
    if store is None:
        raise PathdepError("give the store to analyse: pathdep analyze STORE (or --list)")
    from pathdep.analyze.runner import analyze, default_out

    results = analyze(store, out=out, names=only, step=step, n_boot=n_boot, seed=seed,
                      reuse=not force)
    for name, res in results.items():
        typer.echo(f"{name}: {res.verdict}")
    typer.echo(f"results in {out or default_out(store)}")

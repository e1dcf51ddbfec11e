"""``pathdep barriers SUITE``: loss barriers, instability analysis and basins (pathdep.lmc).

    pathdep barriers runs/branching
    pathdep barriers runs/branching --store runs/branching/measurements.zarr --n-sequences 32
    pathdep barriers runs/demo --run 'seed*' --step 512 --threshold 0.05

The lead registers it with ``app.command("barriers")(barriers_cmd)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pathdep.errors import PathdepError


def barriers_cmd(
    suite: Annotated[Path, typer.Argument(help="The trained suite folder (or a manifest or preset, with --store).")],
    store: Annotated[Path | None, typer.Option(
        help="Measurement store with the evaluation tokens (and behaviour); default "
             "SUITE/measurements.zarr, else the suite's own evaluation split.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output folder; default <store>.analysis beside the store.")] = None,
    n_sequences: Annotated[int, typer.Option(
        help="Evaluation sequences the losses are computed on (the first N of the store).")] = 16,
    n_alphas: Annotated[int, typer.Option(
        help="Points of the α grid in [0, 1], endpoints included (Frankle et al. used 30, "
             "Juneja et al. 22).")] = 11,
    threshold: Annotated[float | None, typer.Option(
        help="Barrier (nats) below which runs count as linearly connected; default "
             "--rel-threshold times the mean endpoint loss.")] = None,
    rel_threshold: Annotated[float, typer.Option(
        help="Default threshold as a fraction of the mean endpoint loss (Frankle et al.'s 2% "
             "rule, adapted from error to loss).")] = 0.02,
    run: Annotated[list[str] | None, typer.Option(
        "--run", "-r", help="Runs for the basin matrix (id or glob; repeatable); default all.")
    ] = None,
    step: Annotated[int | None, typer.Option(
        help="Step of the basin matrix; default the last step all chosen runs have.")] = None,
    max_runs: Annotated[int, typer.Option(
        help="At most this many runs in the basin matrix (evenly spread).")] = 16,
    batch_size: Annotated[int, typer.Option(help="Sequences per forward pass.")] = 8,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per interval.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Loss barriers between checkpoints: instability over branch steps, and basins of runs."""
    from pathdep.lmc.analysis import lmc

    if n_sequences < 1:
        raise PathdepError(f"--n-sequences must be at least 1, not {n_sequences}")
    if batch_size < 1:
        raise PathdepError(f"--batch-size must be at least 1, not {batch_size}")
    from pathdep.lmc.analysis import default_store
    from pathdep.suites import load_suite

    loaded = load_suite(suite)
    options = dict(n_sequences=n_sequences, n_alphas=n_alphas, threshold=threshold,
                   rel_threshold=rel_threshold, max_runs=max_runs, batch_size=batch_size,
                   n_boot=n_boot, seed=seed)
    if run:
        options["runs"] = run
    if step is not None:
        options["step"] = step
    results = lmc(loaded, store, out, **options)
    if not results:
        raise PathdepError(
            f"suite {suite} has no branch pairs (branch runs differing only in data_seed) and "
            "fewer than 3 runs: there is nothing to compare; branch runs from several steps "
            "with two data seeds each, or pass --run for the basin matrix")
    for name, res in results.items():
        typer.echo(f"{name}: {res.verdict}")
    where = out or Path(f"{store if store is not None else default_store(loaded)}.analysis")
    typer.echo(f"results in {where}")

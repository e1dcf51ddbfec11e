"""The analysis commands: thin shells over ``analyze`` and the functions of ``analyze.verbs``.

    pathdep analyze runs/demo/measurements.zarr
    pathdep analyze STORE --only agreement --only cka --step 512 --set cka.debiased=true
    pathdep analyze --list [-v]
    pathdep barriers runs/branching --n-sequences 32
    pathdep rl runs/spell --seeds 0,1,2,3 --steps 50
    pathdep forking runs/demo --prompt "The capital of Zorvia is" --n 30
    pathdep prompts runs/demo --prompts english --temperature 0.7 --temperature 1.0

The flags of ``barriers``, ``rl``, ``forking`` and ``prompts`` are generated from
the analyses' option classes (:mod:`pathdep.analysis.flags`), so ``--help`` shows
each option's description and default. Light at import: the command line reads
this module when it starts, the analyses load when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pathdep.analysis.flags import coerce, parse_assignments, with_options
from pathdep.errors import PathdepError
from pathdep.lmc.options import BasinsOptions, InstabilityOptions
from pathdep.prompts.options import ForkingOptions, PromptDependenceOptions
from pathdep.rl.options import RLOptions

SUITE = typer.Argument(help="Suite folder, manifest, or preset name.")
OUT = typer.Option("--out", "-o", help="Analysis folder (results go in OUT/<name>/); default "
                   "<store>.analysis beside the suite's store.")


def _list(verbose: bool) -> None:
    # deferred: the command line imports this module at start-up; analyses load when run
    from pathdep.analyze.registry import ANALYSES

    for a in ANALYSES:
        alone = "" if a.command == "analyze" else f" (`pathdep {a.command}`)"
        when = "" if a.default else " [only when named]"
        typer.echo(f"{a.name:18} {a.question}{alone}{when}")
        if verbose:
            typer.echo(f"{'':18}   reads {a.inputs.describe()}; report section {a.section!r}")
            for k, f in a.options.model_fields.items():
                typer.echo(f"{'':18}   --set {a.name}.{k}={f.default!r}: {f.description}")


def analyze_cmd(
    store: Annotated[Path | None, typer.Argument(
        help="The measurement store (Zarr folder) to analyse.")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Run only this analysis (repeatable); see --list.")] = None,
    step: Annotated[int | None, typer.Option(
        help="Step for single-step analyses (agreement, cka); default: the last step most runs "
             "have.")] = None,
    out: Annotated[Path | None, OUT] = None,
    suite: Annotated[Path | None, typer.Option(
        help="The suite, for the analyses that load checkpoints; default the suite folder that "
             "holds the store.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per interval.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and token sampling.")] = 0,
    assign: Annotated[list[str] | None, typer.Option(
        "--set", help="An analysis's own option, ANALYSIS.OPTION=VALUE (repeatable; "
                      "`--list -v` lists them).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Recompute results even where the saved ones match the store.")] = False,
    workers: Annotated[int, typer.Option(
        min=1, help="Worker processes computing analyses side by side (one torch thread "
                    "each on 2 cores); 1: in this process.")] = 1,
    list_analyses: Annotated[bool, typer.Option(
        "--list", help="List the analyses and the question each answers, then exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what each analysis does; "
                                          "with --list, also its inputs and options.")] = False,
) -> None:
    """Answer the path-dependence questions from a measurement store; write results beside it."""
    if list_analyses:
        _list(verbose)
        return
    if store is None:
        raise PathdepError("give the store to analyse: pathdep analyze STORE (or --list)")
    # deferred: the command line imports this module at start-up; analyses load when run
    from pathdep.analyze.registry import get
    from pathdep.analyze.runner import analyze, default_out

    per = {name: coerce(get(name).options, vals) for name, vals in
           parse_assignments(assign).items()}
    results = analyze(store, out=out, names=only, step=step, suite=suite, n_boot=n_boot,
                      seed=seed, options=per, reuse=not force, workers=workers)
    for name, res in results.items():
        typer.echo(f"{name}: {res.verdict}")
    for name, why in results.skipped.items():
        typer.echo(f"{name}: skipped ({why})")
    typer.echo(f"results in {out or default_out(store)}")


def _echo(results, out, suite_root) -> None:
    for name, res in results.items():
        typer.echo(f"{name}: {res.verdict}")
    where = out or Path(suite_root or ".") / "measurements.zarr.analysis"
    typer.echo(f"results in {where}")


@with_options(InstabilityOptions, BasinsOptions)
def barriers_cmd(
    suite: Annotated[Path, typer.Argument(help="The trained suite folder (or a manifest or "
                                          "preset, with --store).")],
    store: Annotated[Path | None, typer.Option(
        help="Measurement store with the evaluation tokens (and behaviour); default "
             "SUITE/measurements.zarr, else the suite's own evaluation split.")] = None,
    out: Annotated[Path | None, OUT] = None,
    options: dict | None = None,
) -> None:
    """Loss barriers between checkpoints: instability over branch steps, and basins of runs."""
    # deferred: the command line imports this module at start-up; analyses load when run
    from pathdep.analyze.verbs import barriers
    from pathdep.suites import load_suite

    loaded = load_suite(suite)
    results = barriers(loaded, store, out, **(options or {}))
    if not results:
        reasons = "; ".join(f"{k}: {v}" for k, v in results.skipped.items())
        raise PathdepError(f"suite {suite} has nothing to compare ({reasons}); branch runs from "
                           "several steps with two data seeds each, or pass --runs for the "
                           "basin matrix")
    _echo(results, out, loaded.root)


@with_options(RLOptions)
def rl_cmd(
    suite: Annotated[Path, typer.Argument(
        help="A trained world suite folder (data.spelling_variants > 0).")],
    out: Annotated[Path | None, OUT] = None,
    options: dict | None = None,
) -> None:
    """Fine-tune one checkpoint with RL across seeds; compare the spread with pre-training's.

    Options not given come from the suite spec's [rl] section.
    """
    # deferred: the command line imports this module at start-up; analyses load when run
    from pathdep.analyze.verbs import rl
    from pathdep.suites import load_suite

    loaded = load_suite(suite)
    res = rl(loaded, out, **(options or {}))
    _echo({res.name: res}, out, loaded.root)


@with_options(ForkingOptions)
def forking_cmd(suite: Annotated[str, SUITE], out: Annotated[Path | None, OUT] = None,
                options: dict | None = None) -> None:
    """Find forking tokens: indices where resampling one token changes the outcome."""
    # deferred: the command line imports this module at start-up; analyses load when run
    from pathdep.analyze.verbs import forking

    res = forking(suite, out, **(options or {}))
    typer.echo(res.verdict)
    typer.echo(res.tables["forks"].to_string(index=False))


@with_options(PromptDependenceOptions)
def prompts_cmd(suite: Annotated[str, SUITE], out: Annotated[Path | None, OUT] = None,
                options: dict | None = None) -> None:
    """How output divergence splits into prompt variant, training run, temperature and noise."""
    # deferred: the command line imports this module at start-up; analyses load when run
    from pathdep.analyze.verbs import prompts

    res = prompts(suite, out, **(options or {}))
    typer.echo(res.verdict)

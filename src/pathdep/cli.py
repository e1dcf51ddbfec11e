"""The ``pathdep`` command: one verb per stage, each a thin shell over a Python function.

    pathdep demo                      train, measure, analyse and report the demo suite
    pathdep validate SPEC             check a spec without running it
    pathdep train SPEC --out DIR      train a suite
    pathdep run SPEC --out DIR        every stage of a spec
    pathdep suites                    the public suite presets
    pathdep audit SUITE               duplicate weights, lineage, missing revisions
    pathdep ls probes                 the behaviour probes
    pathdep barriers SUITE            loss barriers: instability and basins
    pathdep rl SUITE                  RL fine-tuning across RL seeds
    pathdep migrate STORE             convert an older store to the current format

Bad input prints one clear message and exits with status 2.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
import typing
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from pathdep import atomic, progress
from pathdep.analyze.cli import analyze_cmd, barriers_cmd, forking_cmd, prompts_cmd, rl_cmd
from pathdep.errors import PathdepError
from pathdep.measure.cli import measure_cmd
from pathdep.report.cli import report_cmd
from pathdep.suites.cli import audit_cmd

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Measure how path-dependent neural-network training is.")
console = Console(stderr=True)


def _setup(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)], force=True)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass
    progress.enable(sys.stderr.isatty() or verbose)


#: Optional dependencies (import name -> the pathdep extra that installs it).
EXTRAS = {"ray": "ray"}


def missing_dependency(e: ModuleNotFoundError) -> str:
    """What to install for a module that is not there: an extra, or the package itself."""
    top = (e.name or "").partition(".")[0]
    if top in EXTRAS:
        return f"this command needs {top}, an optional dependency: install pathdep[{EXTRAS[top]}] (pip install 'pathdep[{EXTRAS[top]}]')"
    return (f"this command needs the module {top!r}, which is not installed; reinstall pathdep "
            "with its dependencies (pip install pathdep)")


RESUME = ("interrupted: what is done is kept (every finished checkpoint, measured job and "
          "saved analysis); run the same command again to resume from there")


def friendly(fn):
    """Turn PathdepError (and a missing dependency) into one red line and exit status 2;
    Ctrl-C (SIGINT) into how to resume, exit status 130."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            console.print(f"\n[bold yellow]{RESUME}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except PathdepError as e:
            _fail(str(e))
        except ModuleNotFoundError as e:
            if not e.name or e.name.partition(".")[0] == "pathdep":
                raise
            _fail(missing_dependency(e))
    return wrapper


def _fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {_esc(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2) from None


def _esc(s: str) -> str:
    from rich.markup import escape

    return escape(s)


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log what each stage does.")]


def with_verbose(fn):
    """Give a command ``-v/--verbose`` (log what it does), unless it declares its own."""
    sig = inspect.signature(fn)
    if "verbose" in sig.parameters:
        @functools.wraps(fn)
        def own(*args, **kwargs):
            _setup(bool(kwargs.get("verbose")))
            return fn(*args, **kwargs)
        return own

    @functools.wraps(fn)
    def command(*args, verbose: bool = False, **kwargs):
        _setup(verbose)
        return fn(*args, **kwargs)

    hints = typing.get_type_hints(fn, include_extras=True)  # resolve string annotations
    params = [p.replace(annotation=hints.get(p.name, p.annotation))
              for p in sig.parameters.values()]
    params.append(inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False,
                                    annotation=Verbose))
    command.__signature__ = sig.replace(parameters=params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    del command.__wrapped__  # typer must read the new signature
    return command


@app.command()
@friendly
def validate(spec: Annotated[Path, typer.Argument(help="A TOML spec.")],
             verbose: Verbose = False):
    """Check a spec without running it; list its runs."""
    _setup(verbose)
    from pathdep.spec import load_spec
    from pathdep.train.grid import expand_grid

    s = load_spec(spec)
    if s.report.analyses:
        from pathdep.pipeline import check_analyses

        check_analyses(s)
    plans = expand_grid(s)
    table = Table(title=f"{s.name}: {len(plans)} runs")
    for col in ("run", "factors", "checkpoints"):
        table.add_column(col)
    for p in plans:
        n = len(p.checkpoint_steps())
        table.add_row(p.id, ", ".join(f"{k}={v}" for k, v in p.factors.items()), str(n))
    Console().print(table)
    Console().print(f"[green]{spec} is valid.[/]")


@app.command()
@friendly
def train(spec: Annotated[Path, typer.Argument(help="A TOML spec.")],
          out: Annotated[Path, typer.Option("--out", "-o", help="Suite folder to write.")],
          runs: Annotated[list[str] | None, typer.Option(
              "--runs", "--run", help="Only these run ids (repeat or comma-separate).")] = None,
          executor: Annotated[str, typer.Option(help="inprocess, processes (one worker per core) or ray.")] = "inprocess",
          address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
          verbose: Verbose = False):
    """Train every run of a spec's grid into OUT (resumes if OUT holds this suite)."""
    from pathdep.train import train as train_fn

    _setup(verbose)
    wanted = [r.strip() for item in runs or [] for r in item.split(",") if r.strip()] or None
    suite = train_fn(spec, out, runs=wanted, executor=executor, address=address)
    Console().print(f"trained {len(suite.runs)} runs, {suite.n_checkpoints} checkpoints -> {out}")


def _print_made(made: dict) -> None:
    for k, v in made.items():
        Console().print(f"{k:>9}: {v}")


@app.command()
@friendly
def run(spec: Annotated[Path, typer.Argument(help="A TOML spec.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for everything.")],
        executor: Annotated[str, typer.Option(help="inprocess, processes (one worker per core) or ray.")] = "inprocess",
        address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
        verbose: Verbose = False):
    """Every stage of a spec: train, measure, analyse, report."""
    from pathdep.pipeline import run as run_fn

    _setup(verbose)
    _print_made(run_fn(spec, out, executor=executor, address=address))


@app.command()
@friendly
def demo(out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo.")] = Path("pathdep-demo"),
         verbose: Verbose = False):
    """The built-in demo suite end to end (examples/demo.toml); reruns reuse what is done."""
    from pathdep.pipeline import demo as demo_fn

    _setup(verbose)
    _print_made(demo_fn(out))


@app.command()
@friendly
@with_verbose
def suites():
    """List the public suite presets with run and checkpoint counts."""
    from pathdep.suites import presets

    table = Table(title="suite presets (load with pathdep.load_suite(NAME))")
    for col in ("name", "kind", "runs", "checkpoints", "description"):
        table.add_column(col)
    for p in presets.list_presets():
        table.add_row(p["name"], p["kind"], str(p["n_runs"]), str(p["n_checkpoints"]), p["description"])
    Console().print(table)


@app.command("ls")
@friendly
@with_verbose
def ls(what: Annotated[str, typer.Argument(help="What to list: probes.")]):
    """List registered plugins (``pathdep ls probes``)."""
    if what != "probes":
        raise PathdepError(f"cannot list {what!r}; `pathdep ls probes` is what there is")
    from pathdep.probes import list_probes

    table = Table(title="behaviour probes (measure.probes; 'auto' picks a suite's battery)")
    for col in ("name", "battery", "description"):
        table.add_column(col)
    for e in list_probes():
        table.add_row(e.name, e.battery, e.description)
    Console().print(table)


@app.command()
@friendly
def calibrate(
    analysis: Annotated[list[str] | None, typer.Option(
        "--analysis", help="Only this analysis (repeatable); default every calibrated one.")] = None,
    runs: Annotated[list[int] | None, typer.Option(
        "--runs", help="Suite sizes (repeatable). [default: 4, 8, 16]")] = None,
    reps: Annotated[int, typer.Option(help="Simulated suites per size, null and planted each.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the simulations.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Also write the table to this file (.json or .md).")] = None,
    verbose: Verbose = False):
    """False-positive rate and power of each verdict on simulated suites of 4, 8 and 16 runs."""
    # deferred: the command line starts without loading the analyses
    from pathdep.calibrate import SIZES, markdown
    from pathdep.calibrate import calibrate as calibrate_fn

    _setup(verbose)
    progress.enable(True)
    rows = calibrate_fn(analysis, runs or SIZES, reps, seed)
    text = (json.dumps([r.to_dict() for r in rows], indent=1) if as_json or
            (out is not None and out.suffix == ".json") else markdown(rows))
    if out is not None:
        atomic.write_text(out, text + "\n")
    Console().print(text if as_json else markdown(rows), highlight=False, soft_wrap=True)


@app.command()
@friendly
def migrate(store: Annotated[Path, typer.Argument(help="The measurement store (a .zarr folder).")],
            verbose: Verbose = False):
    """Convert a store written by an earlier pathdep to the current format, in place (no re-measuring)."""
    from pathdep.store import STORE_FORMAT
    from pathdep.store import migrate as migrate_store

    _setup(verbose)
    done = "converted to" if migrate_store(store) else "already in"
    Console().print(f"{store}: {done} store format {STORE_FORMAT}", highlight=False, soft_wrap=True)


# Every command is registered here, statically: an import that fails is an error
# at once, never a command that silently vanishes. One vocabulary: -o/--out for
# outputs, --runs/--steps for narrowing, -v/--verbose everywhere.
app.command("audit")(friendly(with_verbose(audit_cmd)))
app.command("measure")(friendly(with_verbose(measure_cmd)))
app.command("analyze")(friendly(with_verbose(analyze_cmd)))
app.command("report")(friendly(with_verbose(report_cmd)))
app.command("barriers")(friendly(with_verbose(barriers_cmd)))
app.command("rl")(friendly(with_verbose(rl_cmd)))
app.command("forking")(friendly(with_verbose(forking_cmd)))
app.command("prompts")(friendly(with_verbose(prompts_cmd)))


if __name__ == "__main__":
    app()

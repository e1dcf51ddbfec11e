"""``pathdep measure SUITE --out STORE``: the command-line shell over :func:`measure`.

    pathdep measure runs/quick --out runs/quick/measure.zarr
    pathdep measure pythia-70m --eval eval.txt --out p70.zarr --steps 0:2000 --executor ray

Exit status: 0 when every job is stored, 1 when some jobs failed (the summary
names them and why), 2 on bad input (PathdepError) before any job ran: among
them a hub revision that does not exist, and checkpoints of different runs
with identical weights unless ``--allow-duplicates``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pathdep.errors import PathdepError


def _split(values: list[str] | None) -> list[str] | None:
    """--runs a,b --runs c -> [a, b, c]."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def measure_cmd(
    suite: Annotated[str, typer.Argument(help="Suite folder, manifest (.json) or preset name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The store to create or complete (a .zarr folder).")],
    evalset: Annotated[str | None, typer.Option(
        "--eval", help="Evaluation text: a .txt/.jsonl file, a dataset folder or hf:NAME[:CONFIG][@SPLIT]; default: the suite generator's held-out split.")] = None,
    executor: Annotated[str, typer.Option(help="Where jobs run: inprocess, processes (one worker per core) or ray.")] = "inprocess",
    address: Annotated[str | None, typer.Option(help="Ray cluster address; default: start a local instance.")] = None,
    runs: Annotated[list[str] | None, typer.Option("--runs", help="Run ids or glob patterns (repeat or comma-separate).")] = None,
    steps: Annotated[str | None, typer.Option(help="Steps '0,100,1000' or a range '100:5000'.")] = None,
    every: Annotated[int | None, typer.Option(help="Keep every k-th checkpoint of each run (and the last).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Sequences per forward pass.")] = None,
    context: Annotated[int | None, typer.Option(help="Tokens per evaluation sequence.")] = None,
    sequences: Annotated[int | None, typer.Option(help="Evaluation sequences.")] = None,
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer for all runs (needed when runs disagree).")] = None,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs of a local Ray instance.")] = None,
    probes: Annotated[list[str] | None, typer.Option(
        "--probes", help="Behaviour probes: auto, none, or names/batteries/.toml/.jsonl files (`pathdep ls probes`).")] = None,
    allow_pickle: Annotated[bool, typer.Option(help="Load pickled (.bin) checkpoints you trust.")] = False,
    device: Annotated[str | None, typer.Option(help="cpu (default), cuda, cuda:N, mps, or auto (a CUDA GPU, else MPS, else CPU).")] = None,
    dtype: Annotated[str | None, typer.Option(help="Weights: auto (bfloat16 on a GPU that has it, else float32), float32, bfloat16, float16.")] = None,
    keep_cache: Annotated[bool, typer.Option(help="Keep hub checkpoints this call downloads in the Hugging Face cache (default: remove each once stored).")] = False,
    cache_budget: Annotated[float | None, typer.Option(help="GB of Hugging Face cache the downloaded, not yet stored checkpoints may fill.")] = None,
    prefetch: Annotated[int, typer.Option(help="Hub checkpoints downloaded ahead of the one being measured.")] = 1,
    allow_duplicates: Annotated[bool, typer.Option(help="Measure checkpoints of different runs that hold identical weights (`pathdep audit` finds them); the store records them.")] = False,
) -> None:
    """Measure every checkpoint of a suite (log-probs, head scores, ICL score, hidden states)."""
    # deferred: the command line imports this module at start-up; measure loads when run
    from pathdep import progress
    from pathdep.measure.api import default_options, measure
    from pathdep.suites import load_suite

    progress.enable()
    try:
        full = load_suite(suite)
        cfg = default_options(full, batch_size=batch_size, context=context,
                              eval_sequences=sequences, probes=_split(probes), device=device,
                              dtype=dtype)
        result = measure(full, out=out, evalset=evalset, executor=executor, address=address,
                         config=cfg, tokenizer=tokenizer, runs=_split(runs), steps=steps,
                         every=every, allow_pickle=allow_pickle, num_cpus=num_cpus,
                         keep_cache=keep_cache, cache_budget=cache_budget, prefetch=prefetch,
                         allow_duplicates=allow_duplicates)
    except PathdepError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result.summary(), err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)

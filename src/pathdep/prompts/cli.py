"""``pathdep forking`` and ``pathdep prompts``: thin shells over the Python API.

    pathdep forking runs/demo --prompt "The capital of Zorvia is" --out runs/demo.analysis
    pathdep forking runs/demo --prompts world --extractor world_fact --n 30
    pathdep prompts runs/demo --out runs/demo.analysis
    pathdep prompts EleutherAI/pythia-70m --prompts english --temperature 0.7 --temperature 1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SUITE = typer.Argument(help="Suite folder, manifest, or preset name.")
OUT = typer.Option(help="Analysis folder (results go in <out>/<name>/); default: not saved.")


def forking_cmd(
    suite: Annotated[str, SUITE],
    prompt: Annotated[list[str] | None, typer.Option(
        "--prompt", help="A prompt (repeatable); default: the suite's prompt set.")] = None,
    prompts: Annotated[str | None, typer.Option(
        help="Prompt set: a .toml/.jsonl file, 'english' or 'world'.")] = None,
    extractor: Annotated[str | None, typer.Option(
        help="Outcome extractor: first_word, last_word, number, world_fact, 're:PATTERN' or "
             "'module:function'.")] = None,
    step: Annotated[int | None, typer.Option(help="Checkpoint step; default each run's last.")] = None,
    n: Annotated[int, typer.Option(help="Continuations per index and alternative token.")] = 30,
    threshold: Annotated[float, typer.Option(help="Least p(w) of a resampled token.")] = 0.05,
    max_new: Annotated[int, typer.Option(help="Tokens in the base path.")] = 32,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    out: Annotated[Path | None, OUT] = None,
) -> None:
    """Find forking tokens: indices where resampling one token changes the outcome."""
    from pathdep.prompts.fork_analysis import forking_tokens

    res = forking_tokens(suite, prompt or prompts, extractor=extractor, step=step, out=out,
                         n=n, threshold=threshold, max_new=max_new, seed=seed)
    typer.echo(res.verdict)
    typer.echo(res.tables["forks"].to_string(index=False))


def prompts_cmd(
    suite: Annotated[str, SUITE],
    prompts: Annotated[str | None, typer.Option(
        help="Prompt set: a .toml/.jsonl file, 'english' or 'world'; default by suite.")] = None,
    extractor: Annotated[str | None, typer.Option(help="Outcome extractor (see forking).")] = None,
    step: Annotated[int | None, typer.Option(help="Checkpoint step; default each run's last.")] = None,
    temperature: Annotated[list[float] | None, typer.Option(
        help="Sampling temperature (repeatable); default 0.7, 1.0, 1.3.")] = None,
    m: Annotated[int, typer.Option(help="Continuations per cell.")] = 20,
    seed: Annotated[int, typer.Option(help="Sampling and bootstrap seed.")] = 0,
    out: Annotated[Path | None, OUT] = None,
) -> None:
    """Decompose output divergence into prompt variant, training run, temperature and noise."""
    from pathdep.prompts.dependence import prompt_dependence

    res = prompt_dependence(suite, prompts, extractor=extractor, step=step, m=m, seed=seed,
                            temperatures=tuple(temperature or (0.7, 1.0, 1.3)), out=out)
    typer.echo(res.verdict)

"""``pathdep rl SUITE``: RL fine-tuning across RL seeds, then the ``rl_paths`` analysis.

    pathdep rl runs/spell                       # the [rl] section of the suite's spec
    pathdep rl runs/spell --seeds 0,1,2,3 --steps 50

The lead registers it with ``app.command("rl")(rl_cmd)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pathdep.errors import PathdepError


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise PathdepError(f"--seeds {text!r} is not understood; give seeds as '0,1,2,3'") from None
    if len(seeds) < 2:
        raise PathdepError("--seeds needs at least two RL seeds to compare, e.g. '0,1,2,3'")
    return seeds


def rl_cmd(
    suite: Annotated[Path, typer.Argument(
        help="A trained world suite folder (data.spelling_variants > 0).")],
    seeds: Annotated[str | None, typer.Option(
        help="RL seeds, comma-separated (default: [rl] seeds of the suite's spec).")] = None,
    steps: Annotated[int | None, typer.Option(
        help="Policy-gradient steps per RL seed (default: [rl] steps).")] = None,
    base: Annotated[str | None, typer.Option(
        help="Run id of the base model (default: [rl] base, else the first run).")] = None,
    step: Annotated[int | None, typer.Option(
        help="Checkpoint step of the base (default: [rl] step, else its last).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Analysis folder; default <suite>/measurements.zarr.analysis.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates per interval.")] = 500,
) -> None:
    """Fine-tune one checkpoint with RL across seeds; compare the spread with pre-training's."""
    from pydantic import ValidationError

    from pathdep.rl.analysis import rl_paths
    from pathdep.spec import RLSpec
    from pathdep.suites import load_suite

    s = load_suite(suite)
    section = dict(((s.meta or {}).get("spec") or {}).get("rl") or {})
    over = {"seeds": _seeds(seeds) if seeds else None, "steps": steps, "base": base, "step": step}
    section |= {k: v for k, v in over.items() if v is not None}
    try:
        cfg = RLSpec.model_validate(section)
    except ValidationError as e:
        raise PathdepError(f"the RL settings are not valid: {e}") from None
    res = rl_paths(s, cfg, out, n_boot=n_boot)
    typer.echo(f"{res.name}: {res.verdict}")
    typer.echo(f"results in {(out or Path(s.root) / 'measurements.zarr.analysis') / res.name}")

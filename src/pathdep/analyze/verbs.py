"""The analysis commands as functions: each runs its registered analyses through ``analyze``.

    import pathdep
    pathdep.barriers("runs/demo")                    # instability and basins
    pathdep.rl("runs/demo", seeds=[0, 1, 2, 3])      # RL fine-tuning across RL seeds
    pathdep.forking("runs/demo", prompt=["The capital of Zorvia is"])
    pathdep.prompts("runs/demo", prompts="world")

Options are the fields of the analyses' option classes (``pathdep.lmc.options``,
``pathdep.rl.options``, ``pathdep.prompts.options``); each goes to every analysis
of the command that has it. Results are saved like every analysis's, in
``<store>.analysis/<name>/`` (default: the suite's ``measurements.zarr.analysis``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pathdep.analysis.result import AnalysisResult
from pathdep.analyze import registry
from pathdep.analyze.runner import Results, analyze
from pathdep.errors import PathdepError
from pathdep.suites import Suite


def _split(command: str, options: dict[str, Any]) -> tuple[list[str], dict[str, dict]]:
    """The command's analyses, and each one's share of ``options`` (unknown keys refused)."""
    names = registry.names_for(command)
    fields = {n: set(registry.get(n).options.model_fields) for n in names}
    unknown = sorted(set(options) - set().union(*fields.values()))
    if unknown:
        allowed = sorted(set().union(*fields.values()))
        raise PathdepError(f"`{command}` has no option {', '.join(map(repr, unknown))}; its "
                           f"options are {', '.join(allowed)}")
    return names, {n: {k: v for k, v in options.items() if k in fields[n]} for n in names}


def _check_device(options: dict[str, Any], spec_section: dict | None = None) -> None:
    """A ``device`` or ``dtype`` that is not there (in the options, else the spec's section):
    one PathdepError naming the fix before any analysis runs or writes (models/device.py)."""
    given = dict(spec_section or {}) | {k: v for k, v in options.items() if v is not None}
    if "device" in given or "dtype" in given:
        from pathdep.models.device import resolve_device, resolve_dtype

        resolve_dtype(given.get("dtype", "float32"), resolve_device(given.get("device", "cpu")))


def run_command(command: str, suite: Suite | str | Path, store=None, out=None, *,
                reuse: bool = True, **options) -> Results:
    """Every analysis whose ``command`` is ``command``, on ``suite`` (and its store)."""
    names, per = _split(command, options)
    return analyze(store, out, names=names, suite=suite, options=per, reuse=reuse)


def barriers(suite: Suite | str | Path, store=None, out=None, *, reuse: bool = True,
             **options) -> Results:
    """Loss barriers: Frankle et al.'s instability over branch steps and Juneja et al.'s basins.

    ``options``: :class:`~pathdep.lmc.options.InstabilityOptions` and
    :class:`~pathdep.lmc.options.BasinsOptions` fields.
    """
    _check_device(options)
    return run_command("barriers", suite, store, out, reuse=reuse, **options)


def rl(suite: Suite | str | Path, out=None, *, reuse: bool = True,
       **options) -> AnalysisResult:
    """RL fine-tuning of one checkpoint across RL seeds, compared with pre-training's spread.

    ``options``: :class:`~pathdep.rl.options.RLOptions` fields (default: the suite
    spec's ``[rl]`` section).
    """
    from pathdep.suites import load_suite

    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    _check_device(options, ((suite.meta or {}).get("spec") or {}).get("rl"))
    return _only(run_command("rl", suite, None, out, reuse=reuse, **options), "rl")


def forking(suite: Suite | str | Path, out=None, *, reuse: bool = True,
            **options) -> AnalysisResult:
    """Forking tokens (Bigelow et al.): where resampling one token changes the outcome.

    ``options``: :class:`~pathdep.prompts.options.ForkingOptions` fields.
    """
    return _only(run_command("forking", suite, None, out, reuse=reuse, **options), "forking")


def prompts(suite: Suite | str | Path, out=None, *, reuse: bool = True,
            **options) -> AnalysisResult:
    """How much outputs depend on the prompt's surface, the run, the temperature, the sampler.

    ``options``: :class:`~pathdep.prompts.options.PromptDependenceOptions` fields.
    """
    return _only(run_command("prompts", suite, None, out, reuse=reuse, **options), "prompts")


def _only(results: Results, command: str) -> AnalysisResult:
    name = registry.names_for(command)[0]
    if name not in results:
        raise PathdepError(f"`{command}` cannot run {name}: {results.skipped.get(name, '?')}")
    return results[name]

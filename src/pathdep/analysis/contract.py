"""The analysis contract: what every analysis that states a verdict declares.

    from pathdep.analysis.contract import Analysis, Options, StoreInputs
    ANALYSIS = Analysis("agreement", "How much do runs agree ...?", label="A",
                        section="differences", run=on_store(agreement),
                        options=AgreementOptions, inputs=StoreInputs(needs=("logprob",)))

An analysis is a function that returns an :class:`AnalysisResult`, plus one
:class:`Analysis` entry (in its own module) that says

- what it reads (:class:`StoreInputs`: store variables; or
  :class:`CheckpointInputs`: it loads the suite's checkpoints again),
- its options: one pydantic class (subclass of :class:`Options`), whose fields
  and descriptions also generate the command-line flags
  (:mod:`pathdep.analysis.flags`),
- the report section it belongs in,
- its calibration: a :class:`Simulation` with a null generator (no effect) and
  a planted one (a known effect), and the claim of the verdict that the
  calibration counts (issue 14).

``pathdep.analyze.registry`` lists every entry; the runner, the pipeline, the
report and ``pathdep analyze --list`` iterate over that list. The design
follows scikit-learn's estimator contract: parameters are data, one shared
contract test runs against every entry (tests/analyze/test_contract.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pathdep.analysis import data
from pathdep.analysis.result import AnalysisResult
from pathdep.errors import PathdepError
from pathdep.suites import Suite


class Options(BaseModel):
    """The base of every analysis's options: fields with one-line descriptions, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def build(cls, options: Options | Mapping[str, Any] | None = None, **overrides) -> Self:
        """``options`` (an instance or a mapping) updated with ``overrides``, validated.

        Unknown keys raise :class:`PathdepError` naming the allowed ones.
        """
        base = (options.model_dump() if isinstance(options, BaseModel)
                else dict(options or {}))
        merged = {**base, **overrides}
        unknown = sorted(set(merged) - set(cls.model_fields))
        if unknown:
            near = {u: difflib.get_close_matches(u, list(cls.model_fields), n=1) for u in unknown}
            hint = "; ".join(f"{u!r}" + (f" (did you mean {n[0]!r}?)" if n else "")
                             for u, n in near.items())
            raise PathdepError(f"{cls.__name__} has no option {hint}; its options are "
                               f"{', '.join(cls.model_fields)}")
        try:
            return cls.model_validate(merged)
        except ValidationError as e:
            lines = [f"{'.'.join(map(str, err['loc']))}: {err['msg']} (got {err.get('input')!r})"
                     for err in e.errors()]
            raise PathdepError(f"{cls.__name__} options are not valid: " + "; ".join(lines)
                               ) from None


class BootOptions(Options):
    """Options of the analyses with bootstrap intervals (Multi-Bootstrap over runs)."""

    n_boot: int = Field(500, ge=0, description="Bootstrap replicates per interval.")
    seed: int = Field(0, description="Seed of the bootstrap and of any sampling.")


class StepOptions(BootOptions):
    """Options of the analyses that look at one step."""

    step: int | None = Field(None, description="The step to look at; default: the last step "
                             "that most runs have.")


@dataclass
class Context:
    """What an analysis may read: the store (path and/or opened), the suite, where results go.

    Analyses that load checkpoints cache their work under :meth:`cache_dir`.
    """

    ds: xr.Dataset | None = None
    store: Path | None = None
    suite: Suite | None = None
    out: Path | None = None
    requested: frozenset[str] = frozenset()  # analyses named explicitly (not just defaults)
    memo: dict = field(default_factory=dict)  # inputs shared by analyses of one run

    def dataset(self) -> xr.Dataset | None:
        """The opened store (opened on first use); None without a store."""
        if self.ds is None and self.store is not None and Path(self.store).exists():
            self.ds = data.open_store(self.store)
        return self.ds

    def cache_dir(self, name: str) -> Path | None:
        """``<out>/.<name>_cache`` (the report skips dot folders); None when nothing is saved."""
        return None if self.out is None else Path(self.out) / f".{name}_cache"


@dataclass(frozen=True)
class StoreInputs:
    """Store variables an analysis reads: all of ``needs``, one of ``any_of``, ``min_runs``."""

    needs: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    min_runs: int = 2
    kind: Literal["store"] = "store"

    def skip_reason(self, ctx: Context, options: Options | None = None) -> str | None:
        ds = ctx.dataset()
        if ds is None:
            return "needs a measurement store"
        missing = [v for v in self.needs if not data.has_values(ds, v)]
        if missing:
            return f"the store has no {', '.join(missing)}"
        if self.any_of and not any(data.has_values(ds, v) for v in self.any_of):
            return f"the store has none of {', '.join(self.any_of)}"
        if ds.sizes.get("run", 0) < self.min_runs:
            return f"needs at least {self.min_runs} runs, the store has {ds.sizes.get('run', 0)}"
        return None

    def describe(self) -> str:
        parts = list(self.needs) + ([" or ".join(self.any_of)] if self.any_of else [])
        return f"store: {', '.join(parts) or 'any'}; {self.min_runs}+ runs"


@dataclass(frozen=True)
class CheckpointInputs:
    """The analysis loads the suite's checkpoints again (and may read the store too).

    ``what`` says which checkpoints, for ``--list``; ``applies(ctx, options)``
    gives the reason it cannot run (None when it can), beyond having a suite.
    """

    what: str
    applies: Callable[[Context, Options], str | None] | None = None
    kind: Literal["checkpoints"] = "checkpoints"

    def skip_reason(self, ctx: Context, options: Options | None = None) -> str | None:
        if ctx.suite is None:
            return "needs the suite's checkpoints (pass the suite; `pathdep run` does)"
        return self.applies(ctx, options) if self.applies is not None else None

    def describe(self) -> str:
        return f"checkpoints: {self.what}"


Inputs = StoreInputs | CheckpointInputs


@dataclass(frozen=True)
class Simulation:
    """Calibration of a verdict (issue 14): suites with no effect and with a known one.

    ``null(n_runs, seed)`` and ``planted(n_runs, seed)`` return the analysis's
    input for a simulated suite of ``n_runs`` runs (a Dataset for store
    analyses); ``claims(result)`` is True when the verdict claims the effect.
    Analyses that load checkpoints declare ``run(input, options)``: it decides
    the verdict from simulated per-checkpoint numbers (the ones the analysis
    computes from the checkpoints: KL tables, LLC estimates, barrier
    matrices), through the same decision function the analysis calls.
    The false-positive rate is the share of null suites whose verdict claims
    it, the power the share of planted ones. ``effect`` states the planted
    effect and its size.
    """

    null: Callable[[int, int], Any]
    planted: Callable[[int, int], Any]
    claims: Callable[[AnalysisResult], bool]
    effect: str
    options: Mapping[str, Any] = field(default_factory=dict)
    run: Callable[[Any, Any], AnalysisResult] | None = None  # None: entry.run on a store
    # what ``n_runs`` counts in a result (branches per step, RL seeds); None: the store's runs
    size: Callable[[AnalysisResult], int] | None = None


@dataclass(frozen=True)
class Analysis:
    """One registered analysis. ``run(ctx, options)`` computes its result."""

    name: str
    question: str
    label: str
    section: str
    run: Callable[[Context, Options], AnalysisResult]
    options: type[Options] = Options
    inputs: Inputs = StoreInputs()
    simulation: Simulation | None = None
    default: bool = True  # run by `pathdep analyze` / `pathdep run` without being named
    command: str = "analyze"  # the command that runs it alone

    def skip_reason(self, ctx: Context | xr.Dataset, options: Options | None = None
                    ) -> str | None:
        """Why this analysis cannot run on ``ctx`` (or a store) with ``options`` (None: it can)."""
        if isinstance(ctx, xr.Dataset):
            ctx = Context(ds=ctx)
        return self.inputs.skip_reason(ctx, options or self.options.build())

    @property
    def module(self) -> str:
        """The module of the analysis's code (what its fingerprint hashes, with its imports)."""
        return getattr(self.run, "__wrapped__", self.run).__module__

    def defaults(self, ctx: Context) -> dict[str, Any]:
        """Option values that come from the context (e.g. a spec section); none by default."""
        hook = getattr(self.options, "from_context", None)
        return dict(hook(ctx)) if hook is not None else {}


def on_store(fn: Callable[..., AnalysisResult]) -> Callable[[Context, Options], AnalysisResult]:
    """Adapt ``fn(ds, options)`` to the contract's ``run(ctx, options)``."""
    def run(ctx: Context, options: Options) -> AnalysisResult:
        return fn(ctx.dataset(), options)

    run.__wrapped__ = fn  # type: ignore[attr-defined]
    return run

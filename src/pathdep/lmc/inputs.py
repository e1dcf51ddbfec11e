"""What the barrier analyses read: evaluation tokens (from the store, or the suite's own split),
the store itself for behaviour, the α grid and the barrier threshold.

The store is the usual source: its evaluation tokens, so barriers are measured on
the same text as every other measurement. A suite trained by pathdep without a
store falls back to its own held-out split (no behaviour then).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pathdep.analysis.contract import Context
from pathdep.analysis.data import Skip
from pathdep.errors import PathdepError
from pathdep.lmc.barrier import alpha_grid, barrier_device, check_alphas
from pathdep.lmc.options import N_SEQUENCES, BarrierOptions
from pathdep.measure.evalset import build_evalset
from pathdep.measure.evalset import token_hash as _eval_hash
from pathdep.store import open_store
from pathdep.suites import Suite, load_suite

log = logging.getLogger(__name__)

STORE_NAME = "measurements.zarr"


def as_suite(suite: Suite | str | Path) -> Suite:
    return suite if isinstance(suite, Suite) else load_suite(suite)


def default_store(suite: Suite) -> Path:
    """``<suite folder>/measurements.zarr`` (PathdepError for a suite without a folder)."""
    if not suite.root:
        raise PathdepError(f"suite {suite.name!r} has no folder, so it has no default store; "
                           "pass the measurement store (--store STORE)")
    return Path(suite.root) / STORE_NAME


def split_tokens(suite: Suite, n_sequences: int | None, where: Path) -> np.ndarray:
    """Evaluation tokens from the suite's own held-out split (suites trained by pathdep)."""
    spec = suite.meta.get("spec") or {}
    context = (spec.get("model") or {}).get("context")
    if not spec or not context:
        raise PathdepError(
            f"no measurement store at {where}, and suite {suite.name!r} has no spec to draw "
            "evaluation tokens from; measure it first (`pathdep measure SUITE`) or pass --store")
    try:
        es = build_evalset(suite, None, context=int(context), n_seq=n_sequences or N_SEQUENCES)
    except PathdepError as e:
        raise PathdepError(f"no measurement store at {where}, and the suite's own evaluation "
                           f"split cannot be read ({e}); measure the suite first or pass --store"
                           ) from e
    log.info("no store at %s: using %d sequences of the suite's evaluation split", where,
             len(es.tokens))
    return np.asarray(es.tokens)


@dataclass
class Inputs:
    """Evaluation tokens (subset), the store (if any) and where the tokens came from."""

    tokens: np.ndarray
    ds: Any
    source: str


def eval_inputs(suite: Suite, store, n_sequences: int | None) -> Inputs:
    """``store`` may be a path, an opened store (xarray.Dataset), a token array, ready
    :class:`Inputs`, or None (``<suite>/measurements.zarr``, else the suite's own split)."""
    if isinstance(store, Inputs):
        return store
    ds = None
    if isinstance(store, np.ndarray):
        tokens, source = store, "given tokens"
    elif isinstance(store, xr.Dataset):
        ds, source = store, "store"
    else:
        path = Path(store) if store is not None else default_store(suite)
        if path.exists():
            ds, source = open_store(path), str(path)
        elif store is None:
            tokens, source = split_tokens(suite, n_sequences, path), "suite eval split"
        else:
            raise PathdepError(f"no measurement store at {path}: pass the folder that "
                               "`pathdep measure` wrote")
    if n_sequences is not None and int(n_sequences) < 1:
        raise PathdepError(f"n_sequences must be >= 1, not {n_sequences}")
    keep = slice(None) if n_sequences is None else slice(0, int(n_sequences))
    if ds is not None:
        if "tokens" not in ds.variables:
            raise PathdepError(f"the store {source} has no evaluation tokens (`tokens`); "
                               "is it a pathdep measurement store?")
        tokens = np.asarray(ds["tokens"].transpose("seq", "pos").isel(seq=keep).values)
    tokens = np.asarray(tokens)[keep]
    return Inputs(tokens, ds, source)


def token_hash(tokens: np.ndarray) -> str:
    """sha256 over the shape and int32 bytes (the store's ``eval_hash`` rule)."""
    return _eval_hash(tokens)


def options(cls: type[BarrierOptions], given, overrides: dict) -> Any:
    """``cls.build(given, **overrides)``, its device and dtype checked to exist before any
    work (lmc/barrier.py barrier_device: a PathdepError naming the fix)."""
    o = cls.build(given, **overrides)
    barrier_device(o.device, o.dtype)
    return o


def threshold(o: BarrierOptions, endpoint_losses) -> float:
    """The barrier below which runs count as connected: given, or a share of the mean loss."""
    if o.threshold is not None:
        return float(o.threshold)
    return float(o.rel_threshold * np.mean(endpoint_losses))


def alphas(o: BarrierOptions) -> np.ndarray:
    return check_alphas(o.alphas) if o.alphas is not None else alpha_grid(o.n_alphas)


def shared(ctx: Context, n_sequences: int | None):
    """What the barrier analyses of one context read: the opened store, else the suite's own
    evaluation split, read once per context and shared by both analyses."""
    if ctx.store is not None and Path(ctx.store).exists():
        return ctx.store  # a path: the results name where the tokens came from
    if ctx.ds is not None:
        return ctx.ds
    if ctx.store is not None:
        raise Skip(f"no measurement store at {ctx.store}: pass the folder that `pathdep "
                   "measure` wrote")
    key = ("lmc-inputs", n_sequences)
    if key not in ctx.memo:
        ctx.memo[key] = eval_inputs(ctx.suite, None, n_sequences)
    return ctx.memo[key]

"""Reading the measurement store for analyses (schema: docs/store.md).

Everything here respects two rules of the store: a cell whose job is not
``done[run, step]`` is missing (NaN), and big variables (``logprob``,
``hidden``, …) are read one (run, step) snapshot at a time, so an analysis
never loads a whole per-token array into memory.

Tokens are addressed by their flat index ``seq * n_pos + pos``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import xarray as xr

from pathdep import store
from pathdep.errors import PathdepError

log = logging.getLogger(__name__)


class Skip(PathdepError):
    """The store lacks what an analysis needs; ``analyze`` logs the reason and goes on."""


def open_store(path: str | Path) -> xr.Dataset:
    """Open a measurement store lazily, keeping only the runs with at least one measured step.

    A run that was never measured (or whose every job failed) would otherwise be
    counted by the analyses ("in none of the 4 runs") though it holds no data;
    its id is kept in ``ds.attrs["unmeasured_runs"]`` and the report names it.
    """
    path = Path(path)
    if not path.exists():
        raise PathdepError(f"no measurement store at {path}: pass the folder that `pathdep measure` "
                           "wrote")
    return measured_runs(store.open_store(path))


def measured_runs(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without the runs that have no measured step (``done`` all False)."""
    if "done" not in ds or "run" not in ds["done"].dims:
        return ds
    keep = np.asarray(ds["done"].any([d for d in ds["done"].dims if d != "run"]).values, bool)
    if keep.all():
        return ds
    gone = [str(r) for r in ds["run"].values[~keep]]
    out = ds.isel(run=np.flatnonzero(keep))
    out.attrs = {**ds.attrs, "unmeasured_runs": gone}
    return out


def require(ds: xr.Dataset, *names: str) -> None:
    """Raise Skip unless every variable in ``names`` is in the store and measured."""
    missing = [n for n in names if not has_values(ds, n)]
    if missing:
        raise Skip(f"the store has no {', '.join(missing)}")


def has_values(ds: xr.Dataset, name: str) -> bool:
    """``name`` is in the store, not empty, and finite somewhere in its first done job.

    The store creates every variable up front (fill: NaN), so presence alone
    does not mean the measurement stage filled it.
    """
    if name not in ds.variables or ds[name].size == 0:
        return False
    da = ds[name]
    if not {"run", "step"} <= set(da.dims):
        return True
    cells = np.argwhere(done(ds))
    if not len(cells):
        return False
    x = np.asarray(da.isel(run=int(cells[0][0]), step=int(cells[0][1])).values)
    return bool(np.isfinite(x).any()) if np.issubdtype(x.dtype, np.floating) else True


def done(ds: xr.Dataset) -> np.ndarray:
    """(run, step) bool: which jobs are completely written (all True if no ``done``)."""
    if "done" in ds.variables:
        return np.asarray(ds["done"].transpose("run", "step").values, dtype=bool)
    return np.ones((ds.sizes["run"], ds.sizes["step"]), dtype=bool)


def steps(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["step"].values, dtype=np.int64)


def runs(ds: xr.Dataset) -> list[str]:
    return [str(r) for r in ds["run"].values]


def masked(ds: xr.Dataset, name: str) -> xr.DataArray:
    """A small (run, step, …) variable loaded as float64 with not-done cells set to NaN."""
    require(ds, name)
    da = ds[name].transpose("run", "step", ...).astype("float64").load()
    ok = xr.DataArray(done(ds), dims=("run", "step"))
    return da.where(ok)


def common_steps(ds: xr.Dataset, min_runs: int | None = None) -> np.ndarray:
    """Indices of steps done by at least ``min_runs`` runs (default: all runs)."""
    d = done(ds)
    need = d.shape[0] if min_runs is None else min_runs
    return np.flatnonzero(d.sum(0) >= need)


def choose_step(ds: xr.Dataset, step: int | None, min_runs: int = 2) -> int:
    """Index of ``step`` (or, by default, the last step done by the most runs, ≥ min_runs)."""
    d, st = done(ds), steps(ds)
    if step is not None:
        hit = np.flatnonzero(st == step)
        if not hit.size:
            raise PathdepError(f"step {step} is not in the store; choose one of {st.tolist()}")
        if d[:, hit[0]].sum() < min_runs:
            raise PathdepError(f"step {step} is done for fewer than {min_runs} runs; choose one of "
                               f"{st[d.sum(0) >= min_runs].tolist()}")
        return int(hit[0])
    counts = d.sum(0)
    if counts.max(initial=0) < min_runs:
        raise Skip(f"no step is done for {min_runs} runs")
    best = np.flatnonzero(counts == counts.max())
    return int(best[-1])


def token_shape(ds: xr.Dataset) -> tuple[int, int]:
    return ds.sizes["seq"], ds.sizes["pos"]


def snapshot(ds: xr.Dataset, name: str, run_i: int, step_i: int,
             idx: np.ndarray | None = None) -> np.ndarray:
    """One (run, step) slice of a per-token variable, flat over tokens, float64.

    NaN everywhere when the job is not done; ``idx`` selects flat token indices.
    """
    n_seq, n_pos = token_shape(ds)
    if not done(ds)[run_i, step_i]:
        n = n_seq * n_pos if idx is None else len(idx)
        return np.full(n, np.nan)
    x = ds[name].isel(run=run_i, step=step_i).transpose("seq", "pos").values
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return x if idx is None else x[idx]


def valid_tokens(ds: xr.Dataset) -> np.ndarray:
    """Flat indices of tokens that have a prediction (pos ≥ 1)."""
    n_seq, n_pos = token_shape(ds)
    return np.flatnonzero(np.tile(np.arange(n_pos) >= 1, n_seq))


def sample_tokens(ds: xr.Dataset, max_tokens: int | None, seed: int = 0) -> np.ndarray:
    """Sorted flat indices of up to ``max_tokens`` valid tokens (all when None)."""
    idx = valid_tokens(ds)
    if max_tokens is not None and idx.size > max_tokens:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_tokens, replace=False))
    return idx


def token_matrix(ds: xr.Dataset, name: str, idx: np.ndarray, step_idx: np.ndarray) -> np.ndarray:
    """(run, step, token) array of ``name`` for the tokens ``idx`` at steps ``step_idx``."""
    out = np.full((ds.sizes["run"], len(step_idx), len(idx)), np.nan)
    d = done(ds)
    for r in range(ds.sizes["run"]):
        for j, s in enumerate(step_idx):
            if d[r, s]:
                out[r, j] = snapshot(ds, name, r, s, idx)
    return out


def seq_of(ds: xr.Dataset, idx: np.ndarray) -> np.ndarray:
    """The sequence of each flat token index (the unit the item bootstrap resamples)."""
    return np.asarray(idx) // ds.sizes["pos"]


def factors(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Run factors (``factor_*`` coordinates on ``run``) as str arrays, by factor name, in name
    order (the order a Zarr store lists its coordinates in is not fixed)."""
    out = {}
    for name in sorted(map(str, ds.coords)):
        if str(name).startswith("factor_") and ds[name].dims == ("run",):
            out[str(name).removeprefix("factor_")] = np.array([str(v) for v in ds[name].values])
    return out


def vocab_size(ds: xr.Dataset) -> int:
    """Vocabulary size: attribute ``vocab_size``; else ``k`` when distributions keep the whole
    vocabulary (attribute ``dist_full``, or no rest mass); else max token id + 1 (a lower bound)."""
    if "vocab_size" in ds.attrs:
        return int(ds.attrs["vocab_size"])
    if "k" in ds.dims and bool(ds.attrs.get("dist_full", False)):
        return int(ds.sizes["k"])
    cells = np.argwhere(done(ds))
    if "dist_rest" in ds.variables and "k" in ds.dims and len(cells):
        rest = np.asarray(ds["dist_rest"].isel(run=int(cells[0][0]), step=int(cells[0][1])).values)
        if rest.size and np.all(np.isneginf(rest)):
            return int(ds.sizes["k"])
    return int(np.asarray(ds["tokens"].values).max()) + 1 if "tokens" in ds.variables else 2

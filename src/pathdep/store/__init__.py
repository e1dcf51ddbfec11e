"""The measurement store: one Zarr store per (suite, evaluation set); schema in docs/store.md.

    ds = open_store("runs/quick/measure.zarr")      # an xarray.Dataset
    ds.logprob.sel(run="seed0", step=1000)          # only where ds.done is True
"""

from __future__ import annotations

import warnings
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.store.create import (
    Layout,
    check_store,
    create_store,
    grow_store,
    is_store,
    missing_cells,
)
from pathdep.store.jobs import (
    done_flags,
    is_done,
    job_lock,
    read_failures,
    read_inputs,
    read_probe_inputs,
    record_failures,
    write_job,
)
from pathdep.store.probe_arrays import ProbeArrays
from pathdep.store.schema import KINDS, Dims


def open_store(path: str | Path):
    """The store as a lazily loaded ``xarray.Dataset``.

    Cells whose ``done[run, step]`` is False are missing (NaN, or -1 for
    ``tokens_seen`` and ``dist_ids``); a job killed mid-write may have left
    partial values there, so select on ``done`` before trusting them.
    """
    import xarray as xr

    path = Path(path)
    if not is_store(path):
        raise PathdepError(
            f"{path} is not a measurement store (no zarr.json); create one with "
            "`pathdep measure SUITE --out STORE`"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: fixed-width strings are not in the v3 spec yet
        ds = xr.open_zarr(path, consolidated=False)
    if "eval_hash" not in ds.attrs:
        raise PathdepError(f"{path} is a Zarr store but not a pathdep measurement store")
    return ds


__all__ = [
    "ProbeArrays",
    "KINDS",
    "Dims",
    "Layout",
    "check_store",
    "grow_store",
    "missing_cells",
    "create_store",
    "done_flags",
    "is_done",
    "is_store",
    "job_lock",
    "open_store",
    "read_failures",
    "read_inputs",
    "read_probe_inputs",
    "record_failures",
    "write_job",
]

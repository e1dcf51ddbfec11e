"""The measurement store: one Zarr store per (suite, evaluation set); schema in docs/store.md.

    ds = open_store("runs/quick/measure.zarr")      # an xarray.Dataset
    ds.logprob.sel(run="seed0", step=1000)          # only where ds.done is True
"""

from __future__ import annotations

import json
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
from pathdep.store.formats import (
    STORE_FORMAT,
    known_zarr_warnings_ignored,
    plain_strings,
    require_current,
    require_readable,
    require_zarr,
    resolve_path,
    store_format,
    upgraded,
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
from pathdep.store.migrate import migrate
from pathdep.store.probe_arrays import ProbeArrays
from pathdep.store.schema import KINDS, Dims


def open_store(path: str | Path):
    """The store as a lazily loaded ``xarray.Dataset``.

    Cells whose ``done[run, step]`` is False are missing (NaN, or -1 for
    ``dist_ids``); a job killed mid-write may have left partial values there,
    so select on ``done`` before trusting them. A store of an earlier format
    reads as the current one (formats.py); ``migrate`` converts it on disk.
    """
    import xarray as xr

    path = Path(path)
    require_zarr()
    if not is_store(path):
        raise PathdepError(
            f"{path} is not a measurement store (no zarr.json); create one with "
            "`pathdep measure SUITE --out STORE`"
        )
    require_readable(path)
    root = json.loads((path / "zarr.json").read_text())
    with known_zarr_warnings_ignored():
        ds = xr.open_zarr(path, consolidated=bool(root.get("consolidated_metadata")))
    if "eval_hash" not in ds.attrs:
        raise PathdepError(f"{path} is a Zarr store but not a pathdep measurement store")
    if store_format(ds.attrs) > STORE_FORMAT:
        require_current(path, ds.attrs)
    return upgraded(plain_strings(ds), path)


def store_tokenizer(path: str | Path) -> str:
    """The store's tokenizer: a local folder (made absolute) or a hub repo id."""
    return resolve_path(str(open_store(path).attrs.get("tokenizer", "")), Path(path))


__all__ = [
    "STORE_FORMAT",
    "ProbeArrays",
    "KINDS",
    "Dims",
    "Layout",
    "check_store",
    "grow_store",
    "migrate",
    "missing_cells",
    "store_tokenizer",
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

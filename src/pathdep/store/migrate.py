"""Convert a store of an earlier format to the current one, in place, without re-measuring.

    pathdep migrate runs/demo/measurements.zarr      # or pathdep.store.migrate(path)

The store is copied beside itself (chunk files hard-linked, metadata copied),
the copy is converted (formats.py lists what format 2 is) and renamed into
place under the store-wide lock, as growing a store does: an interrupted
migration leaves the old store as it was, and migrating a current store does
nothing. No chunk of a measured variable is rewritten, so every measured value
stays bit for bit what it was.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

from pathdep.atomic import atomic_dir, write_json
from pathdep.errors import PathdepError
from pathdep.store.create import consolidate, is_store, store_lock
from pathdep.store.formats import (
    RANGE_DIMS,
    STORE_FORMAT,
    as_str,
    fixed_string_arrays,
    item_keys,
    known_zarr_warnings_ignored,
    relative_path,
    require_current,
    require_readable,
    require_zarr,
    store_format,
)
from pathdep.store.jobs import FAILURES, beside, failures_path, read_failures
from pathdep.store.schema import LAYOUT_ATTRS, VAR_ATTRS, factor_long_name

log = logging.getLogger(__name__)
_NOT_COPIED = {".locks", FAILURES}  # format 1 kept them inside the store


def migrate(path: str | Path) -> bool:
    """Convert the store at ``path`` to the current format; False if it already was."""
    import zarr

    require_zarr()
    path = Path(path)
    if not is_store(path):
        raise PathdepError(f"{path} is not a measurement store (no zarr.json); pass the .zarr "
                           "folder that `pathdep measure` wrote")
    require_readable(path)
    with store_lock(path):
        with known_zarr_warnings_ignored():
            attrs = dict(zarr.open_group(path, mode="r", use_consolidated=False).attrs)
        if "eval_hash" not in attrs:
            raise PathdepError(f"{path} is a Zarr store but not a pathdep measurement store")
        if store_format(attrs) >= STORE_FORMAT:
            require_current(path, attrs)  # a newer format is an error; the current one a no-op
            log.info("store %s is already in store format %d", path, STORE_FORMAT)
            return False
        failures = read_failures(path)
        if failures:  # beside the store from now on (kept if the rename below never happens)
            write_json(failures_path(path), failures)
        with atomic_dir(path) as tmp:
            _copy_linked(path, tmp)
            with known_zarr_warnings_ignored():
                _convert(tmp, path)
        shutil.rmtree(beside(path, ".locks"), ignore_errors=True)  # no job holds a lock now
    log.info("store %s converted to store format %d", path, STORE_FORMAT)
    return True


def _copy_linked(src: Path, dst: Path) -> None:
    """``src`` into the empty folder ``dst``: metadata copied, chunk files hard-linked (zarr
    may rewrite a metadata file in place, never a chunk of an array this module keeps)."""
    def link(a, b):
        if Path(a).name == "zarr.json":
            return shutil.copy2(a, b)
        try:
            os.link(a, b)
        except OSError:  # another filesystem, or links not allowed: copy
            shutil.copy2(a, b)
        return b

    for entry in src.iterdir():
        if entry.name in _NOT_COPIED or entry.name.endswith(".partial"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, dst / entry.name, copy_function=link,
                            ignore=shutil.ignore_patterns("*.partial"))
        else:
            link(entry, dst / entry.name)


def _convert(tmp: Path, path: Path) -> None:
    """Everything format 2 changes, on the copy ``tmp`` of the store ``path``."""
    import zarr

    group = zarr.open_group(tmp, mode="r+", use_consolidated=False)
    for name in fixed_string_arrays(tmp):
        _as_variable_length(group, name)
    for name, array in group.arrays():
        attrs = VAR_ATTRS.get(name) or LAYOUT_ATTRS.get(name) or (
            {"long_name": factor_long_name(name.removeprefix("factor_"))}
            if name.startswith("factor_") else {})
        if attrs:
            array.update_attributes(attrs)
    _add_index_coords(group)
    attrs = dict(group.attrs)
    new = {name: relative_path(attrs[name], path) for name in ("tokenizer", "eval_source")
           if isinstance(attrs.get(name), str)}
    group.update_attributes({**new, "store_format": STORE_FORMAT})
    consolidate(tmp)


def _as_variable_length(group, name: str) -> None:
    """Rewrite one (small, layout) string array as variable-length strings."""
    old = group[name]
    values = as_str(old[...])
    attrs, dims, chunks = dict(old.attrs), old.metadata.dimension_names, old.chunks
    del group[name]
    new = group.create_array(name, shape=values.shape, chunks=chunks, dtype=str,
                             dimension_names=dims, attributes=attrs)
    new[...] = values.astype(object)


def _add_index_coords(group) -> None:
    """An index coordinate for every dimension that lacks one (integer ranges, ``item`` keys)."""
    sizes: dict[str, int] = {}
    for _, array in group.arrays():
        for dim, n in zip(array.metadata.dimension_names or (), array.shape, strict=True):
            sizes.setdefault(dim, n)
    for dim, n in sizes.items():
        if dim in group:
            continue
        if dim == "item":
            values = item_keys(as_str(group["item_probe"][...]), as_str(group["item_id"][...]))
            dtype = str
        elif dim in RANGE_DIMS:
            values, dtype = np.arange(n, dtype=np.int64), "int64"
        else:
            continue
        array = group.create_array(dim, shape=(n,), chunks=(max(1, n),), dtype=dtype,
                                   dimension_names=[dim], attributes=LAYOUT_ATTRS.get(dim, {}))
        array[...] = values

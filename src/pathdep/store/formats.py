"""What makes a store read well in any Zarr reader, and how older stores are read (docs/store.md).

Store format 2 (issue 16): consolidated metadata, an index coordinate on every
dimension (``item`` keyed ``<probe>/<item_id>``), ``tokens_seen``'s -1 declared
as ``_FillValue`` (xarray reads NaN), paths relative to the store,
variable-length strings, and locks and failures kept beside the store rather
than in it. Format 1 is a store without a ``store_format`` attribute (pathdep
before December 2026): :func:`upgraded` makes it read like format 2, and
``pathdep migrate STORE`` converts it on disk (store/migrate.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pathdep.errors import PathdepError

log = logging.getLogger(__name__)

STORE_FORMAT = 2
ZARR_INSTALL = 'pip install "zarr>=3.0.8,<4"'
#: Dims whose index coordinate is the integer range 0..n-1 (no better label exists).
RANGE_DIMS = ("seq", "pos", "sample", "k", "hsample", "d", "pseq", "ppos", "prow", "ptok",
              "layer_h", "head")
_warned: set[str] = set()


#: What zarr says about stores pathdep reads on purpose: format 1 (``.locks`` inside, fixed-width
#: strings) and zarr 3.0's warning on every variable-length string (not on zarr >= 3.1).
_KNOWN = ("Object at .* is not recognized as a component of a Zarr hierarchy",
          "The (codec|dtype) .* is currently not part in the Zarr format 3 specification",
          "The data type .* does not have a Zarr V3 specification")


@contextlib.contextmanager
def known_zarr_warnings_ignored() -> Iterator[None]:
    with warnings.catch_warnings():
        for message in _KNOWN:
            warnings.filterwarnings("ignore", message=message)
        yield


def zarr_version() -> str:
    import zarr

    return str(zarr.__version__)


def require_zarr() -> None:
    """Refuse zarr 2.x (it cannot read Zarr v3 stores) with what to install."""
    version = zarr_version()
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = 3  # a development build: let zarr itself decide
    if major != 3:
        raise PathdepError(
            f"pathdep stores are Zarr v3 and need zarr-python 3, but zarr {version} is "
            f"installed; install a supported one: {ZARR_INSTALL}"
        )


def fixed_string_arrays(root: Path) -> list[str]:
    """The store's arrays of ``fixed_length_utf32`` strings (format 1 written by zarr >= 3.1)."""
    out = []
    for meta in sorted(Path(root).glob("*/zarr.json")):
        dtype = json.loads(meta.read_text()).get("data_type")
        if isinstance(dtype, dict) and dtype.get("name") == "fixed_length_utf32":
            out.append(meta.parent.name)
    return out


def require_readable(path: Path) -> None:
    """zarr 3.0 cannot read ``fixed_length_utf32`` at all (it fails on the store's first such
    array): say so, and what to install, instead of zarr's ``Invalid ... data_type``."""
    version = zarr_version()
    if tuple(int(x) for x in version.split(".")[:2] if x.isdigit()) >= (3, 1):
        return
    fixed = fixed_string_arrays(path)
    if fixed:
        raise PathdepError(
            f"store {path} keeps strings as fixed_length_utf32 ({', '.join(fixed[:4])}), which "
            f"zarr {version} cannot read; install zarr 3.1 or later (pip install "
            f'"zarr>=3.1,<4"), then `pathdep migrate {path}` turns them into variable-length '
            "strings that zarr 3.0 reads too"
        )


def store_format(attrs) -> int:
    """The store's format (1: written before the ``store_format`` attribute existed)."""
    return int(attrs.get("store_format", 1))


def migrate_hint(path: Path) -> str:
    return f"`pathdep migrate {path}` converts it in place without re-measuring"


def require_current(path: Path, attrs) -> None:
    """Refuse to add jobs to a store of another format (reading one is fine)."""
    fmt = store_format(attrs)
    if fmt < STORE_FORMAT:
        raise PathdepError(
            f"store {path} was written by an earlier pathdep (store format {fmt}; this "
            f"version writes format {STORE_FORMAT}) and cannot take new jobs as it is; "
            f"{migrate_hint(path)}, then measure again"
        )
    if fmt > STORE_FORMAT:
        raise PathdepError(
            f"store {path} has store format {fmt}, newer than this pathdep knows "
            f"({STORE_FORMAT}); upgrade pathdep (pip install -U pathdep)"
        )


def require_current_store(path: Path) -> None:
    """:func:`require_current` for the store at ``path``, if there is one (read from its
    root ``zarr.json``, before anything is laid out)."""
    root = Path(path) / "zarr.json"
    if root.is_file():
        attrs = json.loads(root.read_text()).get("attributes") or {}
        if "eval_hash" in attrs:
            require_current(path, attrs)


def as_str(values) -> np.ndarray:
    """Strings read back (numpy ``StringDType`` or objects, by zarr and numpy version) as a
    fixed-width ``U`` array, which ``astype(str)``, ``==`` and pandas all take."""
    values = np.asarray(values)
    return values if values.dtype.kind == "U" else np.asarray(values.tolist(), dtype=str)


def plain_strings(ds):
    """``ds`` with its string coordinates (small, loaded anyway) as :func:`as_str`: xarray 2026
    decodes variable-length strings to numpy ``StringDType``, which ``astype(str)`` refuses.
    ``token_str`` stays lazy, as read (its readers take each value with ``str``)."""
    coords = [n for n, v in ds.coords.items() if v.dtype.kind in "OT"]
    return ds.assign_coords({n: (ds[n].dims, as_str(ds[n].values), ds[n].attrs) for n in coords})


def item_keys(item_probe, item_id) -> np.ndarray:
    """The unique item key ``<probe>/<item_id>`` (an ``item_id`` alone repeats across probes).

    A probe may hold one id twice (a world fact stated twice in one document); its later
    copies get ``#2``, ``#3``, ... so that the key stays unique.
    """
    seen: dict[str, int] = {}
    keys = []
    for p, i in zip(item_probe, item_id, strict=True):
        key = f"{p}/{i}"
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return np.array(keys, dtype=object)


def relative_path(value: str, store: Path) -> str:
    """``value`` as a path relative to the store folder when it is an absolute path inside the
    store's parent (the output folder); anything else (a hub id, a path elsewhere) as it is."""
    prefix = "hf:" if value.startswith("hf:") else ""
    raw = value.removeprefix(prefix)
    path = Path(raw)
    if not path.is_absolute():
        return value
    parent = Path(store).resolve().parent
    try:
        inside = path.resolve().relative_to(parent)
    except ValueError:
        return value
    return prefix + (Path("..") / inside).as_posix()


def resolve_path(value: str, store: Path) -> str:
    """The inverse of :func:`relative_path`: a ``../``-relative path made absolute."""
    prefix = "hf:" if value.startswith("hf:") else ""
    raw = value.removeprefix(prefix)
    if not raw.startswith("../"):
        return value
    return prefix + str((Path(store).resolve() / raw).resolve())


def upgraded(ds, path: Path):
    """A format-1 dataset as format 2 reads (in memory; the files stay as they are)."""
    if store_format(ds.attrs) >= STORE_FORMAT:
        return ds
    key = str(Path(path).resolve())
    if key not in _warned:
        _warned.add(key)
        log.warning("store %s was written by an earlier pathdep (store format 1); it is read "
                    "as the current format, but %s", path, migrate_hint(path))
    if "tokens_seen" in ds:
        ts = ds["tokens_seen"]
        ds["tokens_seen"] = ts.where(ts >= 0).assign_attrs(ts.attrs)
    coords = {d: np.arange(ds.sizes[d]) for d in RANGE_DIMS
              if d in ds.sizes and d not in ds.indexes}
    if "item" in ds.sizes and "item" not in ds.indexes and "item_id" in ds.coords:
        coords["item"] = item_keys(ds["item_probe"].values, ds["item_id"].values)
    return ds.assign_coords(coords)

"""Create the measurement store (or check an existing one matches): docs/store.md.

The layout (coordinates, evaluation tokens, fixed sample positions, the
head-score inputs, attributes) is written with xarray's ``to_zarr``; the
per-job arrays (schema.py) are then declared empty with zarr, so nothing is
written for them until a job fills its own chunks. The store is built in a
temporary folder and renamed into place under a store-wide lock
(``.<name>.lock`` beside the store), so two processes creating it at once
end with one store, and a half-built store is never seen.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pathdep.atomic import atomic_dir
from pathdep.errors import PathdepError
from pathdep.store.formats import (
    RANGE_DIMS,
    STORE_FORMAT,
    item_keys,
    known_zarr_warnings_ignored,
    relative_path,
    require_current,
    require_zarr,
)
from pathdep.store.probe_arrays import ProbeArrays
from pathdep.store.schema import (
    DONE,
    KINDS,
    LAYOUT_ATTRS,
    VAR_ATTRS,
    WSTATS,
    Dims,
    chunks_for,
    factor_long_name,
    job_vars,
    shape_of,
)

FACTOR_PREFIX = "factor_"


@dataclass
class Layout:
    """Everything fixed at store creation: the suite's runs and steps, the evaluation set, the plan."""

    suite: str
    runs: list[str]
    factors: dict[str, dict]  # run -> factor -> value
    steps: list[int]
    tokens: np.ndarray  # (seq, pos) int32
    token_str: np.ndarray  # (seq, pos) str
    prefix_tokens: np.ndarray  # (pseq, ppos) int32: head-score inputs (heads.py)
    sample_seq: np.ndarray
    sample_pos: np.ndarray
    hsample_seq: np.ndarray
    hsample_pos: np.ndarray
    hlayers: list[int]
    dims: Dims
    logprob_dtype: str = "float32"
    attrs: dict = field(default_factory=dict)
    probes: ProbeArrays | None = None  # the tokenised behaviour probes; dims.probe/item > 0 with it

    def digest(self) -> str:
        """Hash of what the jobs read back from the store (dims, samples, head inputs)."""
        h = hashlib.sha256(json.dumps(
            [self.dims.as_dict(), self.hlayers, self.logprob_dtype], sort_keys=True).encode())
        for a in (self.sample_seq, self.sample_pos, self.hsample_seq, self.hsample_pos,
                  self.prefix_tokens, *_probe_arrays(self.probes)):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        if self.probes is not None:
            h.update(json.dumps([self.probes.names, self.probes.item_id.tolist()]).encode())
            if self.probes.per_token:  # only then, so stores of "sum" probes keep their digest
                h.update(json.dumps(self.probes.probe_scoring.tolist()).encode())
        return h.hexdigest()


def _probe_arrays(probes) -> list[np.ndarray]:
    if probes is None:
        return []
    return [probes.tokens, probes.row_item, probes.row_start, probes.row_len, probes.row_correct]


def _probe_layout(probes) -> tuple[dict, dict]:
    """(coords, data) of the behaviour probes (docs/store.md); empty without probes."""
    if probes is None:
        return {}, {}
    coords = {"probe": np.array(probes.names), "item": item_keys(probes.item_probe, probes.item_id),
              "item_probe": ("item", probes.item_probe),
              "item_id": ("item", probes.item_id),
              "probe_scoring": ("probe", probes.probe_scoring)}
    data = {"probe_tokens": (("prow", "ptok"), probes.tokens.astype(np.int32)),
            "prow_item": ("prow", probes.row_item.astype(np.int64)),
            "prow_start": ("prow", probes.row_start.astype(np.int64)),
            "prow_len": ("prow", probes.row_len.astype(np.int64)),
            "prow_correct": ("prow", probes.row_correct.astype(bool))}
    return coords, data


@contextlib.contextmanager
def store_lock(path: Path) -> Iterator[None]:
    """The store-wide lock, taken while creating or checking a store."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_store(path: Path) -> bool:
    return (Path(path) / "zarr.json").is_file()


def create_store(path: Path, layout: Layout) -> bool:
    """Create the store at ``path``, or check the existing one matches; True if created."""
    path = Path(path)
    require_zarr()
    with store_lock(path):
        if is_store(path):
            check_store(path, layout)
            return False
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise PathdepError(
                f"{path} exists and is not a pathdep store; choose another --out or remove it"
            )
        with atomic_dir(path) as tmp:
            _write_layout(tmp, layout, path)
        return True


def _factor_coords(layout: Layout) -> dict:
    """Run factors as ``factor_<name>`` coordinates: int, float, else str ("" = missing)."""
    names: list[str] = []
    for fs in layout.factors.values():
        names += [k for k in fs if k not in names]
    coords = {}
    for name in names:
        vals = [layout.factors.get(r, {}).get(name) for r in layout.runs]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
        if numeric and all(isinstance(v, int) for v in vals):
            arr = np.array(vals, dtype=np.int64)
        elif numeric:
            arr = np.array(vals, dtype=np.float64)
        else:
            arr = np.array(["" if v is None else str(v) for v in vals])
        coords[FACTOR_PREFIX + name] = ("run", arr)
    return coords


def _layout_dataset(layout: Layout, path: Path):
    """The layout as an ``xarray.Dataset`` in store format 2 (formats.py) for the store ``path``."""
    import xarray as xr

    coords = {
        "run": np.array(layout.runs),
        "step": np.array(layout.steps, dtype=np.int64),
        "sample_seq": ("sample", np.asarray(layout.sample_seq, dtype=np.int64)),
        "sample_pos": ("sample", np.asarray(layout.sample_pos, dtype=np.int64)),
        "hsample_seq": ("hsample", np.asarray(layout.hsample_seq, dtype=np.int64)),
        "hsample_pos": ("hsample", np.asarray(layout.hsample_pos, dtype=np.int64)),
        "hlayer": np.array(layout.hlayers, dtype=np.int64),
        "layer_h": np.arange(layout.dims.layer_h),
        "head": np.arange(layout.dims.head),
        "kind": np.array(KINDS),
        **({"wstat": np.array(WSTATS)} if layout.dims.wstat else {}),
        **_factor_coords(layout),
    }
    probe_coords, probe_data = _probe_layout(layout.probes)
    coords |= probe_coords
    data = probe_data | {
        "tokens": (("seq", "pos"), layout.tokens.astype(np.int32)),
        "prefix_tokens": (("pseq", "ppos"), layout.prefix_tokens.astype(np.int32)),
    }
    sizes = {**layout.dims.as_dict(), "pseq": layout.prefix_tokens.shape[0],
             "ppos": layout.prefix_tokens.shape[1]}
    if layout.probes is not None:
        sizes |= {"prow": layout.probes.tokens.shape[0], "ptok": layout.probes.tokens.shape[1]}
    coords |= {d: np.arange(sizes[d]) for d in RANGE_DIMS if d in sizes and d not in coords}
    attrs = dict(layout.attrs, suite=layout.suite, layout_digest=layout.digest(),
                 dims=json.dumps(layout.dims.as_dict()), store_format=STORE_FORMAT)
    for name in ("tokenizer", "eval_source"):
        if isinstance(attrs.get(name), str):
            attrs[name] = relative_path(attrs[name], path)
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    for name, var in ds.variables.items():
        var.attrs.update(LAYOUT_ATTRS.get(str(name), {}))
        if str(name).startswith(FACTOR_PREFIX):
            var.attrs["long_name"] = factor_long_name(str(name)[len(FACTOR_PREFIX):])
    return variable_length_strings(ds)


def variable_length_strings(ds):
    """``ds`` with its fixed-width (numpy ``U``) strings as Python objects, which xarray writes
    as Zarr v3 variable-length strings (``fixed_length_utf32`` is not in the v3 spec)."""
    fixed = [n for n, v in ds.variables.items() if v.dtype.kind == "U"]
    return ds.assign({n: ds[n].astype(object) for n in fixed if n in ds.data_vars}).assign_coords(
        {n: ds[n].astype(object) for n in fixed if n in ds.coords})


TOKEN_STR_CHUNK = 1 << 16  # tokens of decoded strings per chunk


def _write_token_str(group, token_str: np.ndarray) -> None:
    """``token_str`` as variable-length strings, written a chunk of rows at a time: as one
    xarray variable it was a single chunk, encoded whole (about 300 MB at 1M tokens)."""
    n_seq, n_pos = token_str.shape
    rows = max(1, min(n_seq, TOKEN_STR_CHUNK // max(1, n_pos)))
    arr = group.create_array("token_str", shape=token_str.shape, chunks=(rows, n_pos), dtype=str,
                             fill_value="", dimension_names=["seq", "pos"],
                             attributes=LAYOUT_ATTRS.get("token_str", {}))
    for r0 in range(0, n_seq, rows):
        arr[r0:r0 + rows] = np.asarray(token_str[r0:r0 + rows], dtype=object)


def consolidate(path: Path) -> None:
    """Write the consolidated metadata (once the hierarchy is final; jobs write only chunks)."""
    import zarr

    with warnings.catch_warnings():  # zarr: consolidated metadata is not in the v3 spec (yet)
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        zarr.consolidate_metadata(str(path))


def _write_layout(tmp: Path, layout: Layout, path: Path) -> None:
    import zarr

    with known_zarr_warnings_ignored():  # zarr 3.0 warns on each variable-length string
        _layout_dataset(layout, path).to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
        group = zarr.open_group(tmp, mode="r+")
        _write_token_str(group, layout.token_str)
    n_run, n_step = len(layout.runs), len(layout.steps)
    for name, var in {**job_vars(layout.logprob_dtype, layout.dims), "done": DONE}.items():
        group.create_array(
            name,
            shape=(n_run, n_step, *shape_of(var, layout.dims)),
            chunks=chunks_for(var, layout.dims),
            dtype=var.dtype,
            fill_value=var.fill,
            dimension_names=["run", "step", *var.dims],
            attributes=VAR_ATTRS.get(name, {}),
        )
    consolidate(tmp)


def missing_cells(path: Path, layout: Layout) -> bool:
    """True when the store at ``path`` matches ``layout`` but lacks some of its runs or steps
    (branches or checkpoints added to the suite after it was measured)."""
    import zarr

    if not is_store(path):
        return False
    g = zarr.open_group(path, mode="r")
    if g.attrs.get("layout_digest") != layout.digest():
        return False
    return not (set(layout.runs) <= set(g["run"][:].tolist())
                and set(layout.steps) <= set(g["step"][:].tolist()))


def grow_store(path: Path, layout: Layout) -> Layout:
    """Rebuild the store with ``layout``'s runs and steps, copying every done job; return the
    layout used (its steps include the old store's).

    The old store's runs must all be in ``layout``; the rebuilt store replaces the old one
    in one rename, so an interrupted growth leaves the old store as it was.
    """
    import zarr

    path = Path(path)
    with store_lock(path):
        old = zarr.open_group(path, mode="r")
        require_current(path, old.attrs)
        runs_o, steps_o = old["run"][:].tolist(), [int(x) for x in old["step"][:]]
        lost = [r for r in runs_o if r not in layout.runs]
        if lost:
            raise PathdepError(
                f"store {path} holds runs the suite no longer has ({lost[:5]}); measure into a "
                "new --out"
            )
        layout = replace(layout, steps=sorted(set(layout.steps) | set(steps_o)))
        done = old["done"][:]
        names = [*job_vars(layout.logprob_dtype, layout.dims), "done"]
        with atomic_dir(path) as tmp:
            _write_layout(tmp, layout, path)
            new = zarr.open_group(tmp, mode="r+")
            for ri, si in zip(*np.nonzero(done), strict=True):
                at = (layout.runs.index(runs_o[ri]), layout.steps.index(steps_o[si]))
                for name in names:
                    new[name][at] = old[name][int(ri), int(si)]
    return layout


def check_store(path: Path, layout: Layout) -> None:
    """Refuse to mix: an existing store must hold this suite, eval set and layout."""
    import zarr

    attrs = dict(zarr.open_group(path, mode="r").attrs)
    require_current(path, attrs)
    if attrs.get("suite") != layout.suite:
        raise PathdepError(
            f"store {path} holds suite {attrs.get('suite')!r}, not {layout.suite!r}; "
            "measure into a new --out"
        )
    if attrs.get("eval_hash") != layout.attrs.get("eval_hash"):
        raise PathdepError(
            f"store {path} was measured on another evaluation set ({attrs.get('eval_source')}, "
            f"hash {str(attrs.get('eval_hash'))[:12]}) than this one "
            f"({layout.attrs.get('eval_source')}, hash {layout.attrs.get('eval_hash', '')[:12]}); "
            "use the same --eval and measure options, or a new --out"
        )
    if attrs.get("layout_digest") != layout.digest():
        group = zarr.open_group(path, mode="r")
        had = set(group["probe"][:].tolist()) if "probe" in group else set()
        now = set(layout.probes.names) if layout.probes is not None else set()
        if had and now != had:
            raise PathdepError(
                f"store {path} was measured with other behaviour probes (new: "
                f"{sorted(now - had)[:6]}, gone: {sorted(had - now)[:6]}), e.g. after adding "
                "interventions for branches; a store cannot change its probes: measure into a "
                "new --out (or delete this store and its .analysis folder to measure again)"
            )
        if had and attrs.get("dims") == json.dumps(layout.dims.as_dict()):
            raise PathdepError(
                f"store {path} was measured with the same probes by name ({sorted(had)[:6]}) "
                "but other items or other measure options (e.g. a pathdep version whose probe "
                f"builders differ: the store's is {attrs.get('pathdep_version')}); a store "
                "cannot change them: measure into a new --out (or delete this store and its "
                ".analysis folder to measure again)")
        raise PathdepError(
            f"store {path} was created with other measure options (store dims "
            f"{attrs.get('dims')}, now {json.dumps(layout.dims.as_dict())}; options "
            f"{attrs.get('measure_options')}); use the same options, or a new --out"
        )

"""A measured store reads well in plain xarray and zarr: no warning, described variables, index
coordinates on every dim, a unique item key, masked unknowns, paths relative to the store."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from pathdep.errors import PathdepError
from pathdep.store import open_store, store_tokenizer
from pathdep.store.jobs import lock_path

from .worldkit import UNKNOWN_RUN, build_world_store

ZARR_3_0 = tuple(int(x) for x in zarr.__version__.split(".")[:2]) < (3, 1)
VLEN_3_0 = "The (codec `vlen-utf8`|dtype `StringDType\\(\\)`) is currently not part in the Zarr format 3"


@pytest.fixture(scope="module")
def world_store(tmp_path_factory) -> Path:
    return build_world_store(tmp_path_factory.mktemp("readers"))


def check_reads_everywhere(path: Path) -> xr.Dataset:
    """Every check of issue 16 item 4 that a plain reader sees; the dataset, loaded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning at all fails ...
        if ZARR_3_0:  # ... but zarr 3.0's on every variable-length string (docs/store.md)
            warnings.filterwarnings("ignore", message=VLEN_3_0)
        ds = xr.open_zarr(path).load()
        group = zarr.open_group(path, mode="r")
        for _, array in group.members(max_depth=None):
            if isinstance(array, zarr.Array):
                array[...]  # reading strings and fills warns nothing either
        assert xr.open_zarr(path, consolidated=True).sizes == ds.sizes
    consolidated = json.loads((path / "zarr.json").read_text())["consolidated_metadata"]
    for name, meta in consolidated["metadata"].items():  # still true after the jobs wrote
        assert meta == json.loads((path / name / "zarr.json").read_text()), name
    assert not (path / ".locks").exists() and not (path / ".failures.json").exists()
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    assert set(ds.dims) <= set(ds.indexes), set(ds.dims) - set(ds.indexes)
    keys = ds.indexes["item"]
    assert keys.is_unique and len(keys) == ds.sizes["item"]
    assert not ds["item_id"].to_index().is_unique  # the bare id repeats, hence the key
    bare = [f"{p}/{i}" for p, i in zip(ds.item_probe.values, ds.item_id.values, strict=True)]
    assert [k.partition("#")[0] for k in keys] == bare  # "#2": a probe's id stated twice
    assert ds.sel(item=keys[-1]).probe_item_correct.dims == ("run", "step")
    for name, _ in group.arrays():
        dtype = json.loads((path / name / "zarr.json").read_text())["data_type"]
        assert dtype != {"name": "fixed_length_utf32"} and "fixed_length" not in str(dtype), name
    return ds


def check_tokens_seen_masked(path: Path, ds: xr.Dataset) -> None:
    raw = zarr.open_group(path, mode="r")["tokens_seen"][...]
    assert (raw == -1).any() and (raw >= 0).any()  # the store has unknown and known cells
    assert ds.tokens_seen.mean().item() == pytest.approx(raw[raw >= 0].mean())
    assert np.isnan(ds.tokens_seen.values).tolist() == (raw == -1).tolist()


def test_a_new_store_reads_well_in_plain_xarray_and_zarr(world_store):
    ds = check_reads_everywhere(world_store)
    check_tokens_seen_masked(world_store, ds)
    assert ds.attrs["store_format"] == 2
    assert np.isnan(ds.tokens_seen.sel(run=UNKNOWN_RUN, step=0))


def test_the_tokenizer_path_is_relative_to_the_store(world_store):
    attrs = zarr.open_group(world_store, mode="r").attrs
    assert attrs["tokenizer"] == "../suite/tokenizer"  # the suite's folder, beside the store
    resolved = Path(store_tokenizer(world_store))
    assert resolved == (world_store.parent / "suite" / "tokenizer").resolve()
    assert (resolved / "tokenizer.json").is_file()


def test_locks_are_beside_the_store(world_store):
    lock = lock_path(world_store, UNKNOWN_RUN, 0)
    assert lock.parent == world_store.parent / f".{world_store.name}.locks" and lock.is_file()


def test_pathdep_reads_strings_that_take_astype_str(world_store):
    ds = open_store(world_store)
    assert ds.item_id.dtype.kind == ds.run.dtype.kind == ds.item.dtype.kind == "U"
    assert ds.item_id.values.astype(str).tolist() == ds.item_id.values.tolist()
    assert all(isinstance(v, str) for v in ds.token_str.values.ravel().tolist())


def test_zarr_2_is_refused_with_what_to_install(world_store, monkeypatch, tmp_path):
    from pathdep.store import create_store, formats

    monkeypatch.setattr(formats, "zarr_version", lambda: "2.18.7")
    with pytest.raises(PathdepError, match=r'zarr 2\.18\.7 is installed.*pip install "zarr>=3\.0\.8,<4"'):
        open_store(world_store)
    with pytest.raises(PathdepError, match="zarr 2.18.7"):
        create_store(tmp_path / "new.zarr", None)
    assert not (tmp_path / "new.zarr").exists()


def test_a_killed_chunk_write_leaves_nothing_a_reader_warns_about(world_store, tmp_path):
    """zarr writes a chunk to ``<chunk>.<hex>.partial`` and renames it; a kill leaves the
    partial file in the chunk folder, which no reader lists (docs/store.md)."""
    import shutil

    store = tmp_path / "copy.zarr"
    shutil.copytree(world_store, store)
    chunk = next(p for p in (store / "logprob" / "c").rglob("*") if p.is_file())
    chunk.with_name(chunk.name + ".0123abcd.partial").write_bytes(chunk.read_bytes()[:3])
    check_reads_everywhere(store)


def test_paths_are_relative_to_the_store_only_inside_its_folder(tmp_path):
    from pathdep.store.formats import relative_path, resolve_path

    store = tmp_path / "out" / "m.zarr"
    inside, outside = tmp_path / "out" / "suite" / "tok", tmp_path / "elsewhere" / "tok"
    assert relative_path(str(inside), store) == "../suite/tok"
    assert resolve_path("../suite/tok", store) == str(inside.resolve())
    assert relative_path(str(outside), store) == str(outside)  # outside the output folder
    assert relative_path("EleutherAI/pythia-70m", store) == "EleutherAI/pythia-70m"  # hub id
    assert resolve_path("EleutherAI/pythia-70m", store) == "EleutherAI/pythia-70m"
    assert relative_path(f"hf:{inside}", store) == "hf:../suite/tok"  # a dataset folder
    assert resolve_path("hf:../suite/tok", store) == f"hf:{inside.resolve()}"

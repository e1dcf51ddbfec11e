"""Stores written before store format 2 (issue 16): read as they are, converted by migrate.

The fixture is a real store written by commit 5dce5c4 (tests/store/worldkit.py says how).
"""

import importlib
import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from typer.testing import CliRunner

from pathdep.cli import app
from pathdep.errors import PathdepError
from pathdep.store import migrate, open_store, read_failures, store_tokenizer
from pathdep.store.schema import job_vars

from .test_readers import check_reads_everywhere, check_tokens_seen_masked

pytestmark = pytest.mark.skipif(
    tuple(int(x) for x in zarr.__version__.split(".")[:2]) < (3, 1),
    reason="the fixture holds fixed_length_utf32 strings (zarr 3.1.6 wrote it), which zarr 3.0 "
           "cannot read; open_store says so (test_zarr_3_0_is_told_... on zarr >= 3.1)")
FIXTURE = Path(__file__).parent / "fixtures" / "store_format1.tar.gz"
BUILT_AT = "/tmp/h16s_old/out"  # where the fixture was built: its absolute tokenizer path
MEASURED = ["done", *job_vars(dims=None), "behavior", "behavior_margin", "probe_item_correct",
            "probe_item_margin"]


@pytest.fixture
def old(tmp_path) -> Path:
    """The old store as if measured here: extracted, its absolute tokenizer path pointing at
    the copy of the suite's tokenizer beside it (as on the machine that built it)."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path / "out", filter="data")
    store = tmp_path / "out" / "old.zarr"
    meta = json.loads((store / "zarr.json").read_text())
    assert meta["attributes"]["tokenizer"] == f"{BUILT_AT}/suite/tokenizer"
    assert "store_format" not in meta["attributes"] and "consolidated_metadata" not in meta
    meta["attributes"]["tokenizer"] = str(tmp_path / "out" / "suite" / "tokenizer")
    (store / "zarr.json").write_text(json.dumps(meta))
    return store


def _raw(store: Path) -> dict[str, np.ndarray]:
    g = zarr.open_group(store, mode="r", use_consolidated=False)
    return {n: g[n][...] for n in MEASURED}


def _metadata(store: Path) -> dict[str, str]:
    return {str(p.relative_to(store)): p.read_text() for p in sorted(store.rglob("zarr.json"))}


def test_an_old_store_reads_as_the_new_format_and_names_migrate(old, caplog):
    with caplog.at_level(logging.WARNING):
        ds = open_store(old)
    assert f"pathdep migrate {old}" in caplog.text
    assert ds.indexes["item"].is_unique and set(ds.dims) <= set(ds.indexes)
    check_tokens_seen_masked(old, ds)


def test_an_old_store_is_analysed_and_reported_as_after_migration(old, tmp_path):
    """The analyses read an old store (upgraded in memory) and its migrated self alike."""
    from pathdep.analyze import analyze
    from pathdep.report import report

    names = ["agreement", "fact_timing"]  # fact_timing reads item_id and item_probe
    before = analyze(old, names=names, n_boot=20, reuse=False)  # into old.zarr.analysis
    assert report(old).is_file()
    migrate(old)
    after = analyze(old, out=tmp_path / "a2", names=names, n_boot=20, reuse=False)
    for name in names:
        assert after[name].verdict == before[name].verdict, name
        assert after[name].tables.keys() == before[name].tables.keys(), name
        for t, table in before[name].tables.items():
            pd.testing.assert_frame_equal(after[name].tables[t], table, check_exact=True)


def test_migrate_converts_without_touching_a_measured_value(old):
    before, attrs = _raw(old), dict(zarr.open_group(old, mode="r").attrs)
    assert (old / ".locks").is_dir()
    (old / ".failures.json").write_text(json.dumps({"seed1-data0-c@20": "no checkpoint"}))
    assert migrate(old) is True
    ds = check_reads_everywhere(old)
    check_tokens_seen_masked(old, ds)
    after = _raw(old)
    for name in MEASURED:  # bit for bit, NaN where NaN
        assert after[name].dtype == before[name].dtype, name
        assert np.array_equal(after[name], before[name], equal_nan=after[name].dtype.kind == "f"), name
    new = dict(zarr.open_group(old, mode="r").attrs)
    assert new["store_format"] == 2 and new["layout_digest"] == attrs["layout_digest"]
    assert new["tokenizer"] == "../suite/tokenizer"
    assert Path(store_tokenizer(old)) == Path(attrs["tokenizer"]).resolve()
    assert read_failures(old) == {"seed1-data0-c@20": "no checkpoint"}
    assert (old.parent / ".old.zarr.failures.json").is_file()
    np.testing.assert_array_equal(open_store(old).behavior.values, ds.behavior.values)


def test_migrate_twice_changes_nothing(old):
    assert migrate(old) is True
    meta = _metadata(old)
    assert migrate(old) is False
    assert _metadata(old) == meta


def test_an_interrupted_migration_leaves_the_old_store(old, monkeypatch):
    migrate_module = importlib.import_module("pathdep.store.migrate")  # not the function
    meta = _metadata(old)

    def killed(group):
        raise KeyboardInterrupt  # as if stopped half-way through the conversion

    monkeypatch.setattr(migrate_module, "_add_index_coords", killed)
    with pytest.raises(KeyboardInterrupt):
        migrate(old)
    assert _metadata(old) == meta and (old / ".locks").is_dir()
    assert [p.name for p in old.parent.iterdir() if ".tmp-" in p.name] == []
    monkeypatch.undo()
    assert migrate(old) is True
    check_reads_everywhere(old)


def test_measuring_into_an_old_store_names_migrate(old, tmp_path):
    from pathdep.measure import measure

    from ..measure.suitekit import build_suite

    build_suite(tmp_path / "suite", runs=("a",), steps=(0,))
    meta = _metadata(old)
    with pytest.raises(PathdepError, match=f"pathdep migrate {old}"):
        measure(tmp_path / "suite", out=old)
    r = CliRunner().invoke(app, ["measure", str(tmp_path / "suite"), "--out", str(old)])
    assert r.exit_code == 2 and "pathdep migrate" in r.output, r.output
    assert _metadata(old) == meta


def test_the_migrate_command(old, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["migrate", str(old)])
    assert r.exit_code == 0 and "converted to store format 2" in r.output, r.output
    r = runner.invoke(app, ["migrate", str(old)])
    assert r.exit_code == 0 and "already in store format 2" in r.output, r.output
    (tmp_path / "plain").mkdir()
    r = runner.invoke(app, ["migrate", str(tmp_path / "plain")])
    assert r.exit_code == 2 and "is not a measurement store" in r.output, r.output
    r = runner.invoke(app, ["migrate", str(tmp_path / "nowhere.zarr")])
    assert r.exit_code == 2 and "is not a measurement store" in r.output, r.output


def test_zarr_3_0_is_told_it_cannot_read_fixed_width_strings(old, monkeypatch):
    """zarr 3.0.8 fails on fixed_length_utf32 (measured: 'Invalid Zarr format 3 data_type');
    pathdep says what to install instead, and the migrated store no longer has any."""
    from pathdep.store import formats

    monkeypatch.setattr(formats, "zarr_version", lambda: "3.0.8")
    with pytest.raises(PathdepError, match=r'fixed_length_utf32 .*zarr 3\.0\.8 cannot read.*"zarr>=3\.1,<4"'):
        open_store(old)
    with pytest.raises(PathdepError, match="cannot read"):
        migrate(old)
    monkeypatch.undo()
    migrate(old)
    monkeypatch.setattr(formats, "zarr_version", lambda: "3.0.8")
    assert formats.fixed_string_arrays(old) == []
    assert open_store(old).sizes["item"] > 0

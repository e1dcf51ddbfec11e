"""The store: layout, per-job writes, locks; crash safety and concurrent writers."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from pathdep.errors import PathdepError
from pathdep.measure import measure
from pathdep.store import Dims, Layout, create_store, job_lock, open_store, write_job
from pathdep.store.schema import KINDS, job_vars, padded

from ..measure.suitekit import build_suite

MEASURE = """
import json, sys
from pathdep.measure import measure
r = measure(sys.argv[1], out=sys.argv[2])
print(json.dumps({"measured": r.measured, "ok": r.ok}))
"""


def _layout(**kw) -> Layout:
    dims = Dims(seq=2, pos=4, sample=1, k=3, hsample=1, hlayer=1, layer_h=1, head=2, d=4)
    base = dict(suite="s", runs=["r0", "r1"], factors={"r0": {"lr": 0.1}, "r1": {"lr": 0.2}},
                steps=[0, 5], tokens=np.zeros((2, 4), np.int32), token_str=np.full((2, 4), "a"),
                prefix_tokens=np.zeros((1, 5), np.int32), sample_seq=np.array([0]),
                sample_pos=np.array([1]), hsample_seq=np.array([1]), hsample_pos=np.array([0]),
                hlayers=[0], dims=dims, attrs={"eval_hash": "h", "eval_source": "x"})
    base.update(kw)
    return Layout(**base)


def _values(dims: Dims) -> dict:
    return {name: np.full(_shape(v, dims), 1, dtype=v.dtype) for name, v in job_vars().items()}


def _shape(var, dims):
    sizes = dims.as_dict()
    return tuple(sizes[d] for d in var.dims)


def test_layout_write_and_open(tmp_path):
    lay = _layout()
    assert create_store(tmp_path / "s.zarr", lay) is True
    assert create_store(tmp_path / "s.zarr", lay) is False  # exists and matches
    write_job(tmp_path / "s.zarr", 1, 0, _values(lay.dims), lay.dims)
    ds = open_store(tmp_path / "s.zarr")
    assert ds.done.values.tolist() == [[False, False], [True, False]]
    assert ds.logprob.isel(run=1, step=0).values.tolist() == [[1] * 4] * 2
    assert np.isnan(ds.logprob.isel(run=0, step=0)).all()
    # unknown tokens_seen is -1 on disk, declared _FillValue: NaN to xarray, skipped by mean()
    assert np.isnan(ds.tokens_seen.values).tolist() == [[True, True], [False, True]]
    assert ds.tokens_seen.mean().item() == 1
    assert zarr.open_group(tmp_path / "s.zarr", mode="r")["tokens_seen"][0, 0] == -1
    assert ds.factor_lr.values.tolist() == [0.1, 0.2]
    chunks = json.loads((tmp_path / "s.zarr/logprob/zarr.json").read_text())
    assert chunks["chunk_grid"]["configuration"]["chunk_shape"][:2] == [1, 1]


def test_existing_store_must_match(tmp_path):
    create_store(tmp_path / "s.zarr", _layout())
    with pytest.raises(PathdepError, match="another evaluation set"):
        create_store(tmp_path / "s.zarr", _layout(attrs={"eval_hash": "other"}))
    with pytest.raises(PathdepError, match="holds suite"):
        create_store(tmp_path / "s.zarr", _layout(suite="t"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk/file").write_text("x")
    with pytest.raises(PathdepError, match="not a pathdep store"):
        create_store(tmp_path / "junk", _layout())
    with pytest.raises(PathdepError, match="not a measurement store"):
        open_store(tmp_path / "junk")


def test_padding_of_smaller_models():
    dims = Dims(seq=1, pos=1, sample=1, k=5, hsample=1, hlayer=1, layer_h=3, head=4, d=2)
    out = padded(np.ones((2, 2, len(KINDS))), job_vars()["head_score"], dims)
    assert out.shape == (3, 4, len(KINDS)) and np.isnan(out[2]).all() and np.isnan(out[:, 2:]).all()
    ids = padded(np.arange(3)[None], job_vars()["dist_ids"], dims)
    assert ids.tolist() == [[0, 1, 2, -1, -1]]


def test_job_lock_is_exclusive_across_processes(tmp_path):
    create_store(tmp_path / "s.zarr", _layout())
    code = ("import sys, time\nfrom pathdep.store import job_lock\n"
            "with job_lock(sys.argv[1], 'r0', 0, wait=True):\n"
            "    print('held', flush=True)\n    time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "s.zarr")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with job_lock(tmp_path / "s.zarr", "r0", 0, wait=False) as got:
            assert got is False
        with job_lock(tmp_path / "s.zarr", "r0", 5, wait=False) as got:
            assert got is True  # another job's lock is free
    finally:
        holder.kill()
        holder.wait()
    with job_lock(tmp_path / "s.zarr", "r0", 0, wait=False) as got:
        assert got is True  # a killed holder's lock is released


@pytest.fixture(scope="module")
def suite_and_reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    build_suite(root / "suite", runs=("a", "b"), steps=(0, 10, 20, 30))
    measure(root / "suite", out=root / "ref.zarr")
    return root


def _same(a: Path, b: Path) -> None:
    xr.testing.assert_allclose(open_store(a).load(), open_store(b).load(), rtol=0, atol=1e-6)


def _n_done(store: Path) -> int:
    folder = store / "done" / "c"
    return sum(1 for p in folder.rglob("*") if p.is_file() and ".partial" not in p.name) \
        if folder.exists() else 0


def test_sigkill_mid_measure_then_resume(suite_and_reference):
    root = suite_and_reference
    out = root / "killed.zarr"
    proc = subprocess.Popen([sys.executable, "-c", MEASURE, str(root / "suite"), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _n_done(out) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)  # most likely in the middle of the third job
    proc.wait()
    done_before = _n_done(out)
    assert 2 <= done_before < 8, "the kill should land before the end"
    # and a job killed half-way through its writes: chunks there, done not set
    g = zarr.open_group(out, mode="r+")
    ri, si = np.argwhere(~g["done"][...])[0]
    g["logprob"][ri, si] = 123.0
    g["head_score"][ri, si] = -7.0
    r = measure(root / "suite", out=out)
    assert r.ok and len(r.skipped) == done_before and len(r.measured) == 8 - done_before
    _same(out, root / "ref.zarr")


def test_two_processes_on_one_store(suite_and_reference):
    root = suite_and_reference
    out = root / "shared.zarr"
    procs = [subprocess.Popen([sys.executable, "-c", MEASURE, str(root / "suite"), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    measured = [json.loads(o.strip().splitlines()[-1])["measured"] for o, _ in outs]
    jobs = [tuple(j) for m in measured for j in m]
    assert len(jobs) == len(set(jobs)) == 8  # every job computed exactly once
    _same(out, root / "ref.zarr")


def test_every_job_variable_says_what_it_holds(tmp_path):
    """units and long_name on each per-job variable, readable by a plain Zarr reader."""
    from pathdep.store.schema import VAR_ATTRS

    create_store(tmp_path / "s.zarr", _layout())
    g = zarr.open_group(tmp_path / "s.zarr", mode="r")
    for name in [*job_vars(), "done"]:
        attrs = dict(g[name].attrs)
        assert attrs == VAR_ATTRS[name] and attrs["units"] and attrs["long_name"], name


def test_run_factor_sentinels_are_declared(tmp_path):
    """factor_branch_step is -1 for grid runs: its long_name says so (docs/store.md)."""
    factors = {"r0": {"parent": "", "branch_step": -1}, "r1": {"parent": "r0", "branch_step": 5}}
    create_store(tmp_path / "s.zarr", _layout(factors=factors))
    ds = open_store(tmp_path / "s.zarr")
    assert ds.factor_branch_step.values.tolist() == [-1, 5]
    assert "-1: a grid run" in ds.factor_branch_step.attrs["long_name"]
    assert "'': a grid run" in ds.factor_parent.attrs["long_name"]

"""Executors: the in-process default and Ray on a local instance."""

import math

import pytest
import xarray as xr

from pathdep.errors import PathdepError
from pathdep.executors import get_executor
from pathdep.measure import measure
from pathdep.store import open_store

from ..measure.suitekit import build_suite


def needs_input(x):
    """A top-level job function: a PathdepError is a reason, anything else a bug."""
    if x is None:
        raise PathdepError("no input; give one")
    return math.sqrt(x)


def _check_results(results):
    by_index = {r.index: r for r in results}
    assert sorted(by_index) == [0, 1, 2]
    assert by_index[0].ok and by_index[0].value == 2.0 and by_index[0].job == 4
    assert by_index[1].error == "no input; give one" and by_index[1].traceback is None
    assert by_index[2].error.startswith("ValueError") and "sqrt" in by_index[2].traceback


def test_inprocess_map_reports_each_failure_and_goes_on():
    with get_executor("inprocess") as ex:
        _check_results(list(ex.map(needs_input, [4, None, -1])))


def test_bad_executor_choices():
    with pytest.raises(PathdepError, match="unknown executor 'dask'"):
        get_executor("dask")
    with pytest.raises(PathdepError, match="--address is for the ray executor"):
        get_executor("inprocess", address="auto")


@pytest.mark.ray
def test_ray_local_instance(tmp_path):
    """One local Ray instance: the generic map, then measure() compared with in-process."""
    import ray

    suite = build_suite(tmp_path / "s", runs=("a",), steps=(0, 10))
    measure(suite, out=tmp_path / "local.zarr")
    try:
        with get_executor("ray", num_cpus=1) as ex:
            _check_results(list(ex.map(needs_input, [4, None, -1])))
            r = measure(suite, out=tmp_path / "ray.zarr", executor="ray")  # reuses the instance
            assert r.ok and len(r.measured) == 2
    finally:
        if ray.is_initialized():
            ray.shutdown()
    xr.testing.assert_allclose(open_store(tmp_path / "ray.zarr").load(),
                               open_store(tmp_path / "local.zarr").load(), rtol=0, atol=1e-6)


def threads_in_worker(_):
    import os

    import torch

    return torch.get_num_threads(), os.getpid()


def test_local_processes_map_measure_and_train_as_in_process(tmp_path):
    """Worker processes: the generic map (failures reported, the others go on), each worker's
    thread share, then measure() and train() give what they give in process (bit-identical
    weights: the spec sets one thread, so both ways train alike)."""
    import os
    from pathlib import Path

    import torch
    from safetensors.torch import load_file

    from pathdep.spec import parse_spec
    from pathdep.train import train
    from tests.conftest import tiny_spec_dict

    with get_executor("processes", num_cpus=2) as ex:
        _check_results(list(ex.map(needs_input, [4, None, -1])))
        threads = list(ex.map(threads_in_worker, [0, 1, 2, 3]))
    assert {r.value[0] for r in threads} == {max(1, (os.cpu_count() or 1) // 2)}
    assert os.getpid() not in {r.value[1] for r in threads}
    with pytest.raises(PathdepError, match="--address is for the ray executor"):
        get_executor("processes", address="auto")

    suite = build_suite(tmp_path / "s", runs=("a", "b"), steps=(0, 10))
    measure(suite, out=tmp_path / "local.zarr")
    r = measure(suite, out=tmp_path / "procs.zarr", executor="processes", num_cpus=2)
    assert r.ok and len(r.measured) == 4
    xr.testing.assert_allclose(open_store(tmp_path / "procs.zarr").load(),
                               open_store(tmp_path / "local.zarr").load(), rtol=0, atol=1e-6)

    spec = parse_spec(tiny_spec_dict(train={"threads": 1}))
    a = train(spec, tmp_path / "serial")
    b = train(spec, tmp_path / "parallel", executor="processes")
    for run in a.runs:
        wa = load_file(Path(run.checkpoints[-1].path) / "model.safetensors")
        wb = load_file(Path(b.run(run.id).checkpoints[-1].path) / "model.safetensors")
        assert all(torch.equal(wa[k], wb[k]) for k in wa)

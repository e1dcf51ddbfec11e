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

"""Shared synthetic stores: one in memory, one written to Zarr (the store's format on disk)."""

import warnings

import pytest

from .synthetic import make_store


@pytest.fixture(scope="session")
def store():
    return make_store()


@pytest.fixture(scope="session")
def zarr_path(tmp_path_factory, store):
    path = tmp_path_factory.mktemp("stores") / "store.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: fixed-width strings have no v3 spec yet
        store.to_zarr(path, mode="w")
    return path

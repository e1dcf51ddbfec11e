"""Fixtures for the report tests: a store with fake analysis results, and its report."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fakes import make_store


@pytest.fixture
def store(tmp_path) -> Path:
    return make_store(tmp_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """A store and its report (written once per test module; do not modify)."""
    from pathdep.report import report

    s = make_store(tmp_path_factory.mktemp("built"))
    return s, report(s)

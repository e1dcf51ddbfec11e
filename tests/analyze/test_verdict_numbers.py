"""Every number in a verdict is a number in its result (issue 15 item 4), for every analysis
that runs on the shared synthetic store."""

import pytest

from pathdep.api import analyze

from .verdict_numbers import numbers_in, unbacked

# Settings a verdict states as such (thresholds, levels), not results
CONSTANTS: set[str] = set()


def test_the_checker_catches_a_count_that_disagrees_with_its_table():
    import pandas as pd

    t = {"caps": pd.DataFrame({"cap": list("abcdefghijklm"), "agree": [True] * 4 + [False] * 9})}
    assert unbacked("4 of 13 capabilities are alike", {}, t) == []
    assert unbacked("1 of 13 capabilities is alike", {}, t) == ["1"]  # convergence, issue 15
    assert numbers_in("seed0-data1 at L1H2 after 0→1→2 (Hu et al. 2023): 0.25 [0.1, 0.3]") == [
        ("0.25", False), ("0.1", False), ("0.3", False)]


@pytest.fixture(scope="module")
def results(zarr_path, tmp_path_factory):
    return analyze(zarr_path, out=tmp_path_factory.mktemp("vn"), n_boot=20)


def test_every_verdict_number_is_in_its_result(results):
    bad = {}
    for name, res in results.items():
        if isinstance(res, str):  # skipped, with its reason
            continue
        miss = unbacked(res.verdict, res.summary, res.tables, CONSTANTS, name)
        if miss:
            bad[name] = (miss, res.verdict)
    assert not bad, bad

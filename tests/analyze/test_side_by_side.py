"""``analyze(..., workers=N)``: the analyses computed in worker processes give the same
results, in the registry's order, as in this process; an interrupted call keeps what
finished."""

import json

import pytest

from pathdep.analyze import registry, runner

NAMES = ["agreement", "run_variance", "phase_changes", "learning_curves", "llc"]


def _summary(folder):
    s = json.loads((folder / "summary.json").read_text())
    s.pop("store")
    return s


@pytest.mark.filterwarnings("ignore")
def test_workers_give_the_results_of_one_process(zarr_path, tmp_path):
    one = runner.analyze(zarr_path, out=tmp_path / "one", names=NAMES, n_boot=20)
    two = runner.analyze(zarr_path, out=tmp_path / "two", names=NAMES, n_boot=20, workers=2)
    assert list(two) == list(one) == ["agreement", "run_variance", "phase_changes",
                                      "learning_curves"]
    assert two.skipped == one.skipped and "llc" in two.skipped  # no suite: skipped, with why
    for name in one:
        assert two[name].verdict == one[name].verdict, name
        assert json.dumps(two[name].summary_json(), sort_keys=True) == \
            json.dumps(one[name].summary_json(), sort_keys=True), name
        for t in one[name].tables:
            assert two[name].tables[t].equals(one[name].tables[t]), (name, t)
    assert _summary(tmp_path / "two") == _summary(tmp_path / "one")
    # each worker saved its results with their fingerprints: a rerun reuses them, none is
    # written again
    written = {n: (tmp_path / "two" / n / "summary.json").stat().st_mtime_ns for n in one}
    again = runner.analyze(zarr_path, out=tmp_path / "two", names=NAMES, n_boot=20, workers=2)
    assert {n: r.verdict for n, r in again.items()} == {n: r.verdict for n, r in one.items()}
    assert {n: (tmp_path / "two" / n / "summary.json").stat().st_mtime_ns for n in one} == written


def test_tasks_put_the_long_analyses_first_and_the_barriers_together():
    tasks = runner._groups(registry.ANALYSES)
    names = [[e.name for e in t] for t in tasks]
    assert ["instability", "basins"] in names  # they share their evaluation batches
    kinds = [t[0].inputs.kind for t in tasks]
    n_ckpt = kinds.count("checkpoints")
    assert n_ckpt >= 4 and set(kinds[:n_ckpt]) == {"checkpoints"}
    assert sorted(n for t in names for n in t) == sorted(registry.REGISTRY)

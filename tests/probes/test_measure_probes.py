"""The measurement job fills behavior[run, step, probe]; a trained model beats random init."""

import pytest

from pathdep.spec import parse_spec
from pathdep.store import open_store

SPEC = {
    "name": "wp",
    "data": {"generator": "world", "n_docs": 300, "n_eval_docs": 40, "n_entities": 10,
             "n_words": 40, "n_canaries": 2},
    "tokenizer": {"vocab_size": 256},
    "model": {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 64},
    "train": {"steps": 120, "batch_size": 16, "lr": 1e-2, "warmup": 10, "checkpoints": [0, 120],
              "threads": 1},
    "interventions": [{"name": "c", "source": "canaries", "select": [0], "start": 5, "end": 100,
                       "every": 2}],
    "grid": {"intervention": ["c"]},
    "measure": {"eval_sequences": 4, "dist_positions": 8, "hidden_positions": 4, "batch_size": 8,
                "head_examples": 2, "check_duplicates": False},
}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    from pathdep.measure import measure
    from pathdep.train import train

    root = tmp_path_factory.mktemp("wp")
    suite = train(parse_spec(SPEC), root / "suite")
    res = measure(suite, out=root / "m.zarr")
    assert res.ok
    return open_store(root / "m.zarr"), suite, root


def test_store_has_behavior_margins_and_items(measured):
    ds, _, _ = measured
    assert ds.behavior.dims == ("run", "step", "probe")
    assert ds.behavior_margin.dims == ("run", "step", "probe")
    assert ds.probe_item_correct.dims == ("run", "step", "item")
    assert set(ds.item_probe.values) == set(ds.probe.values)
    assert "brackets" in ds.probe.values and "canary_early" in ds.probe.values
    assert set(ds.probe_scoring.values) == {"sum"}  # the world battery keeps total log-probs
    acc = ds.behavior.sel(step=120).values[0]
    items = ds.probe_item_correct.sel(step=120).values[0]
    for i, p in enumerate(ds.probe.values):  # accuracy is the mean of the item results
        assert acc[i] == pytest.approx(items[ds.item_probe.values == p].mean())


def test_trained_model_beats_random_init(measured):
    ds, _, _ = measured
    b = ds.behavior.isel(run=0).to_pandas()  # (step, probe)
    for p in ("end_punct", "capital"):
        assert b.loc[120, p] > b.loc[0, p] + 0.2, (p, b[p].tolist())
    assert b.loc[120, "canary_early"] == 1.0  # the injected canary is memorised
    assert b.loc[120, "iv:c"] == 1.0  # ... and followed as the intervention's target


def test_store_records_what_each_run_saw_when(measured):
    import json

    ds, _, _ = measured
    seen = json.loads(ds.attrs["seen"])
    assert seen["seed0-data0-c"]["canary:0"] == list(range(5, 101, 2))
    assert any(k.startswith("fact:") for k in seen["seed0-data0-c"])  # rare facts are tracked
    items = ds.item_id.values[ds.item_probe.values == "iv:c"]
    assert list(items) == ["canary:0"]
    assert ds.behavior_margin.sel(step=120, probe="end_punct").item() > 0


def test_probes_none_and_old_stores_measure_without_probes(measured, tmp_path):
    from pathdep.measure import measure
    from pathdep.spec import MeasureSpec

    _, suite, _ = measured
    opts = MeasureSpec(**{**SPEC["measure"], "probes": "none"})
    measure(suite, out=tmp_path / "plain.zarr", config=opts, steps=[0])
    ds = open_store(tmp_path / "plain.zarr")
    assert "behavior" not in ds and "probe" not in ds.dims
    again = measure(suite, out=tmp_path / "plain.zarr", steps=[120])  # "auto" now: probes
    after = open_store(tmp_path / "plain.zarr")
    assert again.ok and bool(after.done.all()) and "behavior" not in after


def test_remeasuring_a_store_with_probes_skips_its_jobs(measured):
    from pathdep.measure import measure

    _, suite, root = measured
    again = measure(suite, out=root / "m.zarr")
    assert again.ok and not again.measured and len(again.skipped) == 2

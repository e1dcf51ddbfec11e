"""measure() end to end on tiny suites: layout, idempotence, failures, mismatches, the CLI."""

import shutil

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from pathdep import progress
from pathdep.errors import PathdepError
from pathdep.measure import measure
from pathdep.measure.cli import measure_cmd
from pathdep.spec import MeasureSpec
from pathdep.store import open_store

from .suitekit import build_suite, spec_dict


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    suite = build_suite(root, runs=("a", "b"), steps_of={"a": (0, 10, 100), "b": (0, 50)})
    result = measure(suite, out=root / "m.zarr")
    return suite, root, result


def test_store_layout_and_values(measured):
    suite, root, result = measured
    assert result.ok and len(result.measured) == 5
    ds = open_store(root / "m.zarr")
    assert list(ds.run.values) == ["a", "b"] and list(ds.step.values) == [0, 10, 50, 100]
    assert ds.done.values.tolist() == [[True, True, False, True], [True, False, True, False]]
    assert np.isnan(ds.logprob.sel(run="b", step=10)).all()  # union of steps: missing = NaN
    assert ds.logprob.dims == ("run", "step", "seq", "pos") and ds.logprob.shape[2:] == (8, 32)
    assert ds.dist_logp.shape[2:] == (16, 11) and ds.hidden.shape[2:] == (3, 8, 32)
    assert ds.head_score.dims == ("run", "step", "layer_h", "head", "kind")
    assert list(ds.factor_seed.values) == [0, 1]
    assert ds.tokens_seen.sel(run="a", step=100) == 100 * 128
    assert ds.train_loss.sel(run="a", step=0) == pytest.approx(3.0)
    lp = ds.logprob.sel(run="a", step=10).values
    assert ds.loss.sel(run="a", step=10) == pytest.approx(-np.nanmean(lp), abs=1e-5)
    assert ds.attrs["icl_early_pos"] == 3 and ds.attrs["icl_late_pos"] == 31
    assert len(ds.attrs["eval_hash"]) == 64 and ds.attrs["suite"] == "tiny"


def test_stored_logprobs_match_the_checkpoints_own_loss(measured):
    import torch

    from pathdep.models import load_model

    suite, root, _ = measured
    ds = open_store(root / "m.zarr")
    run = suite.run("b")
    model = load_model(run, run.checkpoint(50))
    for i in range(3):
        x = torch.as_tensor(ds.tokens.values[i : i + 1]).long()
        with torch.no_grad():
            loss = model(x, labels=x).loss.item()
        lp = ds.logprob.sel(run="b", step=50).values[i, 1:]
        assert abs(-lp.mean() - loss) < 1e-5


def test_duplicate_checkpoints_are_recorded(tmp_path):
    import json

    from .suitekit import save_checkpoint, tokenizer_for

    suite = build_suite(tmp_path / "s", runs=("a",), steps=(0, 10, 20))
    save_checkpoint(tmp_path / "s/runs/a/checkpoints/step-0000020", 10, tokenizer_for(10), step=20)
    opts = MeasureSpec(**spec_dict()["measure"]).model_copy(update={"check_duplicates": True})
    measure(suite, out=tmp_path / "m.zarr", config=opts)
    dups = json.loads(open_store(tmp_path / "m.zarr").attrs["duplicates"])
    assert dups == [{"run": "a", "steps": [10, 20]}]


def test_rerun_skips_done_jobs(measured):
    suite, root, _ = measured
    before = open_store(root / "m.zarr").logprob.values
    again = measure(suite, out=root / "m.zarr")
    assert again.measured == [] and len(again.skipped) == 5
    np.testing.assert_array_equal(open_store(root / "m.zarr").logprob.values, before)


def test_mismatched_store_is_refused(measured, tmp_path):
    suite, root, _ = measured
    other = tmp_path / "e.txt"
    other.write_text(" ".join(f"s{i % 7}" for i in range(400)))
    with pytest.raises(PathdepError, match="another evaluation set"):
        measure(suite, out=root / "m.zarr", evalset=other)
    renamed = suite.model_copy(update={"name": "other"})
    with pytest.raises(PathdepError, match="holds suite 'tiny'"):
        measure(renamed, out=root / "m.zarr")
    opts = MeasureSpec(**spec_dict()["measure"]).model_copy(update={"dist_positions": 4})
    with pytest.raises(PathdepError, match="other measure options"):
        measure(suite, out=root / "m.zarr", config=opts)


@pytest.fixture
def quiet():
    yield
    progress.enable(False)  # the command turns progress bars on for the session


def test_bad_checkpoints_fail_alone_and_the_cli_exits_nonzero(tmp_path, quiet):
    build_suite(tmp_path / "s", runs=("a",), steps=(0, 10, 20))
    (tmp_path / "s/runs/a/checkpoints/step-0000010/model.safetensors").write_bytes(b"garbage")
    shutil.rmtree(tmp_path / "s/runs/a/checkpoints/step-0000020")
    app = typer.Typer()
    app.command()(measure_cmd)
    res = CliRunner().invoke(app, [str(tmp_path / "s"), "--out", str(tmp_path / "m.zarr")])
    assert res.exit_code == 1, res.output
    assert "1 measured" in res.output and "2 failed" in res.output
    assert "corrupt" in res.output and "does not exist" in res.output
    assert open_store(tmp_path / "m.zarr").done.values.tolist() == [[True, False, False]]
    bad = CliRunner().invoke(app, [str(tmp_path / "s"), "--out", str(tmp_path / "x.zarr"),
                                   "--eval", "no-such-file.txt"])
    assert bad.exit_code == 2 and "neither a file" in bad.output


def test_narrowing_measures_only_some_jobs(tmp_path):
    suite = build_suite(tmp_path / "s", runs=("a", "b"), steps=(0, 10))
    r = measure(suite, out=tmp_path / "m.zarr", runs=["a"], steps="10")
    assert r.measured == [("a", 10)]
    ds = open_store(tmp_path / "m.zarr")
    assert ds.done.shape == (2, 2) and int(ds.done.sum()) == 1  # laid out for the whole suite


def test_a_store_whose_probe_items_changed_under_the_same_name_says_so(tmp_path):
    suite = build_suite(tmp_path / "s", runs=("a",), steps=(0, 10))

    def probe_file(right: str):
        f = tmp_path / f"p-{right}.toml"
        f.write_text(f'name = "p"\n[[items]]\nprompt = "s1 s2"\ncorrect = " {right}"\n'
                     'incorrect = " s4"\n')
        return str(f)

    opts = MeasureSpec(**spec_dict()["measure"])
    measure(suite, out=tmp_path / "m.zarr", config=opts.model_copy(
        update={"probes": [probe_file("s3")]}))
    with pytest.raises(PathdepError, match="same probes by name.*new --out"):
        measure(suite, out=tmp_path / "m.zarr", config=opts.model_copy(
            update={"probes": [probe_file("s5")]}))

"""``pathdep analyze``: the command is a thin shell over ``analyze``."""

import pytest
import typer
from typer.testing import CliRunner

from pathdep.analyze import REGISTRY
from pathdep.analyze.cli import analyze_cmd

app = typer.Typer()
app.command()(analyze_cmd)


def test_list():
    out = CliRunner().invoke(app, ["--list"])
    assert out.exit_code == 0
    assert all(name in out.output for name in REGISTRY)


@pytest.mark.filterwarnings("ignore")
def test_run_one_analysis(zarr_path, tmp_path):
    out = CliRunner().invoke(app, [str(zarr_path), "--only", "agreement", "--n-boot", "10",
                                   "--out", str(tmp_path / "res")])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("agreement: At step")
    assert (tmp_path / "res" / "agreement" / "summary.json").exists()


@pytest.mark.filterwarnings("ignore")
def test_rerun_reuses_saved_results_until_the_store_or_options_change(zarr_path, tmp_path,
                                                                      monkeypatch):
    from pathdep.analyze import registry, runner

    res = tmp_path / "res"
    first = runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=10)
    calls = []
    real = runner.run_one

    def counting(entry, ds, **kw):
        calls.append(entry.name)
        return real(entry, ds, **kw)

    monkeypatch.setattr(runner, "run_one", counting)
    again = runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=10)
    assert calls == [] and again["agreement"].verdict == first["agreement"].verdict
    runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=11)  # other options
    runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=11, reuse=False)  # --force
    assert calls == ["agreement", "agreement"]
    # a store with one more (or one fewer) measured cell is another store
    entry = registry.get("agreement")
    from pathdep.analysis.data import open_store

    opened = open_store(zarr_path)
    fp = runner.fingerprint(entry, opened, None, 11, 0)
    changed = opened.copy()
    changed["done"] = changed["done"].copy(data=~changed["done"].values)
    assert runner.fingerprint(entry, changed, None, 11, 0) != fp

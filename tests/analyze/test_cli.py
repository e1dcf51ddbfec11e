"""``pathdep analyze``: the command is a thin shell over ``analyze``."""

import pytest
import typer
from typer.testing import CliRunner

from pathdep.analysis.result import Interval
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

    def counting(entry, ctx, options):
        calls.append(entry.name)
        return real(entry, ctx, options)

    monkeypatch.setattr(runner, "run_one", counting)
    again = runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=10)
    assert calls == [] and again["agreement"].verdict == first["agreement"].verdict
    assert again["agreement"].summary == first["agreement"].summary  # fresh and reused alike
    assert isinstance(again["agreement"].summary["pearson_mean"], Interval)
    runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=11)  # other options
    runner.analyze(zarr_path, out=res, names=["agreement"], n_boot=11, reuse=False)  # --force
    assert calls == ["agreement", "agreement"]
    # a store with one more (or one fewer) measured cell is another store
    entry = registry.get("agreement")
    from pathdep.analysis.contract import Context
    from pathdep.analysis.data import open_store

    opened = open_store(zarr_path)
    options = entry.options.build(n_boot=11)
    fp = runner._fingerprint(entry, Context(ds=opened), options)
    changed = opened.copy()
    changed["done"] = changed["done"].copy(data=~changed["done"].values)
    assert runner._fingerprint(entry, Context(ds=changed), options) != fp


def test_the_fingerprint_covers_the_helpers_an_analysis_imports(monkeypatch):
    """A change in a shared helper (bootstrap.py) must not reuse a stale result."""
    from pathdep.analysis import fingerprint as fpm

    closure = fpm.closure("pathdep.analyze.agreement")
    assert {"pathdep.analyze.agreement", "pathdep.analysis.pairs",
            "pathdep.analysis.bootstrap", "pathdep.analysis.data"} <= set(closure)
    assert "pathdep.analyze.cka" not in closure  # only what it imports
    before = fpm.code_digest("pathdep.analyze.agreement")
    real = fpm._source("pathdep.analysis.bootstrap")[0]
    fake = real.with_name("_edited_bootstrap_for_test.py")
    try:
        fake.write_text(real.read_text() + "\n# an edit\n")
        monkeypatch.setattr(fpm, "_source", lambda m, orig=fpm._source: (
            (fake, False) if m == "pathdep.analysis.bootstrap" else orig(m)))
        fpm.code_digest.cache_clear()
        assert fpm.code_digest("pathdep.analyze.agreement") != before
    finally:
        fake.unlink()
        fpm.code_digest.cache_clear()

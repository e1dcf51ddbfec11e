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

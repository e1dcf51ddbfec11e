import subprocess
import sys

from typer.testing import CliRunner

from pathdep.cli import app

runner = CliRunner()


def test_validate_lists_runs():
    from pathdep.pipeline import EXAMPLES

    r = runner.invoke(app, ["validate", str(EXAMPLES / "quick.toml")])
    assert r.exit_code == 0, r.output
    assert "seed1-data1" in r.output and "is valid" in r.output


def test_bad_spec_exits_2_with_the_key(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('name = "x"\n[data]\ngenerator = "world"\nn_doc = 3\n[train]\nsteps = 1\n')
    r = runner.invoke(app, ["validate", str(p)])
    assert r.exit_code == 2
    assert "data.n_doc" in r.output and "n_docs" in r.output


def test_missing_spec_exits_2(tmp_path):
    r = runner.invoke(app, ["train", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not exist" in r.output
    assert not (tmp_path / "o").exists()


def test_console_script_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "pathdep.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "demo" in r.stdout

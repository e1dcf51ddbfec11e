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


def test_an_unknown_analysis_in_the_spec_exits_2_before_training(tmp_path):
    from pathdep.pipeline import EXAMPLES

    p = tmp_path / "s.toml"
    p.write_text((EXAMPLES / "quick.toml").read_text() + '\n[report]\nanalyses = ["clustrs"]\n')
    for cmd in (["run", str(p), "--out", str(tmp_path / "o")], ["validate", str(p)]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 2, r.output
        assert "report.analyses" in r.output and "did you mean clusters" in r.output
    assert not (tmp_path / "o").exists()


def test_missing_spec_exits_2(tmp_path):
    r = runner.invoke(app, ["train", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not exist" in r.output
    assert not (tmp_path / "o").exists()


def test_console_script_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "pathdep.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "demo" in r.stdout


def test_every_command_is_registered_statically():
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert {"validate", "train", "run", "demo", "suites", "ls", "measure", "analyze", "report",
            "barriers", "rl", "forking", "prompts"} <= names


def test_a_missing_optional_dependency_says_what_to_install():
    import typer

    from pathdep.cli import friendly

    def needs_ray():
        raise ModuleNotFoundError("No module named 'ray'", name="ray")

    app2 = typer.Typer()
    app2.command()(friendly(needs_ray))
    r = runner.invoke(app2, [])
    assert r.exit_code == 2 and "install pathdep[ray]" in r.output


def test_unknown_run_id_exits_2_with_the_nearest_and_trains_nothing(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "tiny"\n[data]\ngenerator = "markov-mixture"\nn_docs = 50\n'
                    '[train]\nsteps = 2\n[grid]\nseed = [0, 1]\n')
    out = tmp_path / "o"
    r = runner.invoke(app, ["train", str(spec), "--out", str(out), "--run", "seed0-data0", "--run", "seed0-dta0"])
    assert r.exit_code == 2, r.output
    assert "seed0-dta0" in r.output and "did you mean 'seed0-data0'" in r.output
    assert not out.exists()


def test_every_run_pattern_must_match():
    import pytest

    from pathdep.errors import PathdepError
    from pathdep.suites import Run, Suite, select

    suite = Suite(name="s", runs=[Run(id="seed0-data0"), Run(id="seed1-data0")])
    assert select(suite, runs=["seed1-*"]).run_ids == ["seed1-data0"]
    with pytest.raises(PathdepError, match="did you mean 'seed1-data0'"):
        select(suite, runs=["seed0-data0", "seed1-dta0"])


def test_one_vocabulary_out_runs_and_verbose_on_every_command():
    """-o/--out for outputs, -v/--verbose on every command, --runs (not --run) to narrow."""
    import typer.core
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        opts = {o for p in cmd.params if isinstance(p, typer.core.TyperOption) for o in p.opts}
        assert {"-v", "--verbose"} <= opts, name
        if "--out" in opts:
            assert "-o" in opts, name
        assert "-o" not in opts or "--out" in opts, name  # -o never means anything else
    for name in ("train", "measure", "barriers"):
        opts = {o for p in group.commands[name].params for o in getattr(p, "opts", [])}
        assert "--runs" in opts, name


def test_train_runs_takes_comma_separated_ids(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "tiny"\n[data]\ngenerator = "markov-mixture"\nn_docs = 50\n'
                    '[train]\nsteps = 2\n[grid]\nseed = [0, 1]\n')
    r = runner.invoke(app, ["train", str(spec), "-o", str(tmp_path / "o"),
                            "--runs", "seed0-data0,seed1-dta0"])
    assert r.exit_code == 2 and "did you mean 'seed1-data0'" in r.output, r.output


def test_a_spec_where_a_suite_is_expected_says_train_it_first(tmp_path):
    from pathdep.pipeline import EXAMPLES

    spec = str(EXAMPLES / "quick.toml")
    for argv in (["measure", spec, "-o", str(tmp_path / "m.zarr")], ["barriers", spec],
                 ["rl", spec], ["forking", spec], ["prompts", spec]):
        r = runner.invoke(app, argv)
        assert r.exit_code == 2, (argv, r.output)
        assert "is a spec, not a trained suite" in r.output and "pathdep train" in r.output, argv
    assert not (tmp_path / "m.zarr").exists()

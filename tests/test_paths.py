"""Names that become paths never lead outside --out; a failed start never locks the folder."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pathdep.cli import app
from pathdep.errors import PathdepError
from pathdep.paths import check_name, inside
from pathdep.spec import parse_spec
from pathdep.train.grid import expand_grid
from tests.conftest import tiny_spec_dict, write_toml

runner = CliRunner()


@pytest.mark.parametrize("bad", ["..", ".", "../../../escaped-run", "/tmp/abs", "a/b", "a\\b",
                                 ".hidden", "", "x" * 129])
def test_unsafe_names_are_refused(bad):
    with pytest.raises(ValueError, match="not a safe file name"):
        check_name("run", bad)


@pytest.mark.parametrize("good", ["seed0-data1", "lr0.003", "world:facts", "a+b", "_x"])
def test_safe_names_pass(good):
    assert check_name("run", good) == good


@pytest.mark.parametrize("where", ["variant", "branch", "suite", "intervention"])
def test_spec_names_are_checked(where):
    d = tiny_spec_dict()
    bad = "../../../escaped-run"
    if where == "variant":
        d["grid"]["variants"] = [{"name": bad, "lr": 1e-3}]
    elif where == "branch":
        d["branches"] = [{"name": bad, "parent": "seed0", "at": [4]}]
    elif where == "suite":
        d["name"] = bad
    else:
        d["interventions"] = [{"name": bad, "docs": ["x"], "start": 1, "end": 2}]
    with pytest.raises(PathdepError, match="not a safe file name"):
        parse_spec(d)


def test_generated_run_id_with_a_slash_is_refused(monkeypatch):
    """Run ids made from factor values are checked too, not only names given by the user."""
    from pathdep.train import grid

    spec = parse_spec(tiny_spec_dict())
    assert [p.id for p in expand_grid(spec)] == ["seed0-data0", "seed1-data0"]
    monkeypatch.setattr(grid, "_run_id", lambda values, varying: f"seed{values['seed']}/x")
    with pytest.raises(PathdepError, match="'seed0/x' is not a safe file name"):
        expand_grid(spec)


def test_variant_traversal_exits_2_and_writes_nothing(tmp_path):
    d = tiny_spec_dict()
    d["grid"]["variants"] = [{"name": "../../../escaped-run", "lr": 1e-3}]
    spec = tmp_path / "s.toml"
    write_toml(spec, d)
    out = tmp_path / "trav" / "a" / "b"
    r = runner.invoke(app, ["train", str(spec), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "not a safe file name" in r.output
    assert not (tmp_path / "trav").exists()


def test_symlink_inside_out_is_refused(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "runs").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "runs" / "seed0")
    with pytest.raises(PathdepError, match="outside the output folder"):
        inside(out, out / "runs" / "seed0" / "checkpoints")
    assert inside(out, out / "runs" / "seed1") == out / "runs" / "seed1"


def _text_spec(tmp_path: Path, corpus: Path) -> Path:
    d = tiny_spec_dict(data={"generator": "text", "path": str(corpus)})
    d["grid"] = {"seed": [0]}
    d["train"]["steps"] = 4
    d["train"]["checkpoints"] = [4]
    p = tmp_path / "spec.toml"
    write_toml(p, d)
    return p


def test_failed_start_leaves_nothing_and_the_fixed_rerun_works(tmp_path):
    corpus = tmp_path / "corpus.txt"
    spec = _text_spec(tmp_path, corpus)  # the corpus does not exist yet
    out = tmp_path / "X"
    r = runner.invoke(app, ["train", str(spec), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "corpus.txt" in r.output, r.output  # it failed on the corpus, not on the spec
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    # an --out that existed (empty) keeps existing, and is left empty
    out.mkdir()
    r = runner.invoke(app, ["train", str(spec), "--out", str(out)])
    assert r.exit_code == 2 and list(out.iterdir()) == []
    corpus.write_text("\n\n".join(f"the cat number {i} sat on the mat." for i in range(300)))
    r = runner.invoke(app, ["train", str(spec), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "runs" / "seed0-data0" / "checkpoints" / "step-0000004").is_dir()


def test_leftovers_of_a_failed_start_are_reused(tmp_path):
    """A folder holding only spec.json of another spec (a crash before the data) is taken over."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(f"the dog number {i} ran." for i in range(300)))
    spec = _text_spec(tmp_path, corpus)
    out = tmp_path / "X"
    out.mkdir()
    (out / "spec.json").write_text(json.dumps({"name": "old", "digest": "0" * 16}))
    r = runner.invoke(app, ["train", str(spec), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "spec.json").read_text())["name"] == "tiny"
    # a real suite (with data) of another spec is still refused
    d = tiny_spec_dict(data={"generator": "text", "path": str(corpus)})
    d["name"] = "other"
    other = tmp_path / "other.toml"
    write_toml(other, d)
    r = runner.invoke(app, ["train", str(other), "--out", str(out)])
    assert r.exit_code == 2 and "already holds a different suite" in r.output

"""[model] arch: GPT-2 beside GPT-NeoX, its validation, and crossing it in the grid (issue 13)."""

import json

import pytest
from typer.testing import CliRunner

from pathdep.cli import app
from pathdep.errors import PathdepError
from pathdep.spec import ModelSpec, parse_spec
from pathdep.train.grid import expand_grid
from tests.conftest import tiny_spec_dict, write_toml


def test_gpt2_with_rotary_pct_is_an_error_naming_the_key():
    with pytest.raises(PathdepError) as e:
        parse_spec(tiny_spec_dict(model={"arch": "gpt2", "rotary_pct": 1.0}))
    msg = str(e.value)
    assert "model: model.rotary_pct is a gpt_neox key" in msg and "'gpt2'" in msg
    assert "Keys allowed with arch = 'gpt2':" in msg and "context" in msg
    allowed = msg.split("Keys allowed with arch = 'gpt2':")[1]
    assert "rotary_pct" not in allowed and "parallel_residual" not in allowed


def test_gpt2_with_parallel_residual_is_an_error_but_defaults_are_not():
    with pytest.raises(PathdepError, match="parallel_residual is a gpt_neox key"):
        parse_spec(tiny_spec_dict(model={"arch": "gpt2", "parallel_residual": False}))
    spec = parse_spec(tiny_spec_dict(model={"arch": "gpt2"}))  # the defaults do not trip it
    assert spec.model.arch == "gpt2"


def test_unknown_arch_names_what_is_allowed():
    with pytest.raises(PathdepError) as e:
        parse_spec(tiny_spec_dict(model={"arch": "llama"}))
    assert "model.arch" in str(e.value) and "'gpt_neox' or 'gpt2'" in str(e.value)


def test_cli_validate_exits_2_naming_rotary_pct(tmp_path):
    path = write_toml(tmp_path / "s.toml", tiny_spec_dict(model={"arch": "gpt2", "rotary_pct": 0.5}))
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert "rotary_pct" in r.output and "gpt_neox" in r.output


def test_a_gpt2_spec_round_trips_through_its_dump():
    """The saved spec.json is parsed again (measure, probes): it must not carry GPT-NeoX keys."""
    spec = parse_spec(tiny_spec_dict(model={"arch": "gpt2"}))
    dump = spec.model_dump(mode="json")
    assert dump["model"]["arch"] == "gpt2"
    assert "rotary_pct" not in dump["model"] and "parallel_residual" not in dump["model"]
    again = parse_spec(json.loads(json.dumps(dump)))
    assert again.digest() == spec.digest() and again.model == spec.model


def test_default_arch_is_left_out_of_the_dump():
    spec = parse_spec(tiny_spec_dict())
    assert spec.model.arch == "gpt_neox" and "arch" not in spec.model_dump()["model"]
    explicit = parse_spec(tiny_spec_dict(model={"arch": "gpt_neox"}))
    assert explicit.digest() == spec.digest()
    assert parse_spec(tiny_spec_dict(model={"arch": "gpt2"})).digest() != spec.digest()


def test_the_grid_crosses_arch():
    spec = parse_spec(tiny_spec_dict(model={"rotary_pct": 1.0},
                                     grid={"seed": [0, 1], "arch": ["gpt_neox", "gpt2"]}))
    plans = expand_grid(spec)
    assert [p.id for p in plans] == ["seed0-data0-archgpt_neox", "seed0-data0-archgpt2",
                                     "seed1-data0-archgpt_neox", "seed1-data0-archgpt2"]
    by_arch = {p.model.arch: p for p in plans}
    assert by_arch["gpt_neox"].model.rotary_pct == 1.0  # [model] keys of one arch go to its runs
    assert "rotary_pct" not in by_arch["gpt2"].model.model_dump()
    assert {p.factors["arch"] for p in plans} == {"gpt_neox", "gpt2"}


def test_a_variant_switches_arch():
    spec = parse_spec(tiny_spec_dict(model={"rotary_pct": 1.0},
                                     grid={"seed": [0], "variants": [{"name": "g", "arch": "gpt2"}]}))
    plans = {p.id: p for p in expand_grid(spec)}
    assert plans["g"].model.arch == "gpt2" and plans["seed0-data0"].model.arch == "gpt_neox"
    assert plans["g"].factors["arch"] == "gpt2" and plans["seed0-data0"].factors["arch"] == "gpt_neox"


@pytest.mark.parametrize("grid", [
    {"arch": ["gpt_neox", "gpt2"], "rotary_pct": [0.25, 1.0]},  # the same combination gives both
    {"variants": [{"arch": "gpt2", "rotary_pct": 0.5}]},
])
def test_the_grid_giving_a_neox_key_to_a_gpt2_run_is_an_error(grid, tmp_path):
    d = tiny_spec_dict(grid=grid)
    with pytest.raises(PathdepError, match="rotary_pct is a gpt_neox key"):
        expand_grid(parse_spec(d))
    r = CliRunner().invoke(app, ["validate", str(write_toml(tmp_path / "s.toml", d))])
    assert r.exit_code == 2 and "rotary_pct" in r.output


def test_a_bad_arch_in_the_grid_is_an_error():
    with pytest.raises(PathdepError, match="gpt_neox' or 'gpt2"):
        expand_grid(parse_spec(tiny_spec_dict(grid={"arch": ["gpt_neox", "mamba"]})))


def test_model_spec_description_says_why():
    desc = ModelSpec.model_fields["arch"].description
    assert "learned absolute position" in desc and "rotary" in desc

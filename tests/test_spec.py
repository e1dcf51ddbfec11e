import pytest

from pathdep.errors import PathdepError
from pathdep.spec import load_spec, parse_spec
from tests.conftest import tiny_spec_dict


def test_shipped_examples_are_valid():
    from pathdep.pipeline import EXAMPLES

    for name in ("quick.toml", "demo.toml"):
        spec = load_spec(EXAMPLES / name)
        assert spec.name


def test_unknown_key_names_key_and_allowed_keys():
    d = tiny_spec_dict()
    d["model"]["layers"] = 3
    with pytest.raises(PathdepError) as e:
        parse_spec(d)
    msg = str(e.value)
    assert "model.layers" in msg and "unknown key" in msg and "n_layers" in msg


def test_bad_value_names_value_and_allowed():
    d = tiny_spec_dict()
    d["train"]["schedule"] = "exponential"
    with pytest.raises(PathdepError) as e:
        parse_spec(d)
    msg = str(e.value)
    assert "train.schedule" in msg and "'exponential'" in msg and "cosine" in msg


def test_grid_rejects_unknown_factor():
    d = tiny_spec_dict(grid={"learning_rate": [1e-3]})
    with pytest.raises(PathdepError, match="grid.learning_rate is not a factor"):
        parse_spec(d)


def test_malformed_toml(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("name = 'x'\n[data\n")
    with pytest.raises(PathdepError, match="not valid TOML"):
        load_spec(p)


def test_spec_digest_changes_with_content():
    a = parse_spec(tiny_spec_dict())
    b = parse_spec(tiny_spec_dict(train={"lr": 1e-2}))
    assert a.digest() != b.digest() and a.digest() == parse_spec(tiny_spec_dict()).digest()

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


def test_each_intervention_kind_has_its_class():
    from pathdep import spec as S

    ivs = [{"name": "d", "docs": ["a b"], "start": 1, "end": 2},
           {"name": "f", "file": "x.txt", "start": 1, "end": 2},
           {"name": "c", "source": "canaries", "start": 1, "end": 2},
           {"name": "cf", "source": "counterfactual", "n_facts": 2, "start": 1, "end": 2},
           {"name": "b", "source": "behavior", "behavior": "emails", "start": 1, "end": 2},
           {"name": "lr", "lr_scale": 2.0, "start": 1, "end": 2}]
    got = parse_spec(tiny_spec_dict(interventions=ivs)).interventions
    assert [type(i) for i in got] == [S.DocsIntervention, S.FileIntervention, S.CanaryIntervention,
                                      S.CounterfactualIntervention, S.BehaviorIntervention,
                                      S.LRIntervention]
    assert [i.injects for i in got] == [True] * 5 + [False]


@pytest.mark.parametrize("iv, message", [
    ({"docs": ["a"], "lr_scale": 2.0}, "needs exactly one of docs, file"),
    ({}, "needs exactly one of docs, file"),
    ({"source": "behavior"}, "go together"),
    ({"source": "canaries", "behavior": "emails"}, "go together"),
    ({"source": "bogus"}, "source must be 'canaries', 'counterfactual' or 'behavior', got 'bogus'"),
    ({"source": "canaries", "rowz": 2}, "interventions.0.rowz: unknown key; allowed here: end, every"),
    ({"lr_scale": 2.0, "start": 3}, "end (2) is before start (3)"),
])
def test_intervention_errors_name_the_problem(iv, message):
    with pytest.raises(PathdepError) as e:
        parse_spec(tiny_spec_dict(interventions=[{"name": "x", "start": 1, "end": 2, **iv}]))
    assert message in str(e.value)

"""Pinned spec digests: a refactor or a dependency upgrade must not orphan trained suites.

A suite folder is identified by its spec digest (``OUT/spec.json``); a resumed
run whose spec hashes differently is refused as "a different suite". The
values below were computed before interventions became a discriminated union
(pydantic 2.13); they must never change.
"""

import json

import pytest

from pathdep.pipeline import EXAMPLES
from pathdep.spec import load_spec, parse_spec
from tests.conftest import tiny_spec_dict

SHIPPED = {
    "demo.toml": "8a9dfac61fb92448",
    "interventions.toml": "7177888c9764c263",
    "quick.toml": "117df0b92047654e",
}

# One intervention of every kind, with and without the optional keys.
EVERY_KIND = [
    {"name": "d", "docs": ["s1 s2"], "start": 1, "end": 3},
    {"name": "f", "file": "/abs/canaries.txt", "start": 0, "end": 9, "every": 3, "rows": 2},
    {"name": "c", "source": "canaries", "select": [0, 2], "start": 5, "end": 6},
    {"name": "c2", "source": "canaries", "start": 5, "end": 6},
    {"name": "cf4", "source": "counterfactual", "start": 1, "end": 4},
    {"name": "cf6", "source": "counterfactual", "n_facts": 6, "select": [1], "start": 1, "end": 4},
    {"name": "b", "source": "behavior", "behavior": "brackets", "start": 2, "end": 8},
    {"name": "lr", "lr_scale": 5.0, "start": 1, "end": 2},
]
EVERY_KIND_DIGEST = "07caed0129ee2da4"
EVERY_KIND_DUMP = json.loads("""[
 {"docs": ["s1 s2"], "end": 3, "every": 1, "file": null, "name": "d", "rows": 1, "select": null, "source": null, "start": 1},
 {"docs": null, "end": 9, "every": 3, "file": "/abs/canaries.txt", "name": "f", "rows": 2, "select": null, "source": null, "start": 0},
 {"docs": null, "end": 6, "every": 1, "file": null, "name": "c", "rows": 1, "select": [0, 2], "source": "canaries", "start": 5},
 {"docs": null, "end": 6, "every": 1, "file": null, "name": "c2", "rows": 1, "select": null, "source": "canaries", "start": 5},
 {"docs": null, "end": 4, "every": 1, "file": null, "name": "cf4", "rows": 1, "select": null, "source": "counterfactual", "start": 1},
 {"docs": null, "end": 4, "every": 1, "file": null, "n_facts": 6, "name": "cf6", "rows": 1, "select": [1], "source": "counterfactual", "start": 1},
 {"behavior": "brackets", "docs": null, "end": 8, "every": 1, "file": null, "name": "b", "rows": 1, "select": null, "source": "behavior", "start": 2},
 {"docs": null, "end": 2, "every": 1, "file": null, "lr_scale": 5.0, "name": "lr", "rows": 1, "select": null, "source": null, "start": 1}
]""")


def _every_kind():
    names = ["none"] + [i["name"] for i in EVERY_KIND]
    return parse_spec(tiny_spec_dict(interventions=EVERY_KIND, grid={"intervention": names}))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_example_digest_is_pinned(name):
    assert load_spec(EXAMPLES / name).digest() == SHIPPED[name]


def test_every_shipped_example_is_pinned():
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == sorted(SHIPPED)


def test_every_intervention_kind_digest_and_dump_are_pinned():
    spec = _every_kind()
    assert spec.digest() == EVERY_KIND_DIGEST
    assert spec.model_dump(mode="json")["interventions"] == EVERY_KIND_DUMP


def test_a_dumped_spec_parses_back_to_the_same_digest():
    """Later stages re-read the spec saved in suite.json / spec.json."""
    for spec in [_every_kind()] + [load_spec(EXAMPLES / n) for n in SHIPPED]:
        again = parse_spec(spec.model_dump(mode="json"))
        assert again.digest() == spec.digest()
        assert again.model_dump(mode="json") == spec.model_dump(mode="json")

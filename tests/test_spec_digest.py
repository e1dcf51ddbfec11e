"""Pinned spec digests: a refactor or a dependency upgrade must not orphan trained suites.

A suite folder is identified by its spec digest (``OUT/spec.json``); a resumed
run whose spec hashes differently is refused as "a different suite". The
values below must not change by accident.

Changed on purpose once: ``[model] rotary_pct``'s default went from 0.25 to 1.0
(issue 13: with 0.25 no induction head forms in small models), so every spec
that does not set it hashes anew. The OLD_* pins (computed before interventions
became a discriminated union, pydantic 2.13) are kept and tested on the same
specs with ``rotary_pct = 0.25`` written out: that is how a suite trained
before the change is resumed. ``demo.toml`` changed once more on purpose: it
sets ``threads = 1`` so that ``pathdep demo`` can train its runs side by side in
worker processes (executors/processes.py) with the weights a serial run gives.
"""

import json
import re

import pytest

from pathdep.pipeline import EXAMPLES
from pathdep.spec import load_spec, parse_spec
from tests.conftest import tiny_spec_dict

SHIPPED = {
    "demo.toml": "d6e63db994801c43",  # threads = 1 (runs side by side; was fec4d5d0defd2eca)
    "interventions.toml": "7ad970cde0583e92",
    "quick.toml": "dd116b58d19fd23a",
    "induction.toml": "e24ef671424f6a41",  # cycle layout, 600 steps, rotary crossed (issue 13)
    "text.toml": "2e4766aa20b33767",
    # pathdep demo's second suite (issue 13); its probes went from "none" to the default (the
    # symbols battery: symbol_induction, for abrupt_behaviors) a day after it shipped: was
    # 5066ba976854b05a
    "demo_induction.toml": "01e95b88e11d8330",
}
OLD_SHIPPED = {  # rotary_pct = 0.25 (the default before issue 13)
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
EVERY_KIND_DIGEST = "5785b529fb1a97c6"
OLD_EVERY_KIND_DIGEST = "07caed0129ee2da4"  # rotary_pct = 0.25
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


def _every_kind(**model):
    names = ["none"] + [i["name"] for i in EVERY_KIND]
    return parse_spec(tiny_spec_dict(interventions=EVERY_KIND, grid={"intervention": names},
                                     model=model))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_example_digest_is_pinned(name):
    spec = load_spec(EXAMPLES / name)
    if getattr(spec.data, "path", None):  # a user's file, resolved against the spec's folder:
        spec.data.path = "corpus.txt"  # the digest of the spec as shipped, wherever it is installed
    assert spec.digest() == SHIPPED[name]


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


@pytest.mark.parametrize("name", sorted(OLD_SHIPPED))
def test_a_spec_that_writes_out_the_old_rotary_default_keeps_its_old_digest(name, tmp_path):
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert "rotary_pct" not in text and text.count("[model]\n") == 1
    old = tmp_path / name
    text = re.sub(r"\nthreads = 1 .*\n", "\n", text)  # demo.toml's later change, not this one
    old.write_text(text.replace("[model]\n", "[model]\nrotary_pct = 0.25\n"), encoding="utf-8")
    assert load_spec(old).digest() == OLD_SHIPPED[name]
    assert _every_kind(rotary_pct=0.25).digest() == OLD_EVERY_KIND_DIGEST


def test_the_rotary_default_is_part_of_the_digest():
    assert _every_kind(rotary_pct=1.0).digest() == EVERY_KIND_DIGEST
    assert _every_kind(rotary_pct=0.5).digest() not in (EVERY_KIND_DIGEST, OLD_EVERY_KIND_DIGEST)


def test_which_analyses_run_is_not_part_of_the_digest():
    """[report] analyses changes no weights: editing it must not orphan a trained suite."""
    spec = load_spec(EXAMPLES / "demo_induction.toml")
    d = spec.model_dump(mode="json")
    d["report"]["analyses"] = None
    assert parse_spec(d).digest() == spec.digest()
    d["report"]["analyses"] = ["clusters"]
    assert parse_spec(d).digest() == spec.digest()

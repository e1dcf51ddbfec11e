"""The world's second spellings (``spelling_variants``): off by default, consistent when on."""

from __future__ import annotations

import pytest

from pathdep.data.world import WorldConfig, generate
from pathdep.data.world_table import spelling_variant

SMALL = dict(n_docs=150, n_eval_docs=30, n_entities=16, n_canaries=2)


@pytest.mark.parametrize("split", ["train", "eval"])
def test_default_is_byte_identical_to_explicit_zero(split):
    a = generate(WorldConfig(**SMALL), split)
    b = generate(WorldConfig(**SMALL, spelling_variants=0.0), split)
    assert a.docs == b.docs and a.annotations == b.annotations and a.info == b.info
    assert "spellings" not in a.info
    assert all("written" not in f for ann in a.annotations for f in ann["facts"])
    # the option at 0 leaves the spec (and so the suite digest) unchanged
    assert "spelling_variants" not in WorldConfig(**SMALL).model_dump()


def test_the_rule():
    assert spelling_variant("Tamsin") == "Ytamsin"
    assert spelling_variant("brool") == "ybrool"
    assert spelling_variant("1876") is None


@pytest.mark.parametrize("split", ["train", "eval"])
def test_variants_are_written_annotated_and_otherwise_unchanged(split):
    base = generate(WorldConfig(**SMALL), split)
    c = generate(WorldConfig(**SMALL, spelling_variants=0.4), split)
    sp = c.info["spellings"]
    values = {f["value"] for f in c.info["facts"]}
    assert set(sp) == {v for v in values if v.isalpha()}  # birth years do not vary
    assert len(set(sp.values())) == len(sp) and not set(sp.values()) & values  # injective
    n = {"standard": 0, "variant": 0}
    for text, ann in zip(c.docs, c.annotations, strict=True):
        for f in ann["facts"]:
            assert text[f["prompt_end"]:f["end"]] == f["written"]
            want = sp[f["value"]] if f["form"] == "variant" else f["value"]
            assert f["written"] == want
            if f["value"] in sp:
                n[f["form"]] += 1
    share = n["variant"] / sum(n.values())
    assert 0.2 < share < 0.6, share
    # the speller has its own random stream: undoing the variants gives the default corpus
    back = [t for t in c.docs]
    for i, ann in enumerate(c.annotations):
        for f in sorted(ann["facts"], key=lambda f: -f["prompt_end"]):
            t = back[i]
            back[i] = t[:f["prompt_end"]] + f["value"] + t[f["end"]:]
    assert back == base.docs
    assert generate(WorldConfig(**SMALL, spelling_variants=0.4), split).docs == c.docs

"""World probes agree with the generator's ground truth; a trained model beats random init."""

import pytest

from pathdep.data.world import WorldConfig, generate
from pathdep.probes.world import canary_groups, world_probes

CFG = WorldConfig(n_docs=20, n_eval_docs=40, n_entities=10, n_words=40, n_canaries=3)
SPEC = {"train": {"steps": 100}, "interventions": [
    {"source": "canaries", "select": [0], "start": 5, "end": 20},
    {"source": "canaries", "select": [1], "start": 70, "end": 90}]}


@pytest.fixture(scope="module")
def corpus():
    return generate(CFG, "eval")


def test_every_item_continues_an_eval_document_with_the_truth(corpus):
    probes = {p.name: p for p in world_probes(corpus, SPEC)}
    assert {"end_punct", "brackets", "capital", "email", "language", "induction",
            "fact_frequent", "fact_rare", "canary_early", "canary_late"} <= set(probes)
    for name, p in probes.items():
        for it in p.items:
            assert len(it.correct) == 1 and it.incorrect
            if name.startswith(("canary", "fact")):
                continue
            doc = int(it.id.split("@")[0].removeprefix("doc"))
            assert corpus.docs[doc].startswith(it.prompt + it.correct[0]), (name, it)


def test_items_match_the_annotations(corpus):
    probes = {p.name: p for p in world_probes(corpus, SPEC)}
    for it in probes["brackets"].items:
        assert it.correct[0] in ")]}" and set(it.incorrect) == set(")]}") - {it.correct[0]}
    for it in probes["end_punct"].items:
        assert it.correct[0] in ".!?" and len(it.incorrect) == 2
    for it in probes["capital"].items:
        assert it.correct[0][1].isupper() and it.incorrect[0] == it.correct[0].lower()
    facts = {f["id"]: f for f in corpus.info["facts"]}
    for name, rare in (("fact_frequent", False), ("fact_rare", True)):
        for it in probes[name].items:
            f = facts[it.id.split("@")[0]]
            assert f["rare"] is rare and it.correct == (" " + f["value"],)
            assert " " + f["value"] not in it.incorrect
    domains = corpus.info["domains"]
    for it in probes["email"].items:
        if it.id.endswith(":suffix"):
            assert it.correct[0] == domains[it.prompt.rsplit("@", 1)[1].rstrip(".")]
    for it in probes["induction"].items:
        assert it.correct[0].strip() in it.prompt  # seen in the first copy


def test_canaries_are_split_by_injection_step(corpus):
    assert canary_groups(corpus.info, SPEC) == {"early": [0], "late": [1], "none": [2]}
    probes = {p.name: p for p in world_probes(corpus, SPEC)}
    c0 = corpus.info["canaries"][0]
    assert probes["canary_early"].items[0].prompt == c0["prompt"]
    assert probes["canary_early"].items[0].correct == (c0["target"],)
    assert c0["target"] not in probes["canary_late"].items[0].correct


def test_copy_documents_are_not_the_languages_behaviours():
    """No probe item is cut from a copy document (drills are kept out of the language and
    induction probes only, as before copy documents existed)."""
    mixed = generate(CFG.model_copy(update={"copy_prob": 0.3, "drill_prob": 0.2,
                                            "copy_words": (8, 24)}), "eval")
    extra = {d for d, a in enumerate(mixed.annotations) if a.get("copy")}
    drills = {d for d, a in enumerate(mixed.annotations) if a.get("drill")}
    assert extra and drills
    for p in world_probes(mixed, SPEC):
        for it in p.items:
            if it.id.startswith("doc"):
                d = int(it.id.split("@")[0].removeprefix("doc"))
                assert d not in extra, (p.name, it)
                assert d not in drills or p.name not in ("language", "induction")

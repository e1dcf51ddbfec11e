"""Presets encode the public suites exactly (shared/reference/public-suites.md).

    pytest tests/suites/test_presets.py
"""

from __future__ import annotations

import logging

import pytest

from pathdep.errors import PathdepError
from pathdep.suites import load_suite
from pathdep.suites.model import Suite
from pathdep.suites.presets import PRESETS, get_preset, list_presets

PYTHIA_SIZES = ["14m", "31m", "70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b"]
POLY_SIZES = ["14m", "31m", "70m", "160m", "410m"]
EARLY = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def revisions(suite: Suite, run_id: str) -> list[str]:
    return [c.revision for c in suite.run(run_id).checkpoints]


def test_pythia_has_154_revisions_per_size():
    suite = get_preset("pythia")
    assert suite.run_ids == [f"pythia-{s}" for s in PYTHIA_SIZES]
    assert [r.factors["size"] for r in suite.runs] == PYTHIA_SIZES
    for run in suite.runs:
        assert {c.repo for c in run.checkpoints} == {f"EleutherAI/{run.id}"}
        revs = [c.revision for c in run.checkpoints]
        assert len(revs) == 154
        assert revs[:13] == [f"step{s}" for s in EARLY] + ["step1000", "step2000"]
        assert revs[-1] == "step143000"
        assert revs[11:] == [f"step{s}" for s in range(1000, 143001, 1000)]
    last = suite.run("pythia-70m").checkpoints[-1]
    assert last.step == 143000 and last.tokens_seen == 299_892_736_000


def test_pythia_deduped_and_single_size_presets():
    deduped = get_preset("pythia-deduped")
    assert [c.repo for r in deduped.runs for c in r.checkpoints[:1]] == [
        f"EleutherAI/pythia-{s}-deduped" for s in PYTHIA_SIZES
    ]
    one = get_preset("pythia-410m-deduped")
    assert one.run_ids == ["pythia-410m-deduped"] and len(one.runs[0].checkpoints) == 154
    assert get_preset("pythia-1.4b").runs[0].checkpoints[5].repo == "EleutherAI/pythia-1.4b"


def test_polypythias_50_runs_seed0_is_the_original_repo():
    suite = get_preset("polypythias")
    assert len(suite.runs) == 50
    assert {r.factors["size"] for r in suite.runs} == set(POLY_SIZES)
    for size in POLY_SIZES:
        per_size = get_preset(f"polypythias-{size}")
        assert [r.factors["seed"] for r in per_size.runs] == list(range(10))
        repos = [r.checkpoints[0].repo for r in per_size.runs]
        assert repos[0] == f"EleutherAI/pythia-{size}"
        assert repos[1:] == [f"EleutherAI/pythia-{size}-seed{n}" for n in range(1, 10)]
    assert revisions(suite, "pythia-70m-seed3") == revisions(get_preset("pythia-70m"), "pythia-70m")
    assert "main" not in {c.revision for r in suite.runs for c in r.checkpoints}
    assert any("init" in n and "data order" in n for n in suite.meta["notes"])


def test_polypythias_leaves_out_missing_checkpoints_with_a_note(caplog):
    with caplog.at_level(logging.INFO, logger="pathdep.suites.presets"):
        suite = get_preset("polypythias-410m")
    gaps = {"pythia-410m-seed9": 40000, "pythia-410m-seed6": 88000, "pythia-410m-seed2": 111000}
    for run in suite.runs:
        if run.id in gaps:
            assert len(run.steps) == 153 and gaps[run.id] not in run.steps
        else:
            assert len(run.steps) == 154
    assert suite.n_checkpoints == 1537
    assert "pythia-410m-seed9@step40000" in caplog.text
    assert len(suite.meta["missing_checkpoints"]) == 3
    assert get_preset("polypythias-160m").n_checkpoints == 1540


def test_decoupled_160m_factors_and_caveat():
    suite = get_preset("polypythias-160m-decoupled")
    assert [r.checkpoints[0].repo for r in suite.runs] == [
        f"EleutherAI/pythia-160m-{kind}-seed{n}" for kind in ("data", "weight") for n in (1, 2, 3)
    ]
    data = suite.run("pythia-160m-data-seed2").factors
    weight = suite.run("pythia-160m-weight-seed3").factors
    assert (data["data_seed"], data["seed"]) == (2, None)
    assert (weight["seed"], weight["data_seed"]) == (3, None)
    assert "pythia#203" in suite.meta["description"]
    assert any("pythia#203" in c for c in suite.meta["caveats"])
    assert all(len(r.checkpoints) == 154 for r in suite.runs)


CRFM = {
    "crfm-gpt2-small": ["alias-gpt2-small-x21", "battlestar-gpt2-small-x49",
                        "caprica-gpt2-small-x81", "darkmatter-gpt2-small-x343",
                        "expanse-gpt2-small-x777"],
    "crfm-gpt2-medium": ["arwen-gpt2-medium-x21", "beren-gpt2-medium-x49",
                         "celebrimbor-gpt2-medium-x81", "durin-gpt2-medium-x343",
                         "eowyn-gpt2-medium-x777"],
}


@pytest.mark.parametrize("name", list(CRFM))
def test_crfm_repos_and_609_checkpoints(name):
    suite = get_preset(name)
    assert [r.checkpoints[0].repo for r in suite.runs] == [f"stanford-crfm/{n}" for n in CRFM[name]]
    assert [r.factors["seed"] for r in suite.runs] == [21, 49, 81, 343, 777]
    for run in suite.runs:
        assert run.load_kwargs == {"attn_implementation": "eager"}
        assert run.tokenizer == "gpt2"
        revs = [c.revision for c in run.checkpoints]
        assert len(revs) == 609 and revs[0] == "checkpoint-0" and revs[-1] == "checkpoint-400000"
        steps = run.steps
        for a, b in [(90, 100), (1950, 2000), (19900, 20000), (20000, 21000)]:
            assert steps[steps.index(a) + 1] == b
        assert run.checkpoint(400000).tokens_seen == 400000 * 524_288


def test_narrow_a_preset_with_load_suite():
    suite = load_suite("crfm-gpt2-small", runs=["alias*"], steps="0:1000")
    assert suite.run_ids == ["alias-gpt2-small-x21"]
    assert suite.steps == [*range(0, 100, 10), *range(100, 1001, 50)]
    assert suite.source == "preset:crfm-gpt2-small"


def test_multiberts_is_listed_but_masked_lm():
    suite = get_preset("multiberts")
    assert suite.kind == "masked-lm" and len(suite.runs) == 25
    seed0 = suite.run("multiberts-seed_0")
    assert len(seed0.checkpoints) == 29
    assert seed0.checkpoints[0].repo == "google/multiberts-seed_0-step_0k"
    assert seed0.checkpoints[-1].repo == "google/multiberts-seed_0-step_2000k"
    assert [c.repo for c in suite.run("multiberts-seed_24").checkpoints] == [
        "google/multiberts-seed_24"
    ]
    row = next(r for r in list_presets() if r["name"] == "multiberts")
    assert row["loadable"] is False and row["kind"] == "masked-lm"


def test_list_presets_counts_match_the_built_suites():
    rows = {r["name"]: r for r in list_presets()}
    assert set(rows) == set(PRESETS)
    assert rows["pythia"]["n_checkpoints"] == 1540 and rows["pythia"]["loadable"] is True
    assert rows["polypythias"]["n_runs"] == 50
    assert rows["polypythias"]["n_checkpoints"] == 50 * 154 - 3
    assert rows["crfm-gpt2"]["n_checkpoints"] == 10 * 609
    assert set(rows["pythia-70m"]) == {
        "name", "description", "kind", "n_runs", "n_checkpoints", "loadable"
    }


def test_every_preset_round_trips_as_a_manifest():
    for name in PRESETS:
        suite = get_preset(name)
        assert suite.name == name and suite.runs
        assert Suite.model_validate_json(suite.model_dump_json()) == suite


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("pythia-70", "pythia-70m"), ("crfm-gpt2-smal", "crfm-gpt2-small"),
     ("polypythia-160m", "polypythias-160m")],
)
def test_unknown_preset_suggests_nearest(typo, suggestion):
    with pytest.raises(PathdepError, match="did you mean") as err:
        get_preset(typo)
    assert suggestion in str(err.value) and "pathdep suites" in str(err.value)

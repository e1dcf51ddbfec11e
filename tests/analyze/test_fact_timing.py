"""E (fact timing): late-seen facts recalled and early-seen ones forgotten give a within-fact
effect; recall that does not depend on timing gives none; missing inputs skip cleanly."""

import json

import numpy as np
import pytest

from pathdep.analysis.data import Skip
from pathdep.analyze.fact_timing import fact_timing
from pathdep.analyze.registry import REGISTRY

from .synthetic import add_fact_items, base


def _store(tau, seed=0):
    ds = base(n_runs=8, n_steps=12, n_seq=2, n_pos=4, seed=seed)
    ds = ds.assign_coords(step=np.arange(12) * 100)  # steps 0 … 1100, seen at 1 … 1100
    return add_fact_items(ds, n_rare=40, n_freq=10, n_canary=6, tau=tau, seed=seed)


@pytest.fixture(scope="module")
def dependent():
    ds = _store(tau=200.0)
    return ds, fact_timing(ds, n_boot=100)


def test_late_seen_facts_are_recalled_and_early_seen_ones_are_not(dependent):
    _, res = dependent
    s = res.summary
    assert s["main_kind"] == "rare" and s["bins"] == ["early", "middle", "late"]
    assert s["recall_late"].value > 0.35 and s["recall_early"].value < 0.2  # planted: 0.47, 0.1
    assert s["late_minus_early"].low > 0
    paired = s["within_fact_late_minus_early"]
    assert paired.value > 0.2 and paired.low > 0 and s["within_fact_p"] <= 0.05
    assert s["within_fact_slope_fraction"].low > 0 and s["significant"]
    assert abs(s["recall_frequent"].value - 0.9) < 0.1
    assert "recall depends on when in the data order a fact was seen" in res.verdict
    assert res.verdict.startswith("Rare facts last seen in the final third of training are")
    by = res.tables["recall_by_group"].set_index(["kind", "grouping", "group"])
    assert by.loc[("canary", "timing", "never"), "recall"] < 0.3  # never-injected canaries
    figs = {"recall_by_timing", "recall_by_count", "recall_over_steps", "forgetting"}
    assert figs <= set(res.figures)


def test_the_per_fact_table_matches_the_seen_record(dependent):
    ds, res = dependent
    seen = json.loads(ds.attrs["seen"])
    t = res.tables["facts"]
    rare = t[t.kind == "rare"]
    assert len(rare) == 8 * 40 and set(t.kind) == {"rare", "frequent", "canary"}
    for row in rare.sample(30, random_state=0).itertuples():
        s = [x for x in seen[row.run][row.fact] if x <= 1100]
        assert row.n_seen == len(s) and row.last_seen == max(s) and row.first_seen == min(s)
        frac = max(s) / 1100
        want = "early" if frac < 1 / 3 else "middle" if frac < 2 / 3 else "late"
        assert row.timing == want
    assert set(rare[rare.fact == "fact:e0:city"].n_items) == {2}  # two eval docs, one fact
    assert (t[t.kind == "frequent"].timing == "frequent").all()


def test_forgetting_curve_falls_with_steps_since_last_seen(dependent):
    _, res = dependent
    f = res.tables["forgetting"]
    rare = f[(f.kind == "rare") & (f.n >= 20)].sort_values("steps_since_mid")
    assert rare.recall.iloc[0] > 0.6 and rare.recall.iloc[-1] < 0.3


def test_no_dependence_gives_no_effect():
    res = fact_timing(_store(tau=None), n_boot=100)
    paired = res.summary["within_fact_late_minus_early"]
    assert paired.low < 0 < paired.high and abs(paired.value) < 0.15
    assert not res.summary["significant"]
    assert "no clear dependence" in res.verdict


def test_missing_inputs_skip_with_a_reason():
    ds = _store(tau=200.0)
    no_seen = ds.copy()
    no_seen.attrs = {k: v for k, v in ds.attrs.items() if k != "seen"}
    with pytest.raises(Skip, match="no `seen` attribute"):
        fact_timing(no_seen, n_boot=10)
    canaries_only = ds.isel(item=np.flatnonzero(ds["item_probe"].values != "fact_rare"))
    canaries_only = canaries_only.isel(
        item=np.flatnonzero(canaries_only["item_probe"].values != "fact_frequent"))
    with pytest.raises(Skip, match="no fact items"):
        fact_timing(canaries_only, n_boot=10)
    nobody = ds.copy()
    nobody.attrs["seen"] = json.dumps({"other-run": {"fact:e0:city": [5]}})
    with pytest.raises(Skip, match="seen"):
        fact_timing(nobody, n_boot=10)
    bare = ds.drop_vars(["probe_item_correct", "probe_item_margin"])
    assert REGISTRY["fact_timing"].skip_reason(bare) == "the store has no probe_item_correct"

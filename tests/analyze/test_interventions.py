"""F (interventions): an effect that decays to 0 is "decayed", one that persists is "stuck", a
mix of the two is bimodal, a spread is not; the per-branch-step table; clean skips."""

import numpy as np
import pytest

from pathdep.analysis.data import Skip
from pathdep.analyze.interventions import classify, interventions
from pathdep.analyze.registry import REGISTRY

from .synthetic import intervention_store

STEPS = (20, 40, 60, 80, 100, 120)


@pytest.fixture(scope="module")
def mixed():
    """Branches at 20–60 keep the whole effect, branches at 80–120 lose all of it."""
    ds = intervention_store(STEPS, retained=np.array([1, 1, 1, 0, 0, 0.0])[:, None])
    return ds, interventions(ds, n_boot=100)


def test_decayed_and_stuck_per_run(mixed):
    _, res = mixed
    t = res.tables["per_run"].set_index("run")
    assert len(t) == 12 and (t.measured_on == "iv:canary").all() and t.window_from_spec.all()
    for b in STEPS:
        for d in (0, 1):
            row = t.loc[f"b-at{b}-data{d}-canary"]
            assert row.control == f"b-at{b}-data{d}" and row.end_step == b + 10
            assert row.peak == pytest.approx(3.0, abs=0.15)
            if b <= 60:
                assert row.label == "stuck" and row.retained > 0.9
            else:
                assert row.label == "decayed" and abs(row.retained) < 0.1
    assert (t.noise_floor < 0.2).all() and res.summary["noise_floor_pairs"] == 6
    stuck = t.loc["b-at20-data0-canary"]
    assert stuck.final_accuracy_effect > 0.5  # expit(-0.4 + 3) - expit(-0.4)
    assert stuck.final_battery_abs_margin == pytest.approx(0.3, abs=0.05)
    assert stuck.final_loss_delta == pytest.approx(0.03, abs=0.01)
    curve = res.tables["effects"]
    assert set(curve.run) == set(t.index) and (curve.step >= curve.branch_step).all()


def test_a_mix_is_bimodal_and_the_branch_step_table(mixed):
    _, res = mixed
    assert res.summary["bimodality"]["label"] == "clustered"
    assert "bimodal, as seed 001's concept D predicts" in res.verdict
    # ... but here the modes are the early and the late branch steps, and the verdict says so
    assert res.summary["bimodality"]["eta2_branch_step"] > 0.9
    assert "follow when the intervention came" in res.verdict
    by = res.tables["by_branch_step"]
    assert by.branch_step.tolist() == list(STEPS) and (by.n == 2).all()
    assert by.share_stuck.tolist() == [1, 1, 1, 0, 0, 0] and by.n_stuck.sum() == 6
    assert np.allclose(by.mean_retained, [1, 1, 1, 0, 0, 0], atol=0.05)
    share = res.summary["share_stuck"]
    assert share.value == 0.5 and share.low < 0.5 < share.high
    assert "20: 100%" in res.verdict and "120: 0%" in res.verdict
    assert set(res.figures) == {"effect_over_steps", "retained_vs_branch_step"}
    assert len(res.figures["effect_over_steps"].data) == 12


def test_a_spread_of_retained_fractions_is_not_bimodal():
    q = np.linspace(0, 1, 12).reshape(6, 2)
    res = interventions(intervention_store(STEPS, retained=q), n_boot=50)
    t = res.tables["per_run"]
    assert res.summary["bimodality"]["label"] != "clustered"
    assert (t.label == np.where(q.ravel() >= 0.5, "stuck", "decayed")).all()  # rows: q's order


def test_no_effect_and_fixed_floor_without_control_pairs():
    ds = intervention_store((20, 40), retained=1.0, data_seeds=(0,), peak=0.05)
    res = interventions(ds, n_boot=20, noise_floor=0.3)
    assert (res.tables["per_run"].label == "no effect").all()
    assert res.summary["noise_floor_pairs"] == 0 and "fixed noise floor of 0.3" in res.verdict
    assert "too few runs with an effect (0)" in res.verdict
    assert classify(3.0, 1.4, 0.1, 0.5) == "decayed" and classify(3.0, 1.6, 0.1, 0.5) == "stuck"
    assert classify(3.0, 1.6, 2.0, 0.5) == "decayed" and classify(-2.0, -1.9, 0.1, 0.5) == "stuck"


def test_grid_runs_are_matched_on_their_other_factors():
    ds = intervention_store((20,), retained=1.0).isel(run=slice(1, None))
    ds = ds.drop_vars(["factor_parent", "factor_branch_step"])
    res = interventions(ds, n_boot=20)
    t = res.tables["per_run"].set_index("run")
    assert t.control.to_dict() == {"b-at20-data0-canary": "b-at20-data0",
                                   "b-at20-data1-canary": "b-at20-data1"}
    assert (t.label == "stuck").all() and res.tables["by_branch_step"].branch_step.tolist() == [-1]


def test_missing_inputs_skip_with_a_reason():
    ds = intervention_store((20, 40), retained=1.0)
    with pytest.raises(Skip, match="no factor_intervention"):
        interventions(ds.drop_vars("factor_intervention"), n_boot=10)
    ivs = np.flatnonzero(ds["factor_intervention"].values != "none")
    with pytest.raises(Skip, match="no control"):
        interventions(ds.isel(run=ivs), n_boot=10)
    ctrl = ds.isel(run=np.flatnonzero(ds["factor_intervention"].values == "none"))
    with pytest.raises(Skip, match="no run has an intervention"):
        interventions(ctrl, n_boot=10)
    bare = ds.drop_vars("behavior_margin")
    assert REGISTRY["interventions"].skip_reason(bare) == "the store has no behavior_margin"

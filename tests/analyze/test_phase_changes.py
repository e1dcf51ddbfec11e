"""Phase changes: planted change points found within one checkpoint; coincidence decided right."""

import numpy as np

from pathdep.analysis import circuits
from pathdep.analyze.phase_changes import change_points, main_change, phase_changes

from .synthetic import add_heads, base


def test_change_points_of_a_noisy_step_function():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(15), np.ones(10) * 0.5, np.ones(15) * 0.2] + rng.normal(0, 0.03, 40)
    cps = change_points(y)
    assert len(cps) == 2 and abs(cps[0] - 15) <= 1 and abs(cps[1] - 25) <= 1
    assert main_change(y)[0] == cps[0]
    assert change_points(rng.normal(0, 0.03, 40)) == []


def test_induction_formation_and_icl_jump_per_run():
    ds = base(n_runs=6, n_steps=16)
    formation = np.array([6, 7, 8, 9, 7, 8])
    ds, _ = add_heads(ds, formation=formation, icl_offset=0)
    res = phase_changes(ds, n_boot=100)
    per_run = res.tables["per_run"]
    st = ds["step"].values
    found = np.searchsorted(st, per_run.induction_step.to_numpy())
    assert np.all(np.abs(found - formation) <= 1)
    assert np.all(np.abs(np.searchsorted(st, per_run.icl_jump_step.to_numpy()) - formation) <= 1)
    s = res.summary
    assert s["coincide"] and not s["differ"]
    assert s["induction_step"].low <= np.median(st[formation]) <= s["induction_step"].high
    assert s["induction_spread"].value > 0 and "coincide" in res.verdict
    assert "6 of 6 runs" in res.verdict
    assert per_run["icl_within_one_checkpoint"].tolist() == [True] * 6
    assert "in 6 of the 6 run(s) showing both, the ICL jump is dated within one checkpoint" \
        in res.verdict


def test_an_icl_jump_well_after_formation_is_told_apart():
    ds = base(n_runs=6, n_steps=16)
    ds, _ = add_heads(ds, formation=np.array([4, 5, 6, 5, 4, 6]), icl_offset=4)
    res = phase_changes(ds, n_boot=100)
    s = res.summary
    assert s["differ"] and not s["coincide"]
    assert res.tables["per_run"]["icl_within_one_checkpoint"].tolist() == [False] * 6
    assert s["n_coincide_runs"] == 0 and "in 0 of the 6 run(s)" in res.verdict
    assert 1.0 < s["difference_log10"].value < 1.5  # 4 doublings = 1.2 decades


def test_a_small_change_in_weak_heads_is_not_called_formation():
    """Change points exist in any noisy curve; without heads that actually do
    prefix matching (circuits.THRESHOLD, 0.4) or an ICL drop of >= 0.1 nats, nothing formed."""
    ds = base(n_runs=6, n_steps=16)
    ds, _ = add_heads(ds, formation=np.array([6, 7, 8, 9, 7, 8]), icl_offset=0)
    ds["head_score"].loc[{"kind": "induction"}] = ds["head_score"].sel(kind="induction") * 0.05
    ds["icl_score"] = -0.05 + (ds["icl_score"] + 0.05) * 0.1  # a 0.035-nat dip
    res = phase_changes(ds, n_boot=50)
    assert "induction_step" not in res.summary and "icl_jump_step" not in res.summary
    assert res.verdict.startswith("No run formed induction heads")
    assert np.isnan(res.tables["per_run"].induction_step).all()


def test_previous_token_heads_are_dated_too():
    ds, _ = add_heads(base(n_runs=4, n_steps=16), formation=np.array([8, 9, 8, 9]), prev_at=4)
    res = phase_changes(ds, n_boot=50)
    st = ds["step"].values
    found = np.searchsorted(st, res.tables["per_run"].previous_token_step.to_numpy())
    assert np.all(np.abs(found - 4) <= 1)
    assert "previous-token heads in 4 of 4 runs" in res.verdict


def test_a_prefix_matching_head_that_does_not_copy_is_not_an_induction_head():
    """Olsson et al.'s second condition: the rising head's copying score is negative
    (an anti-copying head), so no induction head forms although its score reaches 0.7."""
    ds, _ = add_heads(base(n_runs=4, n_steps=16), formation=np.array([6, 7, 8, 9]))
    ds["head_score"].loc[{"kind": "copying", "layer_h": 1, "head": 2}] = -0.5
    res = phase_changes(ds, n_boot=50)
    assert np.isnan(res.tables["per_run"].induction_step).all()
    assert res.verdict.startswith("No run formed induction heads")
    assert circuits.describe("induction") in res.verdict


def test_formation_is_counted_per_level_of_a_model_factor():
    """Runs whose heads never form (here: the 'gpt2' level, heads zeroed) are counted per
    level, so a verdict over mixed architectures says which formed."""
    ds = base(n_runs=6, n_steps=16, factors={"seed": [0, 1, 2, 0, 1, 2],
                                             "arch": ["gpt_neox"] * 3 + ["gpt2"] * 3})
    ds, _ = add_heads(ds, formation=np.array([6, 7, 8, 6, 7, 8]), icl_offset=0)
    ds["head_score"].loc[{"run": ["run3", "run4", "run5"]}] = 0.05
    res = phase_changes(ds, n_boot=50)
    by = res.tables["formed_by_factor"].set_index("level")
    assert by.loc["gpt_neox", ["runs", "formed"]].tolist() == [3, 3]
    assert by.loc["gpt2", ["runs", "formed"]].tolist() == [3, 0]
    assert "3 of 6 runs (arch gpt2: 0 of 3, gpt_neox: 3 of 3)" in res.verdict


def test_formed_means_what_circuit_survival_means():
    """Issue 13 item 4: one definition of formed. Run 0's previous-token head climbs slowly
    (0.1 -> 0.7 over 12 checkpoints: no change point qualifies, but it holds the role for many
    checkpoints), run 1's crosses 0.4 at one checkpoint only (noise); phase changes must count
    run 0 as formed and run 1 not, as circuit survival does."""
    from pathdep.analyze.circuit_survival import circuit_survival

    ds, _ = add_heads(base(n_runs=4, n_steps=16), formation=np.array([8, 9, 8, 9]), prev_at=4)
    kind = list(ds["kind"].values).index("previous_token")
    hs = ds["head_score"].values.copy()
    hs[:2, :, 0, 1, kind] = 0.05
    hs[0, :, 0, 1, kind] = np.r_[np.full(4, 0.1), np.linspace(0.15, 0.7, 12)]
    hs[1, 9, 0, 1, kind] = 0.6
    ds["head_score"] = (ds["head_score"].dims, hs)
    res = phase_changes(ds, n_boot=50)
    steps = res.tables["per_run"].previous_token_step.to_numpy()
    assert np.isfinite(steps[0]) and np.isnan(steps[1]) and np.isfinite(steps[2:]).all()
    surv = circuit_survival(ds, n_boot=50).tables["fates"]
    prev = surv[surv.role == "previous_token"].set_index("run")
    formed = prev["first_step"].notna().to_numpy()
    assert formed.tolist() == np.isfinite(steps).tolist() == [True, False, True, True]
    # a ramp is dated at its largest qualifying rise, never before the role is held
    assert steps[0] >= prev.loc["run0", "first_step"]
    assert "previous-token heads in 3 of 4 runs" in res.verdict


def test_no_change_point_at_all_still_dates_formed_runs():
    """A signal without any change point (an empty table) must not break the dating."""
    import pandas as pd

    from pathdep.analyze.phase_changes import _event_steps

    empty = pd.DataFrame(columns=["run", "signal", "step", "before", "after", "jump", "main"])
    got = _event_steps(empty, "heads:previous_token_head", ["a", "b"], np.array([40.0, np.nan]))
    assert got[0] == 40.0 and np.isnan(got[1])

"""The llc analysis: checkpoint choice, stage cuts, their timing across runs, the induction
line-up, the verdict's wording and numbers, and a run on a tiny trained suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pathdep.analysis import circuits
from pathdep.analysis import llc_stages as st
from pathdep.analysis.result import fmt
from pathdep.analyze import llc_report as rep
from pathdep.analyze.llc import LLCOptions, _induction, formation

from . import synthetic
from .verdict_numbers import unbacked

DEMO_STEPS = [0, 1, 2, 4, 7, 13, 25, 48, 91, 174, 331, 630, 1200]


def test_checkpoints_are_subsampled_log_spaced_keeping_the_ends():
    assert st.subsample(DEMO_STEPS, 6) == [0, 4, 13, 91, 331, 1200]  # log10(step + 1)
    assert st.subsample(DEMO_STEPS, 0) == DEMO_STEPS and st.subsample([5, 9], 6) == [5, 9]
    picked = st.subsample(list(range(0, 1001, 10)), 5)  # linear steps: denser at the start
    assert picked[0] == 0 and picked[-1] == 1000 and picked[1] < 100 < picked[3]


def test_stages_cut_at_changes_of_slope_and_plateaus():
    steps = [0, 10, 20, 40, 80, 160]
    cut = st.stages(steps, [0, 50, 100, 101, 100.5, 160], [1] * 6, plateau=0.1)
    assert cut.kinds == ["rise", "rise", "plateau", "plateau", "rise"]
    assert cut.pattern == "rise→plateau→rise" and cut.boundaries == [20, 80]
    falls = st.stages(steps[:4], [0, 100, 40, 40], [0] * 4)
    assert falls.pattern == "rise→fall→plateau" and falls.boundaries == [10, 20]
    assert st.stages([5], [1.0], [0.1]).pattern == st.FEW


def test_a_change_within_the_chains_noise_is_a_plateau():
    y = [10, 30, 32, 31]
    assert st.stages([1, 2, 3, 4], y, [0.1] * 4, plateau=0.0).pattern == "rise→fall"
    assert st.stages([1, 2, 3, 4], y, [0.1, 0.1, 5, 5], plateau=0.0).pattern == "rise→plateau"


def test_boundary_timing_has_an_interval_from_three_runs_and_cannot_tell_below():
    t = st.timing({"a": [40, 400], "b": [50], "c": [60, 500], "d": [45]}, n_boot=200)
    first, second = t.iloc[0], t.iloc[1]
    assert first["n_runs"] == 4 and first["step_low"] <= first["step"] <= first["step_high"]
    assert first["step"] == pytest.approx(10 ** np.mean(np.log10([40, 50, 60, 45])))
    assert first["step_low"] >= 40 and first["step_high"] <= 60
    assert second["n_runs"] == 2 and np.isnan(second["step"]) and "2 run(s)" in second["cannot_tell"]


def test_induction_formation_comes_from_the_store_and_lines_up_with_the_nearest_boundary():
    ds = synthetic.base(n_runs=3, n_steps=10)
    ds, _ = synthetic.add_heads(ds, np.array([4, 6, 99]))  # run2 never forms one
    steps = synthetic.log_steps(10)
    formed, why = formation(ds, ["run0", "run1", "run2", "elsewhere"])
    assert why == "" and formed == {"run0": int(steps[4]), "run1": int(steps[6]), "run2": None}
    best = circuits.strongest(ds, "induction")
    assert best[0, 4] >= circuits.THRESHOLD["induction"] > np.nanmax(best[0, :4])
    stages = pd.DataFrame({"run": ["run0", "run1", "run2"], "boundaries": ["4 64", "", "8"]})
    lined = _induction(formed, stages).set_index("run")
    assert lined.loc["run0", "nearest_boundary"] == 4  # step 8 is 0.30 decades from 4
    assert lined.loc["run0", "gap_decades"] == pytest.approx(np.log10(4 / 8))
    assert pd.isna(lined.loc["run1", "nearest_boundary"]) and pd.isna(lined.loc["run2",
                                                                                "formed_step"])
    assert formation(synthetic.base(n_runs=2), ["run0"])[1] == "the store has no head scores"


def _tables(n_runs: int, formed: dict, diverged_at: int | None = None, n_boot: int = 50):
    runs = [f"r{i}" for i in range(n_runs)]
    rows = [{"run": r, "step": s, "llc_mean": 10.0 + 5 * j + i, "llc_sd": 0.5, "n_chains": 2,
             "n_diverged": int(diverged_at == j and i == 0), "init_loss": 3.0, "diverged": ""}
            for i, r in enumerate(runs) for j, s in enumerate([0, 10, 100, 1000])]
    df = pd.DataFrame(rows)
    stages = pd.DataFrame({"run": runs, "pattern": ["rise→plateau"] * n_runs,
                           "boundaries": [str(100 + 10 * i) for i in range(n_runs)],
                           "n_boundaries": 1, "n_checkpoints": 4})
    timing = st.timing({r: [100 + 10 * i] for i, r in enumerate(runs)}, n_boot=n_boot)
    return df, stages, timing, _induction(formed, stages)


@pytest.mark.parametrize("case", ["none formed", "formed", "two runs", "no head scores",
                                  "no bootstrap"])
def test_the_verdict_says_each_part_or_why_not_and_its_numbers_are_its_tables(case):
    o = LLCOptions(n_boot=0 if case == "no bootstrap" else 50)
    n = 2 if case == "two runs" else 4
    formed = {"r0": 90, "r1": 130, "r2": None, "r3": None} if case == "formed" else (
        {f"r{i}": None for i in range(n)})
    why = "the store has no head scores" if case == "no head scores" else ""
    df, stages, timing, induction = _tables(n, {} if why else formed, diverged_at=2,
                                            n_boot=o.n_boot)
    s = rep.summary(df, stages, timing, induction, o, why)
    v = rep.verdict(s)
    assert "nan" not in v.lower() and v.endswith(".")
    assert f"1 of {n * 4 * 2} SGLD chains diverged (at r0@100" in v
    tables = {"llc": df, "stages": stages, "timing": timing, "induction": induction}
    assert unbacked(v, s, tables) == [], v
    if case == "none formed":
        assert "no run formed induction heads" in v and f"{n} of {n} runs share" in v
    elif case == "formed":
        assert "induction heads formed in 2 run(s)" in v
        assert s["median_gap_decades"] == pytest.approx(np.median(np.log10([100 / 90,
                                                                            110 / 130])))
    elif case == "two runs":
        assert "cannot tell (at least 3 needed)" in v and "first stage boundary" not in v
    elif case == "no head scores":
        assert "not lined up with induction heads: the store has no head scores" in v
    else:  # no intervals: the values alone
        assert f"falls at step {fmt(s['first_boundary'].value)} (" in v



@pytest.fixture(scope="module")
def tiny_suite(tmp_path_factory):
    """Three tiny Markov runs (4 checkpoints each), measured."""
    pytest.importorskip("devinterp")
    from pathdep.measure import measure
    from pathdep.spec import parse_spec
    from pathdep.train import train
    from tests.conftest import tiny_spec_dict

    root = tmp_path_factory.mktemp("llc") / "suite"
    suite = train(parse_spec(tiny_spec_dict(grid={"seed": [0, 1, 2], "data_seed": [0]})), root)
    measure(suite, out=root / "measurements.zarr")
    return suite


def test_on_a_trained_suite_each_chosen_checkpoint_is_estimated_and_stated(tiny_suite):
    from pathdep.analyze.llc import llc

    res = llc(tiny_suite, None, max_checkpoints=3, draws=6, n_boot=20)
    df, traces = res.tables["llc"], res.tables["traces"]
    want = {(r.id, s) for r in tiny_suite.runs for s in st.subsample(r.steps, 3)}
    assert set(zip(df["run"], df["step"], strict=True)) == want and len(df) == len(want)
    assert len(traces) == len(df) * 2 * 6 and np.isfinite(df["llc_mean"]).all()
    k = res.summary["n_chains_diverged"]
    assert k == df["n_diverged"].sum() and ("none of the" in res.verdict) == (k == 0)
    assert unbacked(res.verdict, res.summary, res.tables) == [], res.verdict
    assert set(res.figures) == {"llc_curves", "sgld_traces"}
    from pathdep.measure.weights import STATS, weight_stats
    from pathdep.models import load_model

    w = res.tables["weights"]
    assert set(zip(w["run"], w["step"], strict=True)) == want
    run = tiny_suite.runs[1]
    row = w[(w["run"] == run.id)].iloc[-1]
    direct = weight_stats(load_model(run, run.checkpoint(int(row["step"]))))
    assert row[list(STATS)].astype(float).to_dict() == pytest.approx(direct)


def test_chains_that_blow_up_are_flagged_left_out_and_named(tiny_suite):
    from pathdep.analyze.llc import llc

    res = llc(tiny_suite, None, max_checkpoints=2, max_runs=1, draws=8, lr=5.0, n_boot=20)
    df = res.tables["llc"]
    assert (df["n_diverged"] > 0).all() and df["diverged"].str.contains("chain").all()
    assert res.summary["n_chains_diverged"] == df["n_diverged"].sum() > 0
    assert "diverged (at " in res.verdict and "nan" not in res.verdict.lower()

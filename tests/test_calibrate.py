"""The calibration harness: every simulated verdict runs on its null and planted suites, the rates
and their intervals are right, and (slow tier) every verdict holds its false-positive rate."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pathdep.analysis.bimodality import bimodality, sigclust_p
from pathdep.analyze.registry import ANALYSES
from pathdep.calibrate import MAX_FPR, Rate, calibrate, calibrate_one, calibrated
from pathdep.cli import app

CALIBRATED = [a.name for a in calibrated()]


def test_wilson_interval_matches_the_textbook_values():
    # Brown, Cai & DasGupta (2001): 0 of 20 -> [0, 0.161]; 5 of 20 -> [0.112, 0.469]
    r0, r5 = Rate.of(0, 20), Rate.of(5, 20)
    assert r0.value == 0 and r0.low == 0 and r0.high == pytest.approx(0.161, abs=1e-3)
    assert (r5.low, r5.high) == pytest.approx((0.112, 0.469), abs=1e-3)


def test_sigclust_holds_its_level_on_one_gaussian_and_finds_two_separated_groups():
    rng = np.random.default_rng(0)
    null = [sigclust_p(rng.normal(size=8), seed=i, n_null=1000) < 0.05 for i in range(200)]
    assert np.mean(null) <= 0.09  # 5 % level; 0.09 is its binomial upper tail at 200 draws
    two = np.r_[rng.normal(-4, 1, 8), rng.normal(4, 1, 8)]
    b = bimodality(two)
    assert b["sigclust_p"] < 0.01 and b["label"] == "clustered" and b["smaller_group"] == 8
    one_out = np.r_[rng.normal(0, 1, 15), 30.0]  # one outlying run is not a cluster
    assert bimodality(one_out)["label"] != "clustered"


@pytest.mark.parametrize("name", CALIBRATED)
def test_every_simulation_runs_on_null_and_planted_suites(name):
    entry = next(a for a in ANALYSES if a.name == name)
    sim = entry.simulation
    assert sim.effect
    row = calibrate_one(entry, n_runs=6, reps=2, seed=1)
    assert row.skipped == 0 and row.false_positive.n == 2 and row.power.n == 2


def test_every_analysis_that_states_a_claim_is_calibrated():
    # cka and loss_pca state measured values, not claims (docs/calibration.md); the analyses
    # that load checkpoints are calibrated on simulated per-checkpoint numbers (Simulation.run)
    assert {"clusters", "phase_changes", "training_maps", "learning_curves", "general_factor",
            "agreement", "convergence", "run_variance", "factor_variance", "circuit_survival",
            "fact_timing", "interventions", "predictiveness", "markov_algorithms", "basins",
            "llc", "instability", "rl_paths", "forking_tokens", "prompt_dependence",
            "abrupt_behaviors"
            } <= set(CALIBRATED)
    assert {a.name for a in ANALYSES if a.simulation is None} == {"cka", "loss_pca"}


def test_a_withdrawn_claim_is_never_made():
    row = calibrate(["predictiveness"], sizes=[8], reps=2)[0]
    assert row.false_positive.k == 0 and row.power.k == 0


def test_a_planted_timing_difference_is_found_and_none_is_claimed_on_the_null():
    row = calibrate(["phase_changes"], sizes=[8], reps=3)[0]
    assert row.power.k == 3 and row.false_positive.k == 0


def test_the_command_prints_json_and_refuses_an_uncalibrated_analysis(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cal.json"
    r = runner.invoke(app, ["calibrate", "--analysis", "phase_changes", "--runs", "4",
                            "--reps", "2", "--json", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert rows[0]["analysis"] == "phase_changes" and rows[0]["n_runs"] == 4
    assert rows[0]["power"]["n"] == 2
    uncal = next(a.name for a in ANALYSES if a.simulation is None)
    r = runner.invoke(app, ["calibrate", "--analysis", uncal, "--reps", "1"])
    assert r.exit_code == 2 and "declares no simulation" in r.output


@pytest.mark.slow
@pytest.mark.parametrize("name", CALIBRATED)
def test_false_positive_rate_at_8_runs_is_at_most_the_standard(name):
    row = calibrate([name], sizes=[8], reps=100, seed=7)[0]
    assert row.false_positive.value <= MAX_FPR, row


def test_the_command_calibrates_an_analysis_that_loads_checkpoints(tmp_path):
    out = tmp_path / "cal.json"
    r = CliRunner().invoke(app, ["calibrate", "--analysis", "basins", "--runs", "4", "--reps",
                                 "3", "--json", "-o", str(out)])
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())[0]
    assert row["analysis"] == "basins" and row["power"]["k"] == 3 and row["skipped"] == 0

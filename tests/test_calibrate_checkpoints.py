"""Known answers for the calibrations of the analyses that load checkpoints (issue 14): their
decisions, fed simulated per-checkpoint numbers, find a large planted effect and mostly claim
nothing on the null."""

import numpy as np

from pathdep.analysis.simulate_checkpoints import markov_kl_table
from pathdep.analyze import markov_algorithms as mk


def test_markov_dominance_is_claimed_for_a_clearly_nearer_algorithm_and_not_for_a_tie(
        monkeypatch):
    monkeypatch.setattr("pathdep.analysis.simulate_checkpoints.MARKOV_EFFECT", 0.4)
    planted = [mk.from_table(markov_kl_table(8, s, True), figures=False) for s in range(20)]
    assert all(r.summary["dominant_across_runs_train"] == "uni_inf" for r in planted)
    null = [mk.from_table(markov_kl_table(8, s, False), figures=False) for s in range(40)]
    assert np.mean([mk.SIMULATION.claims(r) for r in null]) <= 0.1
    # the per-run nearest algorithm (the old verdict) names one in every null suite
    assert all(r.summary["dominant_train"] for r in null)


def test_llc_stages_are_found_on_a_planted_plateau_and_not_on_a_steady_rise():
    from pathdep.analysis.simulate_checkpoints import llc_estimates
    from pathdep.analyze import llc

    o = llc.LLCOptions.build(n_boot=50)
    planted = [llc.decide(llc_estimates(6, s, True), o, {}, "simulated", figures=False)
               for s in range(10)]
    patterns = np.concatenate([r.tables["stages"]["pattern"].to_numpy() for r in planted])
    assert np.mean(patterns == "rise→plateau→rise") >= 0.9  # runs differ by 3 % at a checkpoint
    for r in planted:
        assert round(r.summary["first_boundary"].value) == 25 and llc.claims_stages(r)
    null = [llc.decide(llc_estimates(6, s, False), o, {}, "simulated", figures=False)
            for s in range(30)]
    assert np.mean([llc.claims_stages(r) for r in null]) <= 0.1
    assert all("no run's curve has a stage boundary" in r.verdict for r in null[:5])


def test_basins_split_runs_behind_a_barrier_and_keep_one_basin_without_one():
    from pathdep.analysis.simulate_checkpoints import barrier_matrix
    from pathdep.lmc.basins_report import from_matrix
    from pathdep.lmc.options import BasinsOptions

    o = BasinsOptions.build()
    for s in range(10):
        res = from_matrix(*barrier_matrix(8, s, True), o)
        basin = res.tables["assignments"]["basin"].to_numpy()
        assert res.summary["n_basins"] == 2 and len(set(basin[:4])) == len(set(basin[4:])) == 1
        assert basin[0] != basin[4]
    null = [from_matrix(*barrier_matrix(8, s, False), o) for s in range(30)]
    assert np.mean([r.summary["n_basins"] > 1 for r in null]) <= 0.1


def test_instability_finds_the_stable_step_and_rarely_calls_a_step_at_the_threshold_stable():
    from pathdep.analysis.simulate_checkpoints import branch_barriers
    from pathdep.lmc.instability import from_pairs
    from pathdep.lmc.options import InstabilityOptions

    o = InstabilityOptions.build(n_boot=200)
    for s in range(5):
        res = from_pairs(branch_barriers(6, s, True), o, figures=False)
        assert res.summary["stability_step"] == 600
        assert res.tables["by_step"].set_index("branch_step").loc[100, "decision"] == "unstable"
    null = [from_pairs(branch_barriers(6, s, False), o, figures=False) for s in range(40)]
    assert np.mean([r.summary["stability_step"] is not None for r in null]) <= 0.15


def test_rl_paths_finds_a_wider_rl_spread_and_rarely_claims_one_at_equal_spreads(monkeypatch):
    from pathdep.analysis.simulate_checkpoints import rl_shares
    from pathdep.rl import analysis as rl

    monkeypatch.setattr("pathdep.analysis.simulate_checkpoints.RL_SPREAD", 5.0)
    planted = [rl.decide(*rl_shares(12, s, True), n_boot=200, seed=0, figures=False)
               for s in range(10)]
    assert sum(rl.claims_more(r) for r in planted) >= 9
    assert all("RL fine-tuning is more path-dependent" in r.verdict
               for r in planted if rl.claims_more(r))
    null = [rl.decide(*rl_shares(8, s, False), n_boot=200, seed=0, figures=False)
            for s in range(40)]
    assert np.mean([rl.claims_more(r) for r in null]) <= 0.15


def test_rl_paths_says_a_small_suite_cannot_tell_instead_of_reading_as_absence():
    from pathdep.analysis import power
    from pathdep.analysis.simulate_checkpoints import rl_shares
    from pathdep.rl import analysis as rl

    assert power.at("rl_paths", 4).power < power.ENOUGH <= power.at("rl_paths", 16).power
    small = rl.decide(*rl_shares(4, 3, False), n_boot=100, seed=0, figures=False)
    assert not rl.claims_more(small) and "this suite cannot tell" in small.verdict
    big = rl.decide(*rl_shares(16, 3, False), n_boot=100, seed=0, figures=False)
    assert not rl.claims_more(big) and "cannot tell" not in big.verdict

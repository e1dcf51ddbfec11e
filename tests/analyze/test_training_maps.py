"""Training maps: runs sampled from a known 3-state HMM are recovered, detour runs named.

The planted suite: 8 runs from a left-to-right HMM 0 -> 1 -> 2 (each run's state
sequence sampled from its transition matrix, kept when it reaches state 2), and
two detour runs with given sequences, 0 -> 1 -> 0 -> 2 and 0 -> 2. Each state
emits 4 metrics (loss, icl_score, two behaviour probes) with Gaussian noise;
a fifth probe is constant and must be dropped.
"""

import numpy as np
import pytest

from pathdep.analysis import latent_states as ls
from pathdep.analyze.training_maps import training_maps

from .synthetic import base

N_STEPS = 13
MEANS = np.array([[5.0, -0.05, 0.1, 0.1],   # state 0: untrained
                  [3.5, -0.30, 0.5, 0.2],   # state 1
                  [2.5, -0.40, 0.9, 0.8]])  # state 2: trained
NOISE = np.array([0.1, 0.03, 0.05, 0.05])
LEFT_TO_RIGHT = np.array([[0.7, 0.3, 0.0], [0.0, 0.75, 0.25], [0.0, 0.0, 1.0]])
DETOURS = {"run8": [0, 0, 0, 1, 1, 1, 0, 0, 2, 2, 2, 2, 2],   # returns to 0
           "run9": [0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2]}   # skips 1


def _sample_path(rng, A: np.ndarray) -> list[int]:
    while True:
        seq = [0]
        for _ in range(N_STEPS - 1):
            seq.append(int(rng.choice(3, p=A[seq[-1]])))
        if seq[-1] == 2:
            return seq


def _store(seqs: np.ndarray, seed: int = 0, means=MEANS):
    """A store whose (run, step) cell emits ``means[seqs[run, step]]`` plus noise."""
    rng = np.random.default_rng(seed)
    ds = base(n_runs=len(seqs), n_steps=N_STEPS, seed=seed)
    y = means[seqs] + rng.normal(0, 1, (*seqs.shape, means.shape[1])) * NOISE
    behavior = np.concatenate([y[..., 2:], np.full((*seqs.shape, 1), 0.5)], -1)
    ds = ds.assign(loss=(("run", "step"), y[..., 0].astype(np.float32)),
                   icl_score=(("run", "step"), y[..., 1].astype(np.float32)),
                   behavior=(("run", "step", "probe"), behavior.astype(np.float32)))
    return ds.assign_coords(probe=["facts", "brackets", "constant"])


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(1)
    seqs = [_sample_path(rng, LEFT_TO_RIGHT) for _ in range(8)] + list(DETOURS.values())
    seqs = np.array(seqs)
    return _store(seqs), seqs


def test_the_planted_hmm_is_recovered_and_the_detour_runs_named(planted):
    ds, seqs = planted
    res = training_maps(ds)
    s = res.summary
    assert s["n_states"] == 3
    sel = res.tables["model_selection"].set_index("n_states")
    assert sel.loc[3, "chosen"] and sel["bic"].idxmin() == 3
    assert s["modal_path"] == "0→1→2" and s["n_follow"] == 8 and s["n_runs"] == 10
    assert sorted(s["detour_runs"]) == ["run8", "run9"]
    paths = res.tables["paths"].set_index("run")
    assert paths.loc["run8", "path"] == "0→1→0→2" and paths.loc["run9", "path"] == "0→2"
    assert "returns to state 0" in paths.loc["run8", "detour"]
    assert "skips state 1" in paths.loc["run9", "detour"]
    decoded = res.tables["states"]["state"].to_numpy().reshape(seqs.shape)
    assert (decoded == seqs).mean() >= 0.97  # states numbered in the order runs reach them
    steps = ds["step"].values
    enter9 = steps[np.flatnonzero(np.diff(seqs[9])) + 1]
    assert paths.loc["run9", "transition_steps"] == " ".join(map(str, enter9))
    assert s["dropped_metrics"] == ["behavior:constant"]
    share = s["share_follow"]
    assert share.value == 0.8 and share.low < 0.8 < share.high < 1
    assert res.verdict.startswith("8 of 10 runs follow the modal path 0→1→2")
    assert "run8, run9 take detours" in res.verdict and f"{share}" in res.verdict
    assert res.figures["state_timeline"].data[0].z.shape == seqs.shape


def test_bic_counts_the_parameters_hmmlearn_counts(planted):
    """p = K^2 - 1 + 2Kd for diagonal covariances, as GaussianHMM.bic counts them."""
    ds, _ = planted
    from pathdep.analyze.training_maps import cells, choose_metrics, metric_table

    P = metric_table(ds)
    X, lengths, _ = cells(P, choose_metrics(P)[0])
    Z = ls.zscore(X, lengths)
    fit = ls.select(Z, lengths, k_max=4, restarts=2)
    row = fit.selection.set_index("n_states").loc[fit.k]
    assert row["n_params"] == fit.k**2 - 1 + 2 * fit.k * X.shape[1]
    assert np.isclose(row["bic"], fit.model.bic(Z, lengths))


def test_one_state_process_gives_one_state_and_claims_no_detour():
    seqs = np.zeros((10, N_STEPS), int)
    res = training_maps(_store(seqs, seed=3))
    assert res.summary["n_states"] == 1 and not res.summary["informative"]
    assert res.summary["detour_runs"] == [] and "uninformative" in res.verdict
    assert "detour" not in res.verdict.replace("claims no detours", "")


def test_two_runs_cannot_tell(planted):
    ds, _ = planted
    res = training_maps(ds.isel(run=[0, 8]))
    assert res.summary["n_states"] > 1 and not res.summary["informative"]
    assert "cannot tell" in res.verdict and res.summary["detour_runs"] == []


def test_the_state_count_never_exceeds_what_the_cells_bear():
    X = np.random.default_rng(0).normal(size=(12, 3))
    assert ls.k_cap(X, 6) == 1  # p(2) = 3 + 12 = 15 > 12 cells
    assert ls.k_cap(np.random.default_rng(0).normal(size=(200, 3)), 6) == 6


def test_paths_and_detours_in_words():
    assert ls.path(np.array([0, 0, 1, 1, 1, 2])) == (0, 1, 2)
    assert ls.modal([(0, 1, 2), (0, 2), (0, 1, 2)]) == ((0, 1, 2), 2)
    assert ls.detour((0, 1, 2), (0, 1, 2)) == ""
    assert ls.detour((0, 3, 2), (0, 1, 2)) == "visits state 3 and skips state 1"
    assert ls.detour((0, 2, 1), (0, 1, 2)) == "visits the same states in another order"


def test_a_run_without_two_measured_checkpoints_is_left_out_and_named(planted):
    ds, _ = planted
    ds = ds.copy(deep=True)
    ds["done"][9, 1:] = False  # run9 measured at step 0 only
    res = training_maps(ds)
    assert res.summary["runs_left_out"] == ["run9"] and res.summary["n_runs"] == 9
    assert "run9" not in set(res.tables["paths"]["run"]) and "left out: run9" in res.verdict
    assert res.summary["detour_runs"] == ["run8"]


def test_branch_runs_are_left_out_and_counted(store):
    """Branches start mid-training: their paths would begin in a later state."""
    from pathdep.analyze.training_maps import training_maps

    res = training_maps(store)
    parent = [str(p) for p in store["factor_parent"].values]
    branches = [str(r) for r, p in zip(store["run"].values, parent, strict=True) if p]
    assert branches and res.summary["branches_left_out"] == branches
    assert not set(branches) & set(res.tables["paths"]["run"])
    assert f"{len(branches)} branch runs left out" in res.verdict


def test_weight_statistics_are_metrics_and_their_detours_are_found(planted):
    """The planted states emitted only through the store's weight_stats: the same map."""
    from pathdep.store.schema import WSTATS

    ds, seqs = planted
    rng = np.random.default_rng(5)
    means = np.c_[MEANS, MEANS[:, :1] * 3]  # a fifth statistic, also state-dependent
    y = means[seqs] + rng.normal(0, 1, (*seqs.shape, 5)) * np.r_[NOISE, 0.3]
    w = ds.drop_vars(["loss", "icl_score", "behavior", "probe"]).assign(
        weight_stats=(("run", "step", "wstat"), y)).assign_coords(wstat=list(WSTATS))
    res = training_maps(w)
    used = res.tables["metrics"].set_index("metric")["used"]
    assert set(used.index) == {f"weights:{k}" for k in WSTATS} and used.all()
    assert res.summary["n_states"] == 3 and sorted(res.summary["detour_runs"]) == ["run8", "run9"]
    decoded = res.tables["states"]["state"].to_numpy().reshape(seqs.shape)
    assert (decoded == seqs).mean() >= 0.95


def test_weight_statistics_join_the_behaviour_and_loss_metrics(planted):
    from pathdep.analyze.training_maps import metric_table
    from pathdep.store.schema import WSTATS

    ds, seqs = planted
    y = np.random.default_rng(2).normal(size=(*seqs.shape, len(WSTATS)))
    both = ds.assign(weight_stats=(("run", "step", "wstat"), y)).assign_coords(wstat=list(WSTATS))
    P = metric_table(both)
    names = list(P["property"].values)
    assert "loss" in names and "behavior:facts" in names
    for j, k in enumerate(WSTATS):
        assert np.array_equal(P.sel(property=f"weights:{k}").transpose("run", "step").values,
                              y[..., j])
    assert list(P.sel(property=[f"weights:{k}" for k in WSTATS])["family"].values) == (
        ["weights"] * len(WSTATS))

"""Convergence: KL (exact and top-k lower bound) falls as planted; capabilities mid vs end."""

import numpy as np

from pathdep.analysis import distributions
from pathdep.analyze.convergence import convergence

from .synthetic import add_behavior, add_distributions, add_logprob, base


def test_kl_is_exact_for_the_full_vocabulary_and_a_lower_bound_for_top_k():
    full = add_distributions(base(n_runs=2), k=None)
    topk = add_distributions(base(n_runs=2), k=8)
    for si in (0, 5):
        (pa, ia), (pb, ib) = distributions.read(full, 0, si), distributions.read(full, 1, si)
        exact = distributions.kl(pa, ia, pb, ib)
        p = np.exp(pa)
        assert np.allclose(exact, (p * (pa - pb)).sum(1))
        (qa, ja), (qb, jb) = distributions.read(topk, 0, si), distributions.read(topk, 1, si)
        bound = distributions.kl(qa, ja, qb, jb)
        assert np.all(bound <= exact + 1e-9) and bound.mean() > 0


def test_kl_between_runs_falls_and_agreement_rises():
    ds = base(n_runs=3)
    add_logprob(ds, outlier_run=None)
    ds = add_distributions(ds, k=None)
    res = convergence(ds, n_boot=30)
    by = res.tables["by_step"]
    assert by.kl.iloc[0] > 1 and by.kl.iloc[-1] < 1e-6
    assert np.all(np.diff(by.kl) <= 1e-9)
    assert by.pearson.iloc[-1] > 0.95 > by.pearson.iloc[1]
    assert "kl_end" in res.summary


def test_capabilities_that_differ_mid_training_and_whether_they_converge():
    ds = base(n_runs=3, n_steps=12)
    add_logprob(ds, outlier_run=1)  # run1 loses bracket tokens at the end: never converges
    t = np.arange(12)
    late = np.where((np.arange(3) == 0)[:, None], (t >= 11) * 0.9, (t >= 4) * 0.9) + 0.05
    ds = add_behavior(ds, {"late": late})  # run0 lacks it until the last step, then has it
    caps = convergence(ds, n_boot=20).tables["capabilities"].set_index("capability")
    assert caps.loc["behavior:late", "differed_mid"] and caps.loc["behavior:late", "agree_end"]
    assert caps.loc["behavior:late", "lacks_mid"] == "run0"
    assert not caps.loc["tokens:bracket", "agree_end"]
    assert caps.loc["tokens:bracket", "lacks_end"] == "run1"


def test_token_persistence_is_read_against_its_chance_level():
    """Issue 14: unrelated mid and end disagreements 'resolve' 50 % of the time by chance;
    that must read as chance, and persisting disagreements must read as persisting."""
    from pathdep.analyze.convergence import CHANCE, _persistence_text, _token_convergence

    claims = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        mid, end = rng.normal(size=(8, 3000)), rng.normal(size=(8, 3000))
        tok = _token_convergence(mid, end, n_boot=200, seed=seed)
        claims += not (tok.low <= CHANCE <= tok.high)
        if seed == 0:
            assert "chance level" in _persistence_text(tok)
    assert claims <= 2  # at most 10 % of null suites claim persistence or resolution
    rng = np.random.default_rng(99)
    mid = rng.normal(size=(8, 3000))
    tok = _token_convergence(mid, mid + 0.3 * rng.normal(size=mid.shape), n_boot=200, seed=0)
    assert tok.high < CHANCE and "persist" in _persistence_text(tok)


def test_mid_training_is_never_the_end_step():
    """Branch runs that start mid-training left only the last step shared by every run, so
    'mid-training' was the end itself and disagreements 'persisted' trivially (demo store,
    December 2026). The grid runs are compared alone then; with no earlier shared step at
    all, nothing is compared or claimed."""
    from pathdep.analyze.convergence import _mid_end, convergence

    ds = base(n_runs=4, n_steps=6, n_seq=4, n_pos=16)
    add_logprob(ds, outlier_run=None)
    done = ds["done"].values.copy()
    done[2:, :5] = False  # runs 2 and 3 (branches) have only the last step
    ds["done"] = (("run", "step"), done)
    ds = ds.assign_coords(factor_parent=("run", ["", "", "r0", "r0"]))
    mid, end, rows, note = _mid_end(ds)
    assert mid < end and list(rows) == [0, 1] and "2 grid runs" in note
    res = convergence(ds, n_boot=20)
    assert res.summary["mid_step"] < res.summary["end_step"] and "2 grid runs" in res.verdict
    ds = ds.assign_coords(factor_parent=("run", ["", "r0", "r0", "r0"]))
    done[1:, :5] = False  # one grid run; no earlier step is done by every run
    done[1, 3] = True  # (step 4 is done by two runs, so the analysis still runs)
    ds["done"] = (("run", "step"), done)
    res = convergence(ds, n_boot=20)
    assert res.summary["mid_step"] == res.summary["end_step"]
    assert "not compared" in res.verdict and "persist" not in res.verdict
